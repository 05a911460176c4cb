//! E-mail-code sign-in (spec §3.2, §5.5, §5.7) and challenge-type negotiation at initiate.

use openciam_testkit::{Resp, TestApp, demo_client};

const CODE_APP: &str = "22222222-2222-2222-2222-222222222222";

async fn initiate(app: &TestApp, client: &str, email: &str, types: &str) -> Resp {
    app.post(
        "oauth2/v2.0/initiate",
        &[
            ("client_id", client),
            ("username", email),
            ("challenge_type", types),
        ],
    )
    .await
}

async fn challenge(app: &TestApp, client: &str, ct: &str, types: &str) -> Resp {
    app.post(
        "oauth2/v2.0/challenge",
        &[
            ("client_id", client),
            ("continuation_token", ct),
            ("challenge_type", types),
        ],
    )
    .await
}

async fn token_oob(app: &TestApp, client: &str, ct: &str, code: &str) -> Resp {
    app.post(
        "oauth2/v2.0/token",
        &[
            ("client_id", client),
            ("continuation_token", ct),
            ("grant_type", "oob"),
            ("oob", code),
            ("scope", "openid offline_access"),
            ("client_info", "1"),
        ],
    )
    .await
}

async fn code_user(app: &TestApp, email: &str) {
    app.services
        .admin
        .create_user("demo", email, None, serde_json::Map::new())
        .await
        .unwrap();
}

#[tokio::test]
async fn code_sign_in_with_every_member_resend_and_wrong_code() {
    let app = TestApp::spawn().await;
    code_user(&app, "otp@example.com").await;
    let r = initiate(&app, CODE_APP, "otp@example.com", "oob redirect").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = challenge(&app, CODE_APP, r.str("continuation_token"), "oob redirect").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["challenge_type"], "oob");
    assert_eq!(r.body["challenge_channel"], "email");
    assert_eq!(r.body["binding_method"], "prompt");
    assert_eq!(r.body["code_length"], 8);
    assert!(r.body["interval"].is_u64());
    assert_eq!(r.str("challenge_target_label"), "o*p@e*****e.com");
    let ct1 = r.str("continuation_token").to_owned();
    let first = app.latest_code("otp@example.com").unwrap();
    // Resend through challenge with the oob token: a new code, the old one dead, both tokens alive.
    let r = challenge(&app, CODE_APP, &ct1, "oob redirect").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct2 = r.str("continuation_token").to_owned();
    let second = app.latest_code("otp@example.com").unwrap();
    assert_ne!(first, second);
    let r = token_oob(&app, CODE_APP, &ct2, &first).await;
    r.assert_error("invalid_grant", 50181);
    assert_eq!(r.body["suberror"], "invalid_oob_value");
    let r = token_oob(&app, CODE_APP, &ct1, &second).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.jwt_claims("id_token")["preferred_username"], "otp@example.com");
    assert!(!r.str("refresh_token").is_empty());
    // The flow is finished: the other token is dead.
    token_oob(&app, CODE_APP, &ct2, &second)
        .await
        .assert_error("invalid_request", 55200);
}

#[tokio::test]
async fn code_sign_in_burns_after_five_and_disabled_users_are_refused() {
    let app = TestApp::spawn().await;
    code_user(&app, "burn@example.com").await;
    let r = initiate(&app, CODE_APP, "burn@example.com", "oob redirect").await;
    let r = challenge(&app, CODE_APP, r.str("continuation_token"), "oob redirect").await;
    let ct = r.str("continuation_token").to_owned();
    let code = app.latest_code("burn@example.com").unwrap();
    for _ in 0..5 {
        token_oob(&app, CODE_APP, &ct, "12345678")
            .await
            .assert_error("invalid_grant", 50181);
    }
    let r = token_oob(&app, CODE_APP, &ct, &code).await;
    r.assert_error("invalid_grant", 50181);
    assert!(r.str("error_description").contains("Request a new code"));
    app.services
        .admin
        .set_disabled("demo", "burn@example.com", true)
        .await
        .unwrap();
    let r = challenge(&app, CODE_APP, &ct, "oob redirect").await;
    let code = app.latest_code("burn@example.com").unwrap();
    token_oob(&app, CODE_APP, r.str("continuation_token"), &code)
        .await
        .assert_error("invalid_grant", 50057);
}

#[tokio::test]
async fn negotiation_at_initiate() {
    let app = TestApp::spawn().await;
    app.create_user("pw@example.com", "Correct-Horse-9").await;
    code_user(&app, "code@example.com").await;
    let redirect = |r: &Resp| {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["challenge_type"], "redirect", "{}", r.body);
        assert!(r.body.get("continuation_token").is_none());
    };
    // Password app, password user, client offering only oob → redirect (JS isRedirectRequired()).
    redirect(&initiate(&app, &demo_client(), "pw@example.com", "oob redirect").await);
    // Code-only app × client offering only password → redirect.
    redirect(&initiate(&app, CODE_APP, "pw@example.com", "password redirect").await);
    // A code-only account under the password app signs in with a code when the client can.
    let r = initiate(&app, &demo_client(), "code@example.com", "oob password redirect").await;
    let r = challenge(
        &app,
        &demo_client(),
        r.str("continuation_token"),
        "oob password redirect",
    )
    .await;
    assert_eq!(r.body["challenge_type"], "oob", "{}", r.body);
    // No redirect in the list → unsupported_challenge_type.
    initiate(&app, CODE_APP, "code@example.com", "oob")
        .await
        .assert_error("unsupported_challenge_type", 901007);
    // A sign-up start with a password app and an oob-only client redirects too.
    let r = app
        .post(
            "signup/v1.0/start",
            &[
                ("client_id", demo_client().as_str()),
                ("username", "x@example.com"),
                ("challenge_type", "oob redirect"),
            ],
        )
        .await;
    redirect(&r);
    let r = app
        .post(
            "signup/v1.0/start",
            &[
                ("client_id", CODE_APP),
                ("username", "x@example.com"),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    redirect(&r);
}
