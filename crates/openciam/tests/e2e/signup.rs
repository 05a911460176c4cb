//! Sign-up (spec §3.1, §5.1–5.3, §5.7.5) over HTTP, codes read from the dev mailbox.

use openciam_testkit::{Options, Resp, TestApp, demo_client};
use std::sync::atomic::Ordering;

const PW: &str = "Signup-Pass-2026!";
const CODE_APP: &str = "22222222-2222-2222-2222-222222222222";
const ATTR_APP: &str = "33333333-3333-3333-3333-333333333333";

async fn start(app: &TestApp, client: &str, email: &str, extra: &[(&str, &str)]) -> Resp {
    let mut form = vec![
        ("client_id", client),
        ("username", email),
        ("challenge_type", "oob password redirect"),
    ];
    form.extend_from_slice(extra);
    app.post("signup/v1.0/start", &form).await
}

async fn challenge(app: &TestApp, client: &str, ct: &str) -> Resp {
    app.post(
        "signup/v1.0/challenge",
        &[
            ("client_id", client),
            ("continuation_token", ct),
            ("challenge_type", "oob password redirect"),
        ],
    )
    .await
}

async fn cont(app: &TestApp, client: &str, ct: &str, form: &[(&str, &str)]) -> Resp {
    let mut all = vec![("client_id", client), ("continuation_token", ct)];
    all.extend_from_slice(form);
    app.post("signup/v1.0/continue", &all).await
}

async fn redeem(app: &TestApp, client: &str, ct: &str, grant: &str) -> Resp {
    app.post(
        "oauth2/v2.0/token",
        &[
            ("client_id", client),
            ("continuation_token", ct),
            ("grant_type", grant),
            ("password", PW),
            ("scope", "openid offline_access"),
            ("client_info", "1"),
        ],
    )
    .await
}

/// start → challenge (code mailed); returns the oob-step token.
async fn code_sent(app: &TestApp, client: &str, email: &str, extra: &[(&str, &str)]) -> String {
    let r = start(app, client, email, extra).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = challenge(app, client, r.str("continuation_token")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["challenge_type"], "oob");
    assert_eq!(r.body["code_length"], 8);
    assert_eq!(r.body["challenge_channel"], "email");
    assert_eq!(r.body["binding_method"], "prompt");
    assert!(r.body["interval"].is_u64());
    assert!(r.str("challenge_target_label").contains('*'));
    r.str("continuation_token").to_owned()
}

#[tokio::test]
async fn password_sign_up_then_the_seed_case_then_sign_in() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let ct = code_sent(&app, &client, "new@example.com", &[("password", PW)]).await;
    let code = app.latest_code("NEW@example.com").unwrap();
    assert_eq!(code.len(), 8);
    let r = cont(&app, &client, &ct, &[("grant_type", "oob"), ("oob", &code)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let final_ct = r.str("continuation_token").to_owned();
    // The seed case: the sign-up token sent with grant_type=password.
    let r = redeem(&app, &client, &final_ct, "password").await;
    r.assert_error("invalid_request", 55200);
    let d = r.str("error_description");
    assert!(d.contains("grant_type=continuation_token"), "{d}");
    assert!(
        d.contains("sent to oauth2/v2.0/token with grant_type=password"),
        "{d}"
    );
    // ...and the correct call made next succeeds.
    let r = redeem(&app, &client, &final_ct, "continuation_token").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.jwt_claims("id_token")["preferred_username"], "new@example.com");
    // Redeemed once.
    redeem(&app, &client, &final_ct, "continuation_token")
        .await
        .assert_error("invalid_request", 55200);
    // The account signs in with its password.
    app.sign_in("new@example.com", PW, "openid").await;
}

