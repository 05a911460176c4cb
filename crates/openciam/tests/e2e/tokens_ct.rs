//! Continuation-token lifecycle at the HTTP level (spec §6.3 openciam decision).

use openciam_core::admin::NewApp;
use openciam_core::model::SignInMethod;
use openciam_testkit::{TestApp, demo_client};

const PW: &str = "Correct-Horse-9";

async fn initiate(app: &TestApp, client: &str, email: &str) -> String {
    let r = app
        .post(
            "oauth2/v2.0/initiate",
            &[
                ("client_id", client),
                ("username", email),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.str("continuation_token").to_owned()
}

#[tokio::test]
async fn a_token_used_at_the_wrong_step_names_where_it_belongs() {
    let app = TestApp::spawn().await;
    app.create_user("erin@example.com", PW).await;
    let ct = initiate(&app, &demo_client(), "erin@example.com").await;
    let r = app.token_password(&ct, PW, "openid").await;
    r.assert_error("invalid_request", 55200);
    let d = r.str("error_description");
    assert!(d.contains("belongs to oauth2/v2.0/challenge"), "{d}");
    assert!(d.contains("grant_type=password"), "{d}");
    // Still valid where it belongs: the wrong use did not burn it.
    let r = app
        .post(
            "oauth2/v2.0/challenge",
            &[
                ("client_id", &demo_client()),
                ("continuation_token", &ct),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The password-step token at the continuation_token grant: the grant is named.
    let pct = r.str("continuation_token").to_owned();
    let r = app
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", &demo_client()),
                ("continuation_token", &pct),
                ("grant_type", "continuation_token"),
                ("scope", "openid"),
            ],
        )
        .await;
    r.assert_error("invalid_request", 55200);
    assert!(
        r.str("error_description")
            .contains("belongs to oauth2/v2.0/token with grant_type=password")
    );
}

#[tokio::test]
async fn advancing_kills_earlier_tokens() {
    let app = TestApp::spawn().await;
    app.create_user("fay@example.com", PW).await;
    let ct = initiate(&app, &demo_client(), "fay@example.com").await;
    let client = demo_client();
    let form = [
        ("client_id", client.as_str()),
        ("continuation_token", &ct),
        ("challenge_type", "password redirect"),
    ];
    assert_eq!(app.post("oauth2/v2.0/challenge", &form).await.status, 200);
    let r = app.post("oauth2/v2.0/challenge", &form).await;
    r.assert_error("invalid_request", 55200);
    assert!(r.str("error_description").contains("superseded"));
}

#[tokio::test]
async fn expired_tokens_are_expired_token_552003() {
    let app = TestApp::spawn().await;
    app.create_user("gil@example.com", PW).await;
    let ct = app.password_token("gil@example.com").await;
    app.clock.advance(599);
    app.token_password(&ct, "wrong", "openid")
        .await
        .assert_error("invalid_grant", 50126);
    app.clock.advance(2);
    app.token_password(&ct, PW, "openid")
        .await
        .assert_error("expired_token", 552003);
}

#[tokio::test]
async fn tampered_and_foreign_tokens_are_refused() {
    let app = TestApp::spawn().await;
    app.create_user("hal@example.com", PW).await;
    let ct = app.password_token("hal@example.com").await;
    let mut flipped = ct.clone().into_bytes();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for bad in [flipped.as_str(), &ct[..20], "garbage", &"x".repeat(4000)] {
        app.token_password(bad, PW, "openid")
            .await
            .assert_error("invalid_request", 55200);
    }
    // Another app of the same tenant cannot continue the flow.
    let other = app
        .services
        .admin
        .create_app(
            "demo",
            NewApp {
                client_id: None,
                display_name: "other".into(),
                method: SignInMethod::EmailPassword,
                native_auth: true,
                cors_origins: vec![],
                identifier_uri: None,
                scopes: vec![],
                signup_attributes: vec![],
                mfa: None,
            },
        )
        .await
        .unwrap();
    let r = app
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", other.client_id.as_str()),
                ("continuation_token", &ct),
                ("grant_type", "password"),
                ("password", PW),
            ],
        )
        .await;
    r.assert_error("invalid_request", 55200);
    assert!(r.str("error_description").contains("another client_id"));
    // The rightful client still can.
    assert_eq!(app.token_password(&ct, PW, "openid").await.status, 200);
}

#[tokio::test]
async fn missing_token_and_password_are_named() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", &demo_client()),
                ("grant_type", "password"),
                ("password", "x"),
            ],
        )
        .await;
    r.assert_error("invalid_request", 900144);
    assert!(r.str("error_description").contains("'continuation_token'"));
    app.create_user("ivy@example.com", PW).await;
    let ct = app.password_token("ivy@example.com").await;
    let r = app
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", &demo_client()),
                ("grant_type", "password"),
                ("continuation_token", &ct),
            ],
        )
        .await;
    r.assert_error("invalid_request", 900144);
    assert!(r.str("error_description").contains("'password'"));
}

#[tokio::test]
async fn unknown_and_missing_grant_types() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "oauth2/v2.0/token",
            &[("client_id", &demo_client()), ("grant_type", "magic")],
        )
        .await;
    r.assert_error("unsupported_grant_type", 70003);
    let r = app
        .post("oauth2/v2.0/token", &[("client_id", &demo_client())])
        .await;
    r.assert_error("invalid_request", 900144);
}
