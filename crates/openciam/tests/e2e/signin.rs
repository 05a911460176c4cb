//! Password sign-in: the happy path and every error of spec §5.4, §5.5, §5.7.

use base64::Engine as _;
use openciam_testkit::{TestApp, demo_client};

const PW: &str = "Correct-Horse-9";

#[tokio::test]
async fn password_sign_in_issues_every_token_member() {
    let app = TestApp::spawn().await;
    app.create_user("Alice@Example.com", PW).await;
    let r = app
        .sign_in("alice@example.COM", PW, "openid offline_access")
        .await;
    assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(r.body["expires_in"].as_u64().unwrap() > 0);
    for member in [
        "access_token",
        "refresh_token",
        "id_token",
        "client_info",
        "scope",
    ] {
        assert!(!r.str(member).is_empty(), "{member}");
    }
    let id = r.jwt_claims("id_token");
    assert_eq!(
        id["preferred_username"], "Alice@Example.com",
        "display form as typed at creation"
    );
    assert_eq!(id["aud"], demo_client());
    let info: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(r.str("client_info"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info["uid"], id["oid"]);
    assert_eq!(info["utid"], id["tid"]);
    assert_eq!(id["tid"], "de000000-0000-4000-8000-000000000001");
    assert!(r.str("scope").split(' ').any(|s| s == "openid"));
}

#[tokio::test]
async fn wrong_password_is_exactly_50126_and_the_token_stays_usable() {
    let app = TestApp::spawn().await;
    app.create_user("bob@example.com", PW).await;
    let ct = app.password_token("bob@example.com").await;
    let r = app.token_password(&ct, "nope", "openid").await;
    r.assert_error("invalid_grant", 50126);
    assert!(r.body.get("suberror").is_none());
    let r = app.token_password(&ct, "still-wrong", "openid").await;
    r.assert_error("invalid_grant", 50126);
    let r = app.token_password(&ct, PW, "openid").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Redeemed: the flow advanced, the token is dead.
    let r = app.token_password(&ct, PW, "openid").await;
    r.assert_error("invalid_request", 55200);
    assert!(r.str("error_description").contains("superseded"));
}

#[tokio::test]
async fn unknown_user_is_user_not_found() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "oauth2/v2.0/initiate",
            &[
                ("client_id", &demo_client()),
                ("username", "ghost@example.com"),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    r.assert_error("user_not_found", 50034);
}

#[tokio::test]
async fn disabled_user_gets_50057_only_after_the_right_password() {
    let app = TestApp::spawn().await;
    app.create_user("carol@example.com", PW).await;
    app.services
        .admin
        .set_disabled("demo", "carol@example.com", true)
        .await
        .unwrap();
    let ct = app.password_token("carol@example.com").await;
    app.token_password(&ct, "wrong", "openid")
        .await
        .assert_error("invalid_grant", 50126);
    app.token_password(&ct, PW, "openid")
        .await
        .assert_error("invalid_grant", 50057);
}

#[tokio::test]
async fn challenge_type_lists_are_checked() {
    let app = TestApp::spawn().await;
    app.create_user("dave@example.com", PW).await;
    let initiate = |types: &'static str| {
        let app = &app;
        async move {
            app.post(
                "oauth2/v2.0/initiate",
                &[
                    ("client_id", &demo_client()),
                    ("username", "dave@example.com"),
                    ("challenge_type", types),
                ],
            )
            .await
        }
    };
    initiate("password oob")
        .await
        .assert_error("unsupported_challenge_type", 901007);
    let r = initiate("password sms redirect").await;
    assert_eq!(r.body["error"], "invalid_request");
    assert!(
        r.str("error_description")
            .contains("The challenge_type list parameter contains an unsupported challenge type")
    );
    let r = initiate("oob redirect").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["challenge_type"], "redirect");
    assert!(r.body.get("continuation_token").is_none());
    let r = initiate("PASSWORD Redirect").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["continuation_token"].is_string());
}

#[tokio::test]
async fn bad_usernames_carry_the_phrase_clients_match() {
    let app = TestApp::spawn().await;
    for username in ["", "not-an-email"] {
        let r = app
            .post(
                "oauth2/v2.0/initiate",
                &[
                    ("client_id", &demo_client()),
                    ("username", username),
                    ("challenge_type", "password redirect"),
                ],
            )
            .await;
        r.assert_error("invalid_request", 90100);
        assert!(
            r.str("error_description")
                .contains("username parameter is empty or not valid")
        );
    }
}

#[tokio::test]
async fn client_errors() {
    let app = TestApp::spawn().await;
    let initiate = |client: &'static str| {
        let app = &app;
        async move {
            app.post(
                "oauth2/v2.0/initiate",
                &[
                    ("client_id", client),
                    ("username", "x@example.com"),
                    ("challenge_type", "password redirect"),
                ],
            )
            .await
        }
    };
    let r = initiate("99999999-9999-9999-9999-999999999999").await;
    r.assert_error("unauthorized_client", 700016);
    let r = initiate("55555555-5555-5555-5555-555555555555").await;
    r.assert_error("invalid_client", 700016);
    assert_eq!(r.body["suberror"], "nativeauthapi_disabled");
    let r = initiate("not-a-guid").await;
    r.assert_error("invalid_request", 90100);
    assert!(
        r.str("error_description")
            .contains("client_id parameter is empty or not valid")
    );
    let r = app
        .post("oauth2/v2.0/initiate", &[("username", "x@example.com")])
        .await;
    r.assert_error("invalid_request", 90100);
}
