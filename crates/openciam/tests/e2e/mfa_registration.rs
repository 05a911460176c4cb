//! Strong-auth method registration (spec §3.4, §5.8–5.10): `registration_required` at sign-in,
//! after sign-up and after a password reset; `oob` and `preverified` targets; the method is used
//! at the next sign-in.

use crate::mfa::{CAPS, PASSWORD, PHONE, assert_tokens, mfa_app, mfa_required, password_step, post, token};
use openciam_testkit::{Resp, TestApp};

/// The `/token` answer must be `registration_required` [50079] with a token; returns it.
fn registration_required(r: &Resp) -> String {
    r.assert_error("invalid_grant", 50079);
    assert_eq!(r.body["suberror"], "registration_required", "{}", r.body);
    r.str("continuation_token").to_owned()
}

/// register/introspect: checks the e-mail method is offered; returns the challenge token.
async fn register_introspect(app: &TestApp, client: &str, ct: &str, masked_email: &str) -> String {
    let r = post(
        app,
        client,
        "register/v1.0/introspect",
        &[("continuation_token", ct)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let methods = r.body["methods"].as_array().unwrap();
    assert_eq!(methods[0]["id"], "email");
    assert_eq!(methods[0]["challenge_type"], "oob");
    assert_eq!(methods[0]["challenge_channel"], "email");
    assert_eq!(methods[0]["login_hint"], masked_email);
    assert_eq!(methods[1]["id"], "sms");
    r.str("continuation_token").to_owned()
}

async fn register_challenge(app: &TestApp, client: &str, ct: &str, target: &str, channel: &str) -> Resp {
    post(
        app,
        client,
        "register/v1.0/challenge",
        &[
            ("continuation_token", ct),
            ("challenge_type", "oob"),
            ("challenge_target", target),
            ("challenge_channel", channel),
        ],
    )
    .await
}

async fn register_continue(app: &TestApp, client: &str, form: &[(&str, &str)]) -> Resp {
    post(app, client, "register/v1.0/continue", form).await
}

async fn after_flow(app: &TestApp, client: &str, ct: &str, username: &str) -> Resp {
    token(
        app,
        client,
        &[
            ("continuation_token", ct),
            ("grant_type", "continuation_token"),
            ("username", username),
        ],
    )
    .await
}

#[tokio::test]
async fn register_an_email_with_a_code_then_it_is_the_second_factor() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    app.create_user("ka@example.com", PASSWORD).await;
    let ct = registration_required(&password_step(&app, &client, "ka@example.com", CAPS).await);
    let ct = register_introspect(&app, &client, &ct, "k*@e*****e.com").await;

    // A target that is not an address is refused with 901001 and the token stays valid.
    let r = register_challenge(&app, &client, &ct, "not-an-address", "email").await;
    r.assert_error("invalid_request", 901001);
    let r = register_challenge(&app, &client, &ct, "Ka.Other@Example.com", "email").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["challenge_type"], "oob");
    assert_eq!(r.body["binding_method"], "prompt");
    assert_eq!(r.body["challenge_channel"], "email");
    assert_eq!(r.body["challenge_target"], "ka.other@example.com");
    assert_eq!(r.body["code_length"], 8);
    let ct = r.str("continuation_token").to_owned();
    let code = app.latest_code("ka.other@example.com").unwrap();

    let wrong = if code == "11111111" {
        "22222222"
    } else {
        "11111111"
    };
    let r = register_continue(
        &app,
        &client,
        &[("continuation_token", &ct), ("grant_type", "oob"), ("oob", wrong)],
    )
    .await;
    r.assert_error("invalid_grant", 50181);
    assert_eq!(r.body["suberror"], "invalid_oob_value");
    assert!(
        app.services
            .admin
            .auth_methods("demo", "ka@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    let r = register_continue(
        &app,
        &client,
        &[("continuation_token", &ct), ("grant_type", "oob"), ("oob", &code)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    let methods = app
        .services
        .admin
        .auth_methods("demo", "ka@example.com")
        .await
        .unwrap();
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0].target, "ka.other@example.com");

    // Tokens without another code; the final token is redeemed once.
    assert_tokens(&after_flow(&app, &client, &ct, "ka@example.com").await);
    after_flow(&app, &client, &ct, "ka@example.com")
        .await
        .assert_error("invalid_request", 55200);

    // The next sign-in asks for the registered method.
    let ct = mfa_required(&password_step(&app, &client, "ka@example.com", CAPS).await);
    let r = post(
        &app,
        &client,
        "oauth2/v2.0/introspect",
        &[("continuation_token", &ct)],
    )
    .await;
    assert_eq!(
        r.body["methods"][0]["id"],
        methods[0].id.to_string(),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn register_a_phone_by_sms_and_resend_to_another_target() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    app.create_user("lu@example.com", PASSWORD).await;
    let ct = registration_required(&password_step(&app, &client, "lu@example.com", CAPS).await);
    let ct = register_introspect(&app, &client, &ct, "l*@e*****e.com").await;
    // First a typo'd address, then (with the newest token) the phone: only its code counts.
    let r = register_challenge(&app, &client, &ct, "lu.typo@example.com", "email").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let typo_code = app.latest_code("lu.typo@example.com").unwrap();
    let r = register_challenge(
        &app,
        &client,
        r.str("continuation_token"),
        "+1 (555) 123-4567",
        "sms",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["challenge_channel"], "sms");
    assert_eq!(r.body["challenge_target"], PHONE);
    let ct = r.str("continuation_token").to_owned();
    let code = app.latest_code(PHONE).unwrap();
    if typo_code != code {
        register_continue(
            &app,
            &client,
            &[
                ("continuation_token", &ct),
                ("grant_type", "oob"),
                ("oob", &typo_code),
            ],
        )
        .await
        .assert_error("invalid_grant", 50181);
    }
    // A number that is not a phone number: 901001.
    register_challenge(&app, &client, &ct, "12", "sms")
        .await
        .assert_error("invalid_request", 901001);
    let r = register_continue(
        &app,
        &client,
        &[("continuation_token", &ct), ("grant_type", "oob"), ("oob", &code)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_tokens(&after_flow(&app, &client, r.str("continuation_token"), "lu@example.com").await);
    let methods = app
        .services
        .admin
        .auth_methods("demo", "lu@example.com")
        .await
        .unwrap();
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0].target, PHONE);
}

/// signup start → challenge → continue (code, then password): the final sign-up token.
async fn sign_up(app: &TestApp, client: &str, email: &str, caps: &str) -> String {
    let types = "oob password redirect";
    let mut form = vec![("username", email), ("challenge_type", types)];
    if !caps.is_empty() {
        form.push(("capabilities", caps));
    }
    let r = post(app, client, "signup/v1.0/start", &form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(
        app,
        client,
        "signup/v1.0/challenge",
        &[
            ("continuation_token", r.str("continuation_token")),
            ("challenge_type", types),
        ],
    )
    .await;
    assert_eq!(r.body["challenge_type"], "oob", "{}", r.body);
    let code = app.latest_code(email).unwrap();
    let r = post(
        app,
        client,
        "signup/v1.0/continue",
        &[
            ("continuation_token", r.str("continuation_token")),
            ("grant_type", "oob"),
            ("oob", &code),
        ],
    )
    .await;
    r.assert_error("credential_required", 55103);
    let r = post(
        app,
        client,
        "signup/v1.0/challenge",
        &[
            ("continuation_token", r.str("continuation_token")),
            ("challenge_type", types),
        ],
    )
    .await;
    assert_eq!(r.body["challenge_type"], "password", "{}", r.body);
    let r = post(
        app,
        client,
        "signup/v1.0/continue",
        &[
            ("continuation_token", r.str("continuation_token")),
            ("grant_type", "password"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.str("continuation_token").to_owned()
}

#[tokio::test]
async fn after_sign_up_the_verified_address_registers_preverified() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    let ct = sign_up(&app, &client, "mo@example.com", CAPS).await;
    let ct = registration_required(&after_flow(&app, &client, &ct, "mo@example.com").await);
    let ct = register_introspect(&app, &client, &ct, "m*@e*****e.com").await;
    let mails_before = app.mail_to("mo@example.com").len();
    let r = register_challenge(&app, &client, &ct, "MO@example.com", "email").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["challenge_type"], "preverified");
    assert!(r.body.get("code_length").is_none());
    // No code was sent.
    assert_eq!(app.mail_to("mo@example.com").len(), mails_before);
    let ct = r.str("continuation_token").to_owned();
    // The preverified token is for the continuation_token grant only.
    register_continue(
        &app,
        &client,
        &[
            ("continuation_token", &ct),
            ("grant_type", "oob"),
            ("oob", "12345678"),
        ],
    )
    .await
    .assert_error("invalid_request", 55200);
    let r = register_continue(
        &app,
        &client,
        &[("continuation_token", &ct), ("grant_type", "continuation_token")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_tokens(&after_flow(&app, &client, r.str("continuation_token"), "mo@example.com").await);
    let methods = app
        .services
        .admin
        .auth_methods("demo", "mo@example.com")
        .await
        .unwrap();
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0].target, "mo@example.com");
}

#[tokio::test]
async fn after_sign_up_without_the_capability_token_answers_the_redirect() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    let ct = sign_up(&app, &client, "ny@example.com", "mfa_required").await;
    let r = after_flow(&app, &client, &ct, "ny@example.com").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["challenge_type"], "redirect");
    assert!(r.str("redirect_reason").contains("registration_required"));
    assert!(r.body.get("access_token").is_none());
}

#[tokio::test]
async fn after_a_password_reset_registration_then_mfa_at_the_next_reset() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    app.create_user("ox@example.com", PASSWORD).await;
    let ct = reset_flow(&app, &client, "ox@example.com", "Brand-New-Pass-42").await;
    let ct = registration_required(&after_flow(&app, &client, &ct, "ox@example.com").await);
    let ct = register_introspect(&app, &client, &ct, "o*@e*****e.com").await;
    let r = register_challenge(&app, &client, &ct, "ox@example.com", "email").await;
    // The reset proved the address with a code: no new code is needed.
    assert_eq!(r.body["challenge_type"], "preverified", "{}", r.body);
    let r = register_continue(
        &app,
        &client,
        &[
            ("continuation_token", r.str("continuation_token")),
            ("grant_type", "continuation_token"),
        ],
    )
    .await;
    assert_tokens(&after_flow(&app, &client, r.str("continuation_token"), "ox@example.com").await);
    // A second reset: the user now has a method, so the token call asks for it.
    let ct = reset_flow(&app, &client, "ox@example.com", "Other-New-Pass-43").await;
    mfa_required(&after_flow(&app, &client, &ct, "ox@example.com").await);
}

/// reset start → challenge → continue → submit → poll until `succeeded`: the final token.
async fn reset_flow(app: &TestApp, client: &str, email: &str, new_password: &str) -> String {
    let types = "oob redirect";
    let r = post(
        app,
        client,
        "resetpassword/v1.0/start",
        &[
            ("username", email),
            ("challenge_type", types),
            ("capabilities", CAPS),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(
        app,
        client,
        "resetpassword/v1.0/challenge",
        &[
            ("continuation_token", r.str("continuation_token")),
            ("challenge_type", types),
        ],
    )
    .await;
    assert_eq!(r.body["challenge_type"], "oob", "{}", r.body);
    let code = app.latest_code(email).unwrap();
    let r = post(
        app,
        client,
        "resetpassword/v1.0/continue",
        &[
            ("continuation_token", r.str("continuation_token")),
            ("grant_type", "oob"),
            ("oob", &code),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(
        app,
        client,
        "resetpassword/v1.0/submit",
        &[
            ("continuation_token", r.str("continuation_token")),
            ("new_password", new_password),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    for _ in 0..100 {
        let r = post(
            app,
            client,
            "resetpassword/v1.0/poll_completion",
            &[("continuation_token", &ct)],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.body["status"] == "succeeded" {
            return r.str("continuation_token").to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the reset did not complete");
}