#[tokio::test]
async fn password_given_later_via_credential_required() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let ct = code_sent(&app, &client, "later@example.com", &[]).await;
    let code = app.latest_code("later@example.com").unwrap();
    let r = cont(&app, &client, &ct, &[("grant_type", "oob"), ("oob", &code)]).await;
    r.assert_error("credential_required", 55103);
    let ct = r.str("continuation_token").to_owned();
    let r = challenge(&app, &client, &ct).await;
    assert_eq!(r.body["challenge_type"], "password", "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    // Each policy suberror, the token staying usable.
    for (pw, sub) in [
        ("Ab1!", "password_too_short"),
        (&*"Aa1!".repeat(70), "password_too_long"),
        ("Abcdefg1\t", "password_is_invalid"),
        ("password123", "password_banned"),
        ("alllowercase", "password_too_weak"),
    ] {
        let r = cont(
            &app,
            &client,
            &ct,
            &[("grant_type", "password"), ("password", pw)],
        )
        .await;
        r.assert_error("invalid_grant", 399246);
        assert_eq!(r.body["suberror"], sub);
    }
    let r = cont(
        &app,
        &client,
        &ct,
        &[("grant_type", "password"), ("password", PW)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let username_mismatch = app
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", client.as_str()),
                ("continuation_token", r.str("continuation_token")),
                ("grant_type", "continuation_token"),
                ("username", "someone-else@example.com"),
            ],
        )
        .await;
    username_mismatch.assert_error("invalid_request", 55200);
    let ok = app
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", client.as_str()),
                ("continuation_token", r.str("continuation_token")),
                ("grant_type", "continuation_token"),
                ("username", "LATER@example.com"),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn code_only_sign_up_creates_a_passwordless_account() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "signup/v1.0/start",
            &[
                ("client_id", CODE_APP),
                ("username", "otp@example.com"),
                ("challenge_type", "oob redirect"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = challenge(&app, CODE_APP, r.str("continuation_token")).await;
    let ct = r.str("continuation_token").to_owned();
    let code = app.latest_code("otp@example.com").unwrap();
    let r = cont(&app, CODE_APP, &ct, &[("grant_type", "oob"), ("oob", &code)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let user = app.services.admin.user("demo", "otp@example.com").await.unwrap();
    assert!(user.password_hash.is_none());
    let r = redeem(&app, CODE_APP, r.str("continuation_token"), "continuation_token").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn attributes_required_invalid_optional_and_unknown() {
    let app = TestApp::spawn().await;
    let ct = code_sent(&app, ATTR_APP, "attr@example.com", &[("password", PW)]).await;
    let code = app.latest_code("attr@example.com").unwrap();
    let r = cont(&app, ATTR_APP, &ct, &[("grant_type", "oob"), ("oob", &code)]).await;
    r.assert_error("attributes_required", 55106);
    let names: Vec<&str> = r.body["required_attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["displayName", "city"]);
    for item in r.body["required_attributes"].as_array().unwrap() {
        assert_eq!(item["type"], "string");
        assert_eq!(item["required"], true);
    }
    let ct = r.str("continuation_token").to_owned();
    // Invalid value: named in invalid_attributes; the token stays usable.
    let long = format!(r#"{{"displayName":"Jane","city":"{}"}}"#, "x".repeat(200));
    let r = cont(
        &app,
        ATTR_APP,
        &ct,
        &[("grant_type", "attributes"), ("attributes", &long)],
    )
    .await;
    r.assert_error("invalid_grant", 55107);
    assert_eq!(r.body["suberror"], "attribute_validation_failed");
    assert_eq!(
        r.body["invalid_attributes"],
        serde_json::json!([{"name": "city"}])
    );
    // Still missing one: attributes_required again; unknown names ignored.
    let r = cont(
        &app,
        ATTR_APP,
        &ct,
        &[
            ("grant_type", "attributes"),
            ("attributes", r#"{"displayName":"Jane","shoeSize":44}"#),
        ],
    )
    .await;
    r.assert_error("attributes_required", 55106);
    let ct = r.str("continuation_token").to_owned();
    let r = cont(
        &app,
        ATTR_APP,
        &ct,
        &[("grant_type", "attributes"), ("attributes", r#"{"city":12345}"#)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let user = app.services.admin.user("demo", "attr@example.com").await.unwrap();
    assert_eq!(user.attributes["displayName"], "Jane");
    assert_eq!(
        user.attributes["city"], "12345",
        "coerced to the declared string type"
    );
    assert!(user.attributes.get("shoeSize").is_none());
    // Attributes at start are accepted too.
    let ct = code_sent(
        &app,
        ATTR_APP,
        "attr2@example.com",
        &[
            ("password", PW),
            ("attributes", r#"{"displayName":"Al","city":"Oslo"}"#),
        ],
    )
    .await;
    let code = app.latest_code("attr2@example.com").unwrap();
    let r = cont(&app, ATTR_APP, &ct, &[("grant_type", "oob"), ("oob", &code)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn wrong_codes_then_right_then_burnt() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let ct = code_sent(&app, &client, "codes@example.com", &[("password", PW)]).await;
    let code = app.latest_code("codes@example.com").unwrap();
    let r = cont(&app, &client, &ct, &[("grant_type", "oob"), ("oob", "00000000")]).await;
    r.assert_error("invalid_grant", 50181);
    assert_eq!(r.body["suberror"], "invalid_oob_value");
    let r = cont(&app, &client, &ct, &[("grant_type", "oob"), ("oob", &code)]).await;
    assert_eq!(r.status, 200, "same token after a wrong code: {}", r.body);

    let ct = code_sent(&app, &client, "burn@example.com", &[("password", PW)]).await;
    let code = app.latest_code("burn@example.com").unwrap();
    for _ in 0..5 {
        cont(&app, &client, &ct, &[("grant_type", "oob"), ("oob", "11111111")])
            .await
            .assert_error("invalid_grant", 50181);
    }
    let r = cont(&app, &client, &ct, &[("grant_type", "oob"), ("oob", &code)]).await;
    r.assert_error("invalid_grant", 50181);
    assert!(r.str("error_description").contains("Request a new code"));
    // The token still allows a resend, and the new code works.
    let r = challenge(&app, &client, &ct).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_code = app.latest_code("burn@example.com").unwrap();
    let r = cont(
        &app,
        &client,
        r.str("continuation_token"),
        &[("grant_type", "oob"), ("oob", &new_code)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_resend_invalidates_the_old_code_and_keeps_both_tokens() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let ct1 = code_sent(&app, &client, "resend@example.com", &[("password", PW)]).await;
    let old = app.latest_code("resend@example.com").unwrap();
    let r = challenge(&app, &client, &ct1).await;
    assert_eq!(r.status, 200);
    let ct2 = r.str("continuation_token").to_owned();
    let new = app.latest_code("resend@example.com").unwrap();
    assert_ne!(old, new);
    cont(&app, &client, &ct2, &[("grant_type", "oob"), ("oob", &old)])
        .await
        .assert_error("invalid_grant", 50181);
    // The older token is still valid (a resend does not advance the flow).
    let r = cont(&app, &client, &ct1, &[("grant_type", "oob"), ("oob", &new)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn resends_are_spaced_and_codes_expire() {
    let app = TestApp::spawn_with(Options {
        resend_interval: 60,
        ..Options::default()
    })
    .await;
    let client = demo_client();
    let ct = code_sent(&app, &client, "slow@example.com", &[("password", PW)]).await;
    let code = app.latest_code("slow@example.com").unwrap();
    let r = challenge(&app, &client, &ct).await;
    r.assert_error("invalid_request", 701014);
    assert!(r.str("error_description").contains("seconds"));
    // The refused resend changed nothing: the code still works... after it expires it does not.
    app.clock.advance(601);
    let r = cont(&app, &client, &ct, &[("grant_type", "oob"), ("oob", &code)]).await;
    // The continuation token lived 600 s too, so the flow must be restarted.
    r.assert_error("expired_token", 552003);
    let ct = code_sent(&app, &client, "slow2@example.com", &[("password", PW)]).await;
    let code = app.latest_code("slow2@example.com").unwrap();
    app.clock.advance(61);
    let r = challenge(&app, &client, &ct).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    let newer = app.latest_code("slow2@example.com").unwrap();
    cont(&app, &client, &ct, &[("grant_type", "oob"), ("oob", &code)])
        .await
        .assert_error("invalid_grant", 50181);
    assert_eq!(
        cont(&app, &client, &ct, &[("grant_type", "oob"), ("oob", &newer)])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn codes_per_address_are_capped() {
    let app = TestApp::spawn_with(Options {
        max_codes_per_address: 2,
        ..Options::default()
    })
    .await;
    let client = demo_client();
    let ct = code_sent(&app, &client, "cap@example.com", &[("password", PW)]).await;
    assert_eq!(challenge(&app, &client, &ct).await.status, 200);
    challenge(&app, &client, &ct)
        .await
        .assert_error("invalid_request", 701014);
}

#[tokio::test]
async fn existing_users_and_the_same_email_race() {
    let app = TestApp::spawn().await;
    app.create_user("taken@example.com", PW).await;
    let r = start(&app, &demo_client(), "TAKEN@example.com", &[]).await;
    r.assert_error("user_already_exists", 1003037);
    // Two sign-ups for one address racing to completion: exactly one account.
    let client = demo_client();
    let a = code_sent(&app, &client, "race@example.com", &[("password", PW)]).await;
    let code_a = app.latest_code("race@example.com").unwrap();
    let b = code_sent(&app, &client, "race@example.com", &[("password", PW)]).await;
    let code_b = app.latest_code("race@example.com").unwrap();
    let form_a = [("grant_type", "oob"), ("oob", code_a.as_str())];
    let form_b = [("grant_type", "oob"), ("oob", code_b.as_str())];
    let (ra, rb) = tokio::join!(cont(&app, &client, &a, &form_a), cont(&app, &client, &b, &form_b));
    let statuses = [ra.status, rb.status];
    assert!(statuses.contains(&200), "{} / {}", ra.body, rb.body);
    let loser = if ra.status == 200 { &rb } else { &ra };
    loser.assert_error("user_already_exists", 1003037);
    assert_eq!(
        app.services
            .admin
            .list_users("demo")
            .await
            .unwrap()
            .iter()
            .filter(|u| u.username_normalized == "race@example.com")
            .count(),
        1
    );
}

#[tokio::test]
async fn mail_failure_then_recovery() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let r = start(&app, &client, "outage@example.com", &[("password", PW)]).await;
    let ct = r.str("continuation_token").to_owned();
    app.mail_down.store(true, Ordering::SeqCst);
    let r = challenge(&app, &client, &ct).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(r.body["error"], "temporarily_unavailable");
    assert!(app.latest_code("outage@example.com").is_none());
    app.mail_down.store(false, Ordering::SeqCst);
    let r = challenge(&app, &client, &ct).await;
    assert_eq!(
        r.status, 200,
        "the same token works once mail is back: {}",
        r.body
    );
    let code = app.latest_code("outage@example.com").unwrap();
    let r = cont(
        &app,
        &client,
        r.str("continuation_token"),
        &[("grant_type", "oob"), ("oob", &code)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn challenge_type_negotiation_at_start() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "signup/v1.0/start",
            &[
                ("client_id", demo_client().as_str()),
                ("username", "n@example.com"),
                ("challenge_type", "oob redirect"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["challenge_type"], "redirect");
    let r = app
        .post(
            "signup/v1.0/start",
            &[
                ("client_id", demo_client().as_str()),
                ("username", "n@example.com"),
                ("challenge_type", "oob password"),
            ],
        )
        .await;
    r.assert_error("unsupported_challenge_type", 901007);
}

#[tokio::test]
async fn dev_mailbox_serves_people_and_tests() {
    let app = TestApp::spawn().await;
    code_sent(&app, &demo_client(), "box@example.com", &[("password", PW)]).await;
    let code = app.latest_code("box@example.com").unwrap();
    let r = app
        .get(&format!(
            "{}/_dev/mailbox/latest-code?to=BOX@example.com&purpose=signup",
            app.origin
        ))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.str("code"), code);
    let r = app
        .get(&format!(
            "{}/_dev/mailbox/latest-code?to=box@example.com&purpose=resetpassword",
            app.origin
        ))
        .await;
    assert_eq!(r.status, 404);
    let r = app.get(&format!("{}/_dev/mailbox?format=json", app.origin)).await;
    let first = &r.body["messages"][0];
    assert_eq!(first["to"], "box@example.com");
    assert_eq!(first["purpose"], "signup");
    assert!(first["text"].as_str().unwrap().contains(&code));
    let html = app
        .http
        .get(format!("{}/_dev/mailbox", app.origin))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(html.text().await.unwrap().contains(&code));
}
