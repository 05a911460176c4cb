//! The refresh grant: rotation, reuse detection, expiry and revocation (spec §7.1 codes).

use openciam_testkit::{Options, TestApp};

const PW: &str = "Correct-Horse-9";

#[tokio::test]
async fn refresh_rotates_and_returns_client_info() {
    let app = TestApp::spawn().await;
    app.create_user("ann@example.com", PW).await;
    let first = app.sign_in("ann@example.com", PW, "openid offline_access").await;
    let rt1 = first.str("refresh_token");
    let second = app.refresh(rt1, "openid profile offline_access").await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_ne!(second.str("refresh_token"), rt1);
    assert_ne!(second.str("access_token"), first.str("access_token"));
    assert_eq!(second.str("client_info"), first.str("client_info"));
    assert!(!second.str("id_token").is_empty());
    let third = app.refresh(second.str("refresh_token"), "openid").await;
    assert_eq!(third.status, 200, "{}", third.body);
}

#[tokio::test]
async fn reusing_a_rotated_token_revokes_the_family() {
    let app = TestApp::spawn().await;
    app.create_user("ben@example.com", PW).await;
    let first = app.sign_in("ben@example.com", PW, "openid").await;
    let rt1 = first.str("refresh_token").to_owned();
    let second = app.refresh(&rt1, "openid").await;
    let rt2 = second.str("refresh_token").to_owned();
    app.refresh(&rt1, "openid")
        .await
        .assert_error("invalid_grant", 50173);
    // The thief's replay revoked the legitimate successor too.
    app.refresh(&rt2, "openid")
        .await
        .assert_error("invalid_grant", 50173);
    // Other sessions of the user are untouched.
    let other = app.sign_in("ben@example.com", PW, "openid").await;
    assert_eq!(
        app.refresh(other.str("refresh_token"), "openid").await.status,
        200
    );
}

#[tokio::test]
async fn a_grace_window_allows_parallel_tabs() {
    let app = TestApp::spawn_with(Options {
        refresh_reuse_grace: 30,
        ..Options::default()
    })
    .await;
    app.create_user("cid@example.com", PW).await;
    let rt1 = app
        .sign_in("cid@example.com", PW, "openid")
        .await
        .str("refresh_token")
        .to_owned();
    assert_eq!(app.refresh(&rt1, "openid").await.status, 200);
    app.clock.advance(10);
    let again = app.refresh(&rt1, "openid").await;
    assert_eq!(again.status, 200, "within the grace window: {}", again.body);
    app.clock.advance(60);
    app.refresh(&rt1, "openid")
        .await
        .assert_error("invalid_grant", 50173);
}

#[tokio::test]
async fn unknown_expired_and_foreign_refresh_tokens() {
    let app = TestApp::spawn().await;
    app.create_user("dan@example.com", PW).await;
    app.refresh("not-a-token", "openid")
        .await
        .assert_error("invalid_grant", 70000);
    let rt = app
        .sign_in("dan@example.com", PW, "openid")
        .await
        .str("refresh_token")
        .to_owned();
    let other = app
        .services
        .admin
        .create_app(
            "demo",
            openciam_core::admin::NewApp {
                client_id: None,
                display_name: "other".into(),
                method: openciam_core::model::SignInMethod::EmailPassword,
                native_auth: true,
                cors_origins: vec![],
                identifier_uri: None,
                scopes: vec![],
                signup_attributes: vec![],
            },
        )
        .await
        .unwrap();
    let r = app
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", other.client_id.as_str()),
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
            ],
        )
        .await;
    r.assert_error("invalid_grant", 70000);
    app.clock.advance(31 * 24 * 3600);
    app.refresh(&rt, "openid")
        .await
        .assert_error("invalid_grant", 700082);
}

#[tokio::test]
async fn admin_actions_revoke_sessions() {
    let app = TestApp::spawn().await;
    for email in ["eve@example.com", "fin@example.com", "gus@example.com"] {
        app.create_user(email, PW).await;
    }
    let rt_eve = app
        .sign_in("eve@example.com", PW, "openid")
        .await
        .str("refresh_token")
        .to_owned();
    let rt_fin = app
        .sign_in("fin@example.com", PW, "openid")
        .await
        .str("refresh_token")
        .to_owned();
    let rt_gus = app
        .sign_in("gus@example.com", PW, "openid")
        .await
        .str("refresh_token")
        .to_owned();
    let admin = &app.services.admin;
    assert_eq!(admin.revoke_sessions("demo", "eve@example.com").await.unwrap(), 1);
    app.refresh(&rt_eve, "openid")
        .await
        .assert_error("invalid_grant", 50173);
    admin.set_disabled("demo", "fin@example.com", true).await.unwrap();
    app.refresh(&rt_fin, "openid")
        .await
        .assert_error("invalid_grant", 50173);
    let pw = openciam_core::secret::Password::new("Another-Horse-10");
    admin.set_password("demo", "gus@example.com", &pw).await.unwrap();
    app.refresh(&rt_gus, "openid")
        .await
        .assert_error("invalid_grant", 50173);
    let ct = app.password_token("gus@example.com").await;
    app.token_password(&ct, PW, "openid")
        .await
        .assert_error("invalid_grant", 50126);
    assert_eq!(
        app.token_password(&ct, "Another-Horse-10", "openid").await.status,
        200
    );
}
