//! Discovery and JWKS; ID tokens verified against the JWKS with an independent crate.

use openciam_testkit::TestApp;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClientId, IssuerUrl, Nonce};

const DEMO_GUID: &str = "de000000-0000-4000-8000-000000000001";

#[tokio::test]
async fn discovery_names_the_guid_issuer_for_every_path_form() {
    let app = TestApp::spawn().await;
    for segment in ["demo", "demo.onmicrosoft.com", DEMO_GUID] {
        let r = app
            .get(&format!(
                "{}/{segment}/v2.0/.well-known/openid-configuration",
                app.origin
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.str("issuer"), format!("{}/{DEMO_GUID}/v2.0", app.origin));
        assert_eq!(
            r.str("token_endpoint"),
            format!("{}/{DEMO_GUID}/oauth2/v2.0/token", app.origin)
        );
        let keys = app.get(r.str("jwks_uri")).await;
        assert_eq!(keys.status, 200);
        assert_eq!(keys.body["keys"][0]["kty"], "RSA");
        assert_eq!(keys.body["keys"][0]["alg"], "RS256");
    }
    let r = app
        .get(&format!(
            "{}/nope/v2.0/.well-known/openid-configuration",
            app.origin
        ))
        .await;
    r.assert_error("invalid_request", 90002);
}

#[tokio::test]
async fn id_tokens_verify_against_the_jwks_with_openidconnect() {
    let app = TestApp::spawn().await;
    app.create_user("vera@example.com", "Correct-Horse-9").await;
    let tokens = app.sign_in("vera@example.com", "Correct-Horse-9", "openid").await;
    let jwks_body = app
        .get(&format!("{}/demo/discovery/v2.0/keys", app.origin))
        .await
        .body;
    let jwks: CoreJsonWebKeySet = serde_json::from_value(jwks_body).unwrap();
    let issuer = IssuerUrl::new(format!("{}/{DEMO_GUID}/v2.0", app.origin)).unwrap();
    let verifier =
        CoreIdTokenVerifier::new_public_client(ClientId::new(openciam_testkit::demo_client()), issuer, jwks);
    let id_token: CoreIdToken = tokens.str("id_token").parse().unwrap();
    let claims = id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())).unwrap();
    assert_eq!(claims.preferred_username().unwrap().as_str(), "vera@example.com");
    // A tampered token fails verification.
    let t = tokens.str("id_token");
    let (head, rest) = t.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let forged_payload =
        base64_url(br#"{"iss":"https://evil.example/v2.0","aud":"y","sub":"z","exp":9999999999,"iat":1}"#);
    let forged: CoreIdToken = format!("{head}.{forged_payload}.{sig}").parse().unwrap();
    assert!(forged.claims(&verifier, |_: Option<&Nonce>| Ok(())).is_err());
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[tokio::test]
async fn keys_survive_a_restart() {
    let app = TestApp::spawn().await;
    app.create_user("kim@example.com", "Correct-Horse-9").await;
    let before = app
        .get(&format!("{}/demo/discovery/v2.0/keys", app.origin))
        .await
        .body;
    let again = app.restart(Default::default()).await;
    let after = again
        .get(&format!("{}/demo/discovery/v2.0/keys", again.origin))
        .await
        .body;
    assert_eq!(before["keys"][0]["kid"], after["keys"][0]["kid"]);
    let r = again
        .sign_in("kim@example.com", "Correct-Horse-9", "openid")
        .await;
    assert_eq!(r.status, 200);
}
