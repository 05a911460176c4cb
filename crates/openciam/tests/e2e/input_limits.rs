//! Input limits (issue 6): a value at its limit reaches the next check (the protocol error a client
//! would get anyway), one byte more is refused as `invalid_request` `[90011]` naming the parameter
//! and its limit. Attributes follow spec §9; line breaks never reach mails or logs.

use openciam_testkit::{Resp, TestApp, demo_client};

const PW: &str = "Correct-Horse-9";
const ATTR_APP: &str = "33333333-3333-3333-3333-333333333333";

fn assert_too_long(r: &Resp, name: &str, limit: usize) {
    r.assert_error("invalid_request", 90011);
    let d = r.str("error_description");
    assert!(d.contains(&format!("'{name}'")), "{d}");
    assert!(d.contains(&format!("{limit} bytes")), "{d}");
}

async fn sign_up_start(app: &TestApp, client: &str, email: &str, extra: &[(&str, &str)]) -> Resp {
    let mut form = vec![
        ("client_id", client),
        ("username", email),
        ("challenge_type", "oob password redirect"),
    ];
    form.extend_from_slice(extra);
    app.post("signup/v1.0/start", &form).await
}

/// Sign-up start → challenge: the oob-step token of a fresh flow for `email`.
async fn sign_up_code_token(app: &TestApp, email: &str) -> String {
    let client = demo_client();
    let r = sign_up_start(app, &client, email, &[("password", PW)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            "signup/v1.0/challenge",
            &[
                ("client_id", &client),
                ("continuation_token", r.str("continuation_token")),
                ("challenge_type", "oob password redirect"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.str("continuation_token").to_owned()
}

/// Reset start → challenge → continue with the mailed code: the submit-step token.
async fn reset_submit_token(app: &TestApp, email: &str) -> String {
    let client = demo_client();
    let types = "oob redirect";
    let r = app
        .post(
            "resetpassword/v1.0/start",
            &[
                ("client_id", &client),
                ("username", email),
                ("challenge_type", types),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            "resetpassword/v1.0/challenge",
            &[
                ("client_id", &client),
                ("continuation_token", r.str("continuation_token")),
                ("challenge_type", types),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    let code = app.latest_code(email).unwrap();
    let r = app
        .post(
            "resetpassword/v1.0/continue",
            &[
                ("client_id", &client),
                ("continuation_token", &ct),
                ("grant_type", "oob"),
                ("oob", &code),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.str("continuation_token").to_owned()
}

#[tokio::test]
async fn passwords_up_to_1024_bytes_reach_the_policy() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    // 257 characters: the policy answers, not the form parser.
    let just_too_long = "Aa1!".repeat(64) + "x";
    // 1,024 bytes (256 four-byte characters plus 768 ASCII ones): still the policy.
    let at_limit = "\u{1F600}".repeat(64) + &"Aa1!".repeat(192);
    assert_eq!(at_limit.len(), 1024);
    for pw in [just_too_long.as_str(), &at_limit] {
        let r = sign_up_start(&app, &client, "long@example.com", &[("password", pw)]).await;
        r.assert_error("invalid_grant", 399246);
        assert_eq!(r.body["suberror"], "password_too_long");
    }
    let over = at_limit.clone() + "x";
    let r = sign_up_start(&app, &client, "long@example.com", &[("password", &over)]).await;
    assert_too_long(&r, "password", 1024);
    // The password grant: 1,024 bytes is a wrong password (50126), 1,025 is refused unhashed.
    app.create_user("pat@example.com", PW).await;
    let ct = app.password_token("pat@example.com").await;
    app.token_password(&ct, &at_limit, "openid")
        .await
        .assert_error("invalid_grant", 50126);
    assert_too_long(&app.token_password(&ct, &over, "openid").await, "password", 1024);
    // Neither error burnt the token.
    assert_eq!(app.token_password(&ct, PW, "openid").await.status, 200);
}

#[tokio::test]
async fn new_passwords_up_to_1024_bytes_reach_the_policy() {
    let app = TestApp::spawn().await;
    app.create_user("rex@example.com", PW).await;
    let ct = reset_submit_token(&app, "rex@example.com").await;
    let at_limit = "Aa1!".repeat(256);
    let submit = |pw: String| {
        let ct = ct.clone();
        let app = &app;
        async move {
            app.post(
                "resetpassword/v1.0/submit",
                &[
                    ("client_id", &demo_client()),
                    ("continuation_token", &ct),
                    ("new_password", &pw),
                ],
            )
            .await
        }
    };
    let r = submit(at_limit.clone()).await;
    r.assert_error("invalid_grant", 399246);
    assert_eq!(r.body["suberror"], "password_too_long");
    assert_too_long(&submit(at_limit + "x").await, "new_password", 1024);
    assert_eq!(submit("Brand-New-Pass-42".into()).await.status, 200);
}

#[tokio::test]
async fn usernames_up_to_320_bytes_reach_the_address_check() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let domain = format!("{}.{}.example.com", "d".repeat(50), "e".repeat(50));
    let at_limit = format!("{}@{domain}", "u".repeat(320 - 1 - domain.len()));
    assert_eq!(at_limit.len(), 320);
    let r = sign_up_start(&app, &client, &at_limit, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let over = format!("u{at_limit}");
    for path in [
        "signup/v1.0/start",
        "oauth2/v2.0/initiate",
        "resetpassword/v1.0/start",
    ] {
        let r = app
            .post(
                path,
                &[
                    ("client_id", &client),
                    ("username", &over),
                    ("challenge_type", "oob password redirect"),
                ],
            )
            .await;
        assert_too_long(&r, "username", 320);
    }
}

#[tokio::test]
async fn line_breaks_and_controls_in_usernames_are_refused() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    for bad in [
        "eve@example.com\r\nBcc: all@example.com",
        "eve\n@example.com",
        "eve@example.com\u{0}",
        "eve\u{85}@example.com",
        "eve\u{2028}@example.com",
    ] {
        for path in [
            "signup/v1.0/start",
            "oauth2/v2.0/initiate",
            "resetpassword/v1.0/start",
        ] {
            let r = app
                .post(
                    path,
                    &[
                        ("client_id", &client),
                        ("username", bad),
                        ("challenge_type", "oob password redirect"),
                    ],
                )
                .await;
            r.assert_error("invalid_request", 90100);
        }
    }
    assert!(app.mailbox.messages(&Default::default()).is_empty());
}

#[tokio::test]
async fn continuation_tokens_up_to_4096_bytes_reach_the_token_check() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let at_limit = "A".repeat(4096);
    let form = |ct: &str| {
        vec![
            ("client_id".to_owned(), client.clone()),
            ("continuation_token".to_owned(), ct.to_owned()),
            ("challenge_type".to_owned(), "password redirect".to_owned()),
        ]
    };
    let post = |f: Vec<(String, String)>| {
        let app = &app;
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            app.post("oauth2/v2.0/challenge", &f).await
        }
    };
    post(form(&at_limit)).await.assert_error("invalid_request", 55200);
    assert_too_long(&post(form(&(at_limit + "A"))).await, "continuation_token", 4096);
}

#[tokio::test]
async fn codes_up_to_64_bytes_reach_the_code_check() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let ct = sign_up_code_token(&app, "otto@example.com").await;
    let cont = |oob: String| {
        let (app, client, ct) = (&app, client.clone(), ct.clone());
        async move {
            app.post(
                "signup/v1.0/continue",
                &[
                    ("client_id", &client),
                    ("continuation_token", &ct),
                    ("grant_type", "oob"),
                    ("oob", &oob),
                ],
            )
            .await
        }
    };
    cont("1".repeat(64)).await.assert_error("invalid_grant", 50181);
    assert_too_long(&cont("1".repeat(65)).await, "oob", 64);
    // The right code still works: neither error consumed a try that matters here.
    let code = app.latest_code("otto@example.com").unwrap();
    assert_eq!(cont(code).await.status, 200);
}

#[tokio::test]
async fn scope_and_claims_limits() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    app.create_user("sid@example.com", PW).await;
    let ct = app.password_token("sid@example.com").await;
    let prefix = "openid api://nowhere/";
    let at_limit = format!("{prefix}{}", "s".repeat(2048 - prefix.len()));
    app.token_password(&ct, PW, &at_limit)
        .await
        .assert_error("invalid_scope", 70011);
    assert_too_long(
        &app.token_password(&ct, PW, &(at_limit + "s")).await,
        "scope",
        2048,
    );
    // `claims` is not used, but is bounded all the same.
    let claims = format!(r#"{{"access_token":{{"x":"{}"}}}}"#, "c".repeat(8192 - 25));
    assert_eq!(claims.len(), 8192);
    let with_claims = |claims: String| {
        let (app, client) = (&app, client.clone());
        async move {
            app.post(
                "oauth2/v2.0/token",
                &[
                    ("client_id", &client),
                    ("grant_type", "magic"),
                    ("claims", &claims),
                ],
            )
            .await
        }
    };
    with_claims(claims.clone())
        .await
        .assert_error("unsupported_grant_type", 70003);
    assert_too_long(&with_claims(claims + " ").await, "claims", 8192);
}

#[tokio::test]
async fn attributes_follow_the_spec_limits_and_refuse_line_breaks() {
    let app = TestApp::spawn().await;
    let attrs = |display: &str| serde_json::json!({"displayName": display, "city": "Oslo"}).to_string();
    for bad in [
        "x".repeat(257),
        "Jane\r\nBcc: all@example.com".to_owned(),
        "Jane\u{2028}Doe".to_owned(),
    ] {
        let r = sign_up_start(
            &app,
            ATTR_APP,
            "attrs@example.com",
            &[("password", PW), ("attributes", &attrs(&bad))],
        )
        .await;
        r.assert_error("invalid_grant", 55107);
        assert_eq!(r.body["suberror"], "attribute_validation_failed");
        assert_eq!(
            r.body["invalid_attributes"],
            serde_json::json!([{"name": "displayName"}])
        );
    }
    let r = sign_up_start(
        &app,
        ATTR_APP,
        "attrs@example.com",
        &[("password", PW), ("attributes", &attrs(&"x".repeat(256)))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
