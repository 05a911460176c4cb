//! Self-service password reset (spec §3.5, §5.11–5.15).

use openciam_testkit::{Resp, TestApp, demo_client};

const OLD: &str = "Correct-Horse-9";
const NEW: &str = "Brand-New-Pass-42";

async fn post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> Resp {
    let client = demo_client();
    let mut all = vec![("client_id", client.as_str())];
    all.extend_from_slice(form);
    app.post(path, &all).await
}

/// start → challenge → continue; returns the submit token.
async fn verified(app: &TestApp, email: &str, types: &str) -> String {
    let r = post(
        app,
        "resetpassword/v1.0/start",
        &[("username", email), ("challenge_type", types)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(
        app,
        "resetpassword/v1.0/challenge",
        &[
            ("continuation_token", r.str("continuation_token")),
            ("challenge_type", types),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["challenge_type"], "oob");
    assert_eq!(r.body["code_length"], 8);
    let ct = r.str("continuation_token").to_owned();
    let code = app.latest_code(email).unwrap();
    let r = post(
        app,
        "resetpassword/v1.0/continue",
        &[
            ("continuation_token", &ct),
            ("grant_type", "oob"),
            ("oob", "99999999"),
        ],
    )
    .await;
    r.assert_error("invalid_grant", 50181);
    let r = post(
        app,
        "resetpassword/v1.0/continue",
        &[("continuation_token", &ct), ("grant_type", "oob"), ("oob", &code)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["expires_in"].as_u64().unwrap() <= 600);
    r.str("continuation_token").to_owned()
}

#[tokio::test]
async fn reset_then_sign_in_with_the_new_password_only() {
    let app = TestApp::spawn().await;
    app.create_user("rita@example.com", OLD).await;
    let session = app.sign_in("rita@example.com", OLD, "openid").await;
    let rt = session.str("refresh_token").to_owned();
    // Another open sign-in flow of the user, which the reset must kill.
    let open_ct = app.password_token("rita@example.com").await;
    // A client that offers only oob (password app) can still reset.
    let ct = verified(&app, "rita@example.com", "oob redirect").await;
    for (pw, sub) in [
        ("short", "password_too_short"),
        ("password123", "password_banned"),
        (OLD, "password_recently_used"),
    ] {
        let r = post(
            &app,
            "resetpassword/v1.0/submit",
            &[("continuation_token", &ct), ("new_password", pw)],
        )
        .await;
        r.assert_error("invalid_grant", 399246);
        assert_eq!(r.body["suberror"], sub);
    }
    let r = post(
        &app,
        "resetpassword/v1.0/submit",
        &[("continuation_token", &ct), ("new_password", NEW)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["poll_interval"], 2);
    let poll_ct = r.str("continuation_token").to_owned();
    // Every poll succeeds with a final token, and the submit token keeps working.
    let mut finals = vec![];
    for _ in 0..3 {
        let r = post(
            &app,
            "resetpassword/v1.0/poll_completion",
            &[("continuation_token", &poll_ct)],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], "succeeded");
        finals.push(r.str("continuation_token").to_owned());
    }
    // The old password stopped working, sessions and other flows are dead.
    app.refresh(&rt, "openid")
        .await
        .assert_error("invalid_grant", 50173);
    app.token_password(&open_ct, OLD, "openid")
        .await
        .assert_error("invalid_request", 55200);
    let ct2 = app.password_token("rita@example.com").await;
    app.token_password(&ct2, OLD, "openid")
        .await
        .assert_error("invalid_grant", 50126);
    // Sign in after reset with the final token, once.
    let r = post(
        &app,
        "oauth2/v2.0/token",
        &[
            ("continuation_token", &finals[2]),
            ("grant_type", "continuation_token"),
            ("scope", "openid"),
            ("username", "rita@example.com"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(
        &app,
        "oauth2/v2.0/token",
        &[
            ("continuation_token", &finals[0]),
            ("grant_type", "continuation_token"),
        ],
    )
    .await;
    r.assert_error("invalid_request", 55200);
    assert_eq!(app.token_password(&ct2, NEW, "openid").await.status, 200);
    // The "password changed" notice went out.
    let notices = app.mailbox.messages(&openciam_core::mail::MailboxFilter {
        to: Some("rita@example.com".into()),
        ..Default::default()
    });
    assert!(notices.iter().any(|m| m.code.is_none()), "{notices:?}");
}

#[tokio::test]
async fn reset_errors() {
    let app = TestApp::spawn().await;
    let r = post(
        &app,
        "resetpassword/v1.0/start",
        &[
            ("username", "ghost@example.com"),
            ("challenge_type", "oob redirect"),
        ],
    )
    .await;
    r.assert_error("user_not_found", 50034);
    app.services
        .admin
        .create_user("demo", "codeonly@example.com", None, serde_json::Map::new())
        .await
        .unwrap();
    let r = post(
        &app,
        "resetpassword/v1.0/start",
        &[
            ("username", "codeonly@example.com"),
            ("challenge_type", "oob redirect"),
        ],
    )
    .await;
    r.assert_error("invalid_request", 500222);
    app.create_user("sam@example.com", OLD).await;
    let r = post(
        &app,
        "resetpassword/v1.0/start",
        &[
            ("username", "sam@example.com"),
            ("challenge_type", "password redirect"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["challenge_type"], "redirect",
        "reset without oob → redirect"
    );
    let ct = verified(&app, "sam@example.com", "oob redirect").await;
    app.clock.advance(601);
    let r = post(
        &app,
        "resetpassword/v1.0/submit",
        &[("continuation_token", &ct), ("new_password", NEW)],
    )
    .await;
    r.assert_error("expired_token", 552003);
}

#[tokio::test]
async fn admin_set_password_kills_open_flows() {
    let app = TestApp::spawn().await;
    app.create_user("tom@example.com", OLD).await;
    let ct = app.password_token("tom@example.com").await;
    let pw = openciam_core::secret::Password::new(NEW);
    app.services
        .admin
        .set_password("demo", "tom@example.com", &pw)
        .await
        .unwrap();
    app.token_password(&ct, NEW, "openid")
        .await
        .assert_error("invalid_request", 55200);
}
