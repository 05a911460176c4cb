//! Toll-fraud limits on text messages (issue 9, spec §7.1): per phone number and per country
//! calling code, counted before a code is issued, set per tenant like every rate limit. Over a
//! limit the challenge answers 429 `temporarily_unavailable` `[90055]` with `Retry-After`, no SMS
//! goes out, and the continuation token stays valid.

use crate::mfa::{CAPS, add_method, mfa_app, mfa_required, password_step, post};
use openciam_core::model::AuthMethodKind;
use openciam_testkit::{Resp, TestApp};

const A: &str = "toll-a@example.com";
const B: &str = "toll-b@example.com";
const PHONE_A: &str = "+15551230001";
const PHONE_B: &str = "+15551230002";

/// Signs `email` in up to the MFA challenge and returns (the challenge token, the method id).
async fn to_mfa_challenge(app: &TestApp, client: &str, email: &str) -> (String, String) {
    let ct = mfa_required(&password_step(app, client, email, CAPS).await);
    let r = post(
        app,
        client,
        "oauth2/v2.0/introspect",
        &[("continuation_token", &ct)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["methods"][0]["id"].as_str().unwrap().to_owned();
    (r.str("continuation_token").to_owned(), id)
}

async fn challenge(app: &TestApp, client: &str, ct: &str, id: &str) -> Resp {
    let form = [
        ("continuation_token", ct),
        ("id", id),
        ("challenge_type", "oob redirect"),
    ];
    post(app, client, "oauth2/v2.0/challenge", &form).await
}

fn texts_to(app: &TestApp, phone: &str) -> usize {
    app.mail_to(phone).len()
}

#[track_caller]
fn assert_limited(r: &Resp, limit: &str, retry_after: std::ops::RangeInclusive<u64>) {
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["error"], "temporarily_unavailable", "{}", r.body);
    assert_eq!(r.body["error_codes"][0], 90055, "{}", r.body);
    let description = r.str("error_description");
    assert!(description.contains(&format!("'{limit}'")), "{description}");
    let after: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        retry_after.contains(&after),
        "Retry-After {after} not in {retry_after:?}"
    );
}

#[tokio::test]
async fn text_messages_are_limited_per_number_and_per_country_code() {
    let app = TestApp::spawn().await;
    let settings = ["rate_limits.sms_number.max=2", "rate_limits.sms_country.max=3"].map(String::from);
    app.services
        .admin
        .configure_security("demo", &settings)
        .await
        .unwrap();
    let client = mfa_app(&app).await;
    for (email, phone) in [(A, PHONE_A), (B, PHONE_B)] {
        app.create_user(email, crate::mfa::PASSWORD).await;
        add_method(&app, email, AuthMethodKind::Sms, phone, 1).await;
    }

    // Number A: a code, a resend after the interval, then the third is refused.
    let (ct, id) = to_mfa_challenge(&app, &client, A).await;
    let r = challenge(&app, &client, &ct, &id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    app.clock.advance(61);
    let r = challenge(&app, &client, &ct, &id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    assert_eq!(texts_to(&app, PHONE_A), 2);
    let code = app.latest_code(PHONE_A).unwrap();
    app.clock.advance(61);
    let r = challenge(&app, &client, &ct, &id).await;
    // The window began at the first text, 122 s ago (the fake clock also follows real time).
    assert_limited(&r, "sms_number", 3470..=3478);
    assert_eq!(texts_to(&app, PHONE_A), 2, "nothing was sent");
    // Nothing changed: the token and the last code still complete the sign-in.
    let r = post(
        &app,
        &client,
        "oauth2/v2.0/token",
        &[
            ("continuation_token", &ct),
            ("grant_type", "mfa_oob"),
            ("oob", &code),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["id_token"].is_string(), "{}", r.body);

    // Number B shares the country code +1: two texts of A plus one of B reach sms_country = 3.
    let (ct, id) = to_mfa_challenge(&app, &client, B).await;
    let r = challenge(&app, &client, &ct, &id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    app.clock.advance(61);
    let r = challenge(&app, &client, &ct, &id).await;
    assert_limited(&r, "sms_country", 3400..=3478);
    assert_eq!(texts_to(&app, PHONE_B), 1, "nothing was sent");
}

#[tokio::test]
async fn registering_a_number_counts_too_and_a_bad_number_is_901001() {
    let app = TestApp::spawn().await;
    let settings = ["rate_limits.sms_number.max=1".to_owned()];
    app.services
        .admin
        .configure_security("demo", &settings)
        .await
        .unwrap();
    let client = mfa_app(&app).await;
    app.create_user(A, crate::mfa::PASSWORD).await;
    let r = password_step(&app, &client, A, CAPS).await;
    r.assert_error("invalid_grant", 50079);
    let r = post(
        &app,
        &client,
        "register/v1.0/introspect",
        &[("continuation_token", r.str("continuation_token"))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    let register = |target: &'static str, ct: String| {
        let client = client.clone();
        let app = &app;
        async move {
            let form = [
                ("continuation_token", ct.as_str()),
                ("challenge_type", "oob"),
                ("challenge_channel", "sms"),
                ("challenge_target", target),
            ];
            post(app, &client, "register/v1.0/challenge", &form).await
        }
    };
    let r = register("+1 555 12", ct.clone()).await;
    r.assert_error("invalid_request", 901001);
    let r = register(PHONE_A, ct).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    assert_eq!(texts_to(&app, PHONE_A), 1);
    app.clock.advance(61);
    let r = register(PHONE_A, ct).await;
    assert_limited(&r, "sms_number", 3530..=3540);
    assert_eq!(texts_to(&app, PHONE_A), 1, "nothing was sent");
}
