//! Signing-key rotation with the real `openciam keys` binary, and the algorithm allow-list: a
//! rotated key is published at once, signs only after its activation delay, and the retired key
//! stays published for one token lifetime (1 h in the test app) after retirement.

use openciam_core::crypto::MasterKey;
use openciam_core::model::SigningKeyRecord;
use openciam_core::token::SigningKey;
use openciam_testkit::{Resp, TestApp};
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClientId, IssuerUrl, Nonce};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_openciam");
const PASSWORD: &str = "Correct-Horse-9";

fn keys_cli(app: &TestApp, args: &[&str]) -> String {
    let out: Output = Command::new(BIN)
        .arg("keys")
        .args(args)
        .args(app.store_args())
        // On PostgreSQL the CLI reads the test app's openciam.toml, which names no master key.
        .env("OPENCIAM_MASTER_KEY_FILE", app.dir.path().join("master.key"))
        .env("OPENCIAM_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn master(app: &TestApp) -> MasterKey {
    let text = std::fs::read_to_string(app.dir.path().join("master.key")).unwrap();
    MasterKey::from_base64(text.trim()).unwrap()
}

async fn jwks(app: &TestApp) -> Resp {
    app.get(&format!("{}/demo/discovery/v2.0/keys", app.origin)).await
}

fn kids(r: &Resp) -> Vec<String> {
    let mut kids: Vec<String> = r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The `kid` in the JWT header of `key` in `r`.
fn header_kid(r: &Resp, key: &str) -> String {
    use base64::Engine as _;
    let head = r.str(key).split('.').next().unwrap();
    let head: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(head)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(head["alg"], "RS256");
    head["kid"].as_str().unwrap().to_owned()
}

/// Signs in; asserts both JWTs carry one kid and that the ID token verifies against the JWKS
/// served now (independently, with openidconnect). Returns the kid.
async fn sign_in_kid(app: &TestApp, email: &str) -> String {
    let r = app.sign_in(email, PASSWORD, "openid").await;
    let kid = header_kid(&r, "id_token");
    assert_eq!(header_kid(&r, "access_token"), kid);
    let set: CoreJsonWebKeySet = serde_json::from_value(jwks(app).await.body).unwrap();
    let tid = r.jwt_claims("id_token")["tid"].as_str().unwrap().to_owned();
    let issuer = IssuerUrl::new(format!("{}/{tid}/v2.0", app.origin)).unwrap();
    let verifier =
        CoreIdTokenVerifier::new_public_client(ClientId::new(openciam_testkit::demo_client()), issuer, set);
    let token: CoreIdToken = r.str("id_token").parse().unwrap();
    token.claims(&verifier, |_: Option<&Nonce>| Ok(())).unwrap();
    kid
}

#[tokio::test]
async fn rotated_key_is_published_at_once_signs_after_activation_and_unpublishes_after_retirement() {
    let app = TestApp::spawn().await;
    app.create_user("rota@example.com", PASSWORD).await;
    let before = jwks(&app).await;
    let cache = before.header("cache-control").unwrap();
    assert_eq!(cache, "public, max-age=300");
    let old = kids(&before);
    assert_eq!(old.len(), 1);
    let old = old[0].clone();
    assert_eq!(sign_in_kid(&app, "rota@example.com").await, old);

    let new = added_kid(&keys_cli(&app, &["rotate"]));
    assert_ne!(new, old);
    // What the periodic reloader does on every node.
    app.services.issuer.reload_keys(&master(&app)).await.unwrap();

    // Published at once; the old key still signs until activation (default 1 h).
    assert_eq!(kids(&jwks(&app).await), sorted(vec![old.clone(), new.clone()]));
    assert_eq!(sign_in_kid(&app, "rota@example.com").await, old);
    app.clock.advance(3590);
    assert_eq!(sign_in_kid(&app, "rota@example.com").await, old);

    // Activation by time alone: no reload, no restart.
    app.clock.advance(20);
    assert_eq!(sign_in_kid(&app, "rota@example.com").await, new);
    assert_eq!(kids(&jwks(&app).await), sorted(vec![old.clone(), new.clone()]));

    // The retired key stays published for one token lifetime (1 h) after retirement, then goes.
    app.clock.advance(3570);
    assert_eq!(kids(&jwks(&app).await), sorted(vec![old.clone(), new.clone()]));
    app.clock.advance(30);
    assert_eq!(kids(&jwks(&app).await), vec![new.clone()]);
    assert_eq!(sign_in_kid(&app, "rota@example.com").await, new);
}

#[tokio::test]
async fn keys_list_shows_schedule_publication_and_signing() {
    let app = TestApp::spawn().await;
    let old = kids(&jwks(&app).await)[0].clone();
    let listed = keys_cli(&app, &["list"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 1, "{listed}");
    assert!(lines[0].starts_with(&old), "{listed}");
    assert!(lines[0].contains("  activated "), "{listed}");
    assert!(lines[0].contains("  not retired  published  signing"), "{listed}");

    let pending = added_kid(&keys_cli(&app, &["rotate", "--activate-after", "10m"]));
    let listed = keys_cli(&app, &["list"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    // The pending key is published but does not sign yet; the old one signs until it retires.
    let p = line_of(&listed, &pending);
    assert!(p.contains("  activates "), "{listed}");
    assert!(p.ends_with("  not retired  published  not signing"), "{listed}");
    let o = line_of(&listed, &old);
    assert!(o.contains("  retires "), "{listed}");
    assert!(o.contains("(published until "), "{listed}");
    assert!(o.ends_with("  published  signing"), "{listed}");

    // `0s` activates at once: the old key and the pending one are retired now (the pending one
    // never signs), both still published.
    let newest = added_kid(&keys_cli(&app, &["rotate", "--activate-after", "0s"]));
    let listed = keys_cli(&app, &["list"]);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    let n = line_of(&listed, &newest);
    assert!(n.ends_with("  not retired  published  signing"), "{listed}");
    for kid in [&old, &pending] {
        let l = line_of(&listed, kid);
        assert!(l.contains("  retired "), "{listed}");
        assert!(l.ends_with("  published  not signing"), "{listed}");
    }
    app.services.issuer.reload_keys(&master(&app)).await.unwrap();
    app.create_user("list@example.com", PASSWORD).await;
    assert_eq!(sign_in_kid(&app, "list@example.com").await, newest);
}

/// The kid in `keys rotate`'s answer.
fn added_kid(out: &str) -> String {
    out.strip_prefix("added key ")
        .and_then(|s| s.split(':').next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned()
}

/// The `keys list` line of `kid`.
fn line_of<'a>(listed: &'a str, kid: &str) -> &'a str {
    listed
        .lines()
        .find(|l| l.starts_with(&format!("{kid}  ")))
        .unwrap_or_else(|| panic!("{kid} not in {listed}"))
}

#[tokio::test]
async fn a_bad_duration_is_refused_with_an_example() {
    let app = TestApp::spawn().await;
    let out = Command::new(BIN)
        .args(["keys", "rotate", "--activate-after", "soon"])
        .args(app.store_args())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'soon' is not a duration; write e.g. 30s, 10m, 1h"),
        "{stderr}"
    );
}

#[tokio::test]
async fn only_rs256_is_advertised_and_other_algorithms_are_refused_at_load() {
    let app = TestApp::spawn().await;
    let config = app
        .get(&format!(
            "{}/demo/v2.0/.well-known/openid-configuration",
            app.origin
        ))
        .await;
    assert_eq!(
        config.body["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    let before = jwks(&app).await;
    for key in before.body["keys"].as_array().unwrap() {
        assert_eq!(key["alg"], "RS256", "{key}");
        assert_eq!(key["kty"], "RSA", "{key}");
        assert_eq!(key["use"], "sig", "{key}");
    }

    // A key record naming another algorithm (as a tampered or foreign database might hold) makes
    // the reload fail: the node keeps its RS256 keys, and never publishes or signs with it.
    let master = master(&app);
    for alg in ["none", "HS256"] {
        let (key, der) = SigningKey::generate().unwrap();
        let record = SigningKeyRecord {
            kid: key.kid().to_owned(),
            alg: alg.into(),
            private_key_enc: master.seal(key.kid().as_bytes(), &der),
            created_at: 0,
            activate_at: 0,
            retired_at: None,
        };
        app.services.store.insert_signing_key(&record).await.unwrap();
        let err = app.services.issuer.reload_keys(&master).await.unwrap_err();
        // (Both bad records are stored by the second round; either may be named.)
        let err = err.to_string();
        assert!(
            err.contains("is stored with algorithm") && err.contains("refused"),
            "{err}"
        );
        assert_eq!(kids(&jwks(&app).await), kids(&before));
    }
    app.create_user("alg@example.com", PASSWORD).await;
    assert_eq!(sign_in_kid(&app, "alg@example.com").await, kids(&before)[0]);
}
