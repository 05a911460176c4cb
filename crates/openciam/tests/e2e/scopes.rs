//! Scopes: OIDC scopes always, others only when an app of the tenant exposes them.

use openciam_testkit::{TestApp, demo_client};

const PW: &str = "Correct-Horse-9";
const API: &str = "55555555-5555-5555-5555-555555555555";

#[tokio::test]
async fn resource_scopes_set_aud_and_scp() {
    let app = TestApp::spawn().await;
    app.create_user("amy@example.com", PW).await;
    let r = app.sign_in("amy@example.com", PW, "openid api://demo/read").await;
    let at = r.jwt_claims("access_token");
    assert_eq!(at["aud"], API);
    assert_eq!(at["scp"], "read");
    assert_eq!(at["azp"], demo_client());
    assert!(r.str("scope").contains("api://demo/read"));
    let r = app.sign_in("amy@example.com", PW, "openid profile").await;
    let at = r.jwt_claims("access_token");
    assert_eq!(at["aud"], demo_client());
    assert!(at.get("scp").is_none());
    let r = app.sign_in("amy@example.com", PW, "api://demo/.default").await;
    assert_eq!(r.jwt_claims("access_token")["scp"], "read write");
}

#[tokio::test]
async fn unknown_scopes_are_invalid_scope_and_do_not_burn_the_token() {
    let app = TestApp::spawn().await;
    app.create_user("bea@example.com", PW).await;
    let ct = app.password_token("bea@example.com").await;
    app.token_password(&ct, PW, "openid api://demo/delete")
        .await
        .assert_error("invalid_scope", 70011);
    app.token_password(&ct, PW, "api://other/read")
        .await
        .assert_error("invalid_scope", 70011);
    assert_eq!(
        app.token_password(&ct, PW, "openid api://demo/write")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn refresh_can_ask_for_a_resource_scope() {
    let app = TestApp::spawn().await;
    app.create_user("cal@example.com", PW).await;
    let rt = app
        .sign_in("cal@example.com", PW, "openid")
        .await
        .str("refresh_token")
        .to_owned();
    let r = app.refresh(&rt, "api://demo/write offline_access").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.jwt_claims("access_token")["aud"], API);
}
