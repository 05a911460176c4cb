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

const DAY: i64 = 24 * 3600;
/// The default `[tokens] refresh_absolute_lifetime_seconds`.
const ABSOLUTE: i64 = 90 * DAY;
/// The default `[tokens] refresh_token_lifetime_seconds`.
const SLIDING: i64 = 30 * DAY;

/// `refresh_token_expires_in` of a token response.
fn refresh_expires_in(r: &openciam_testkit::Resp) -> i64 {
    r.body["refresh_token_expires_in"]
        .as_i64()
        .unwrap_or_else(|| panic!("no refresh_token_expires_in in {}", r.body))
}

/// A refreshed token must not outlive the session: its lifetime is at most what is left of the
/// absolute lifetime after `elapsed` seconds since sign-in. The fake clock also moves with real
/// time, so the lower bound allows a minute of it.
fn assert_capped(r: &openciam_testkit::Resp, elapsed: i64) {
    assert_eq!(r.status, 200, "after {} days: {}", elapsed / DAY, r.body);
    let expected = SLIDING.min(ABSOLUTE - elapsed);
    let got = refresh_expires_in(r);
    assert!(
        got <= expected && got + 60 > expected,
        "after {} days refresh_token_expires_in is {got}, expected {expected}",
        elapsed / DAY
    );
}

#[tokio::test]
async fn a_session_that_keeps_refreshing_ends_90_days_after_sign_in() {
    let app = TestApp::spawn().await;
    app.create_user("hal@example.com", PW).await;
    let first = app.sign_in("hal@example.com", PW, "openid offline_access").await;
    let mut rt = first.str("refresh_token").to_owned();
    let mut elapsed = 0;
    for _ in 0..4 {
        app.clock.advance(20 * DAY);
        elapsed += 20 * DAY;
        let r = app.refresh(&rt, "openid").await;
        assert_capped(&r, elapsed);
        rt = r.str("refresh_token").to_owned();
    }
    // Day 80's token expires with the session, at day 90; an hour before, it still works.
    app.clock.advance(10 * DAY - 3600);
    let r = app.refresh(&rt, "openid").await;
    assert_capped(&r, ABSOLUTE - 3600);
    rt = r.str("refresh_token").to_owned();
    app.clock.advance(3600);
    let refused = app.refresh(&rt, "openid").await;
    refused.assert_error("invalid_grant", 700082);
    let description = refused.str("error_description");
    assert!(
        description.contains("the session reached its maximum lifetime")
            && description.contains("sign the user in again"),
        "{description}"
    );
    // A new sign-in starts a new session.
    let again = app.sign_in("hal@example.com", PW, "openid").await;
    assert_eq!(refresh_expires_in(&again), SLIDING);
    assert_eq!(
        app.refresh(again.str("refresh_token"), "openid").await.status,
        200
    );
}

#[tokio::test]
async fn the_absolute_lifetime_is_refused_even_when_the_token_would_still_be_live() {
    let app = TestApp::spawn().await;
    app.create_user("ida@example.com", PW).await;
    let first = app.sign_in("ida@example.com", PW, "openid").await;
    assert_eq!(refresh_expires_in(&first), SLIDING);
    let mut rt = first.str("refresh_token").to_owned();
    // Refresh every 29 days: each token alone would live 30 more days, the session does not.
    let mut elapsed = 0;
    for _ in 0..3 {
        app.clock.advance(29 * DAY);
        elapsed += 29 * DAY;
        let r = app.refresh(&rt, "openid").await;
        assert_capped(&r, elapsed);
        rt = r.str("refresh_token").to_owned();
    }
    // Day 87: 3 days left of the session, not 30.
    assert_eq!(elapsed, 87 * DAY);
    app.clock.advance(3 * DAY);
    let refused = app.refresh(&rt, "openid").await;
    refused.assert_error("invalid_grant", 700082);
    assert!(
        refused.str("error_description").contains("maximum lifetime"),
        "{}",
        refused.body
    );
}
