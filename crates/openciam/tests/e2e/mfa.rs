//! Sign-in with a second factor (spec §3.3, §5.5–5.7): `mfa_required`, introspect, challenge by
//! method id (or Android's default method), `mfa_oob` / `oob`, resend and method switch, code
//! rules, and the redirect for clients without the capability.

use openciam_core::admin::NewApp;
use openciam_core::ids::AuthMethodId;
use openciam_core::mfa::MfaPolicy;
use openciam_core::model::{AuthMethod, AuthMethodKind};
use openciam_testkit::{Options, Resp, TestApp};

pub(crate) const PASSWORD: &str = "Correct-Horse-9";
pub(crate) const CAPS: &str = "mfa_required registration_required";
pub(crate) const PHONE: &str = "+15551234567";

/// A password app in the demo tenant that requires a second factor (e-mail or SMS).
pub(crate) async fn mfa_app(app: &TestApp) -> String {
    let created = app
        .services
        .admin
        .create_app(
            "demo",
            NewApp {
                display_name: "MFA app".into(),
                mfa: Some(MfaPolicy::parse_compact("required:email,sms").unwrap()),
                ..NewApp::default()
            },
        )
        .await
        .unwrap();
    created.client_id.to_string()
}

/// Registers a method directly in the store (registration over HTTP has its own tests).
pub(crate) async fn add_method(
    app: &TestApp,
    email: &str,
    kind: AuthMethodKind,
    target: &str,
    at: i64,
) -> AuthMethodId {
    let user = app.services.admin.user("demo", email).await.unwrap();
    let method = AuthMethod {
        id: AuthMethodId::new_random(),
        tenant_id: user.tenant_id,
        user_id: user.id,
        kind,
        target: target.into(),
        created_at: at,
        last_used_at: None,
    };
    app.services.store.add_auth_method(&method).await.unwrap();
    method.id
}

pub(crate) async fn post(app: &TestApp, client: &str, path: &str, form: &[(&str, &str)]) -> Resp {
    let mut all = vec![("client_id", client)];
    all.extend_from_slice(form);
    app.post(path, &all).await
}

/// initiate (with `caps`) → password challenge → password grant: the `/token` answer.
pub(crate) async fn password_step(app: &TestApp, client: &str, email: &str, caps: &str) -> Resp {
    let types = "oob password redirect";
    let mut form = vec![("username", email), ("challenge_type", types)];
    if !caps.is_empty() {
        form.push(("capabilities", caps));
    }
    let r = post(app, client, "oauth2/v2.0/initiate", &form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("continuation_token").is_some(), "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    let r = post(
        app,
        client,
        "oauth2/v2.0/challenge",
        &[("continuation_token", &ct), ("challenge_type", types)],
    )
    .await;
    assert_eq!(r.body["challenge_type"], "password", "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    token(
        app,
        client,
        &[
            ("continuation_token", &ct),
            ("grant_type", "password"),
            ("password", PASSWORD),
        ],
    )
    .await
}

pub(crate) async fn token(app: &TestApp, client: &str, form: &[(&str, &str)]) -> Resp {
    let mut all = form.to_vec();
    all.extend_from_slice(&[("scope", "openid offline_access"), ("client_info", "1")]);
    post(app, client, "oauth2/v2.0/token", &all).await
}

pub(crate) fn assert_tokens(r: &Resp) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer", "{}", r.body);
    for member in ["access_token", "id_token", "refresh_token", "client_info"] {
        assert!(r.body[member].is_string(), "{member} missing: {}", r.body);
    }
}

/// The `/token` answer must be `mfa_required` [50076] with a token; returns it.
pub(crate) fn mfa_required(r: &Resp) -> String {
    r.assert_error("invalid_grant", 50076);
    assert_eq!(r.body["suberror"], "mfa_required", "{}", r.body);
    r.str("continuation_token").to_owned()
}

async fn introspect(app: &TestApp, client: &str, ct: &str) -> Resp {
    post(
        app,
        client,
        "oauth2/v2.0/introspect",
        &[("continuation_token", ct)],
    )
    .await
}

async fn challenge_id(app: &TestApp, client: &str, ct: &str, id: Option<&str>) -> Resp {
    let mut form = vec![("continuation_token", ct)];
    if let Some(id) = id {
        form.push(("id", id));
        form.push(("challenge_type", "oob redirect"));
    }
    post(app, client, "oauth2/v2.0/challenge", &form).await
}

async fn mfa_oob(app: &TestApp, client: &str, ct: &str, grant: &str, code: &str) -> Resp {
    token(
        app,
        client,
        &[("continuation_token", ct), ("grant_type", grant), ("oob", code)],
    )
    .await
}

#[tokio::test]
async fn mfa_by_email_to_another_address() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    app.create_user("ada@example.com", PASSWORD).await;
    let id = add_method(
        &app,
        "ada@example.com",
        AuthMethodKind::Email,
        "ada.backup@example.com",
        1,
    )
    .await;

    let ct = mfa_required(&password_step(&app, &client, "ada@example.com", CAPS).await);
    // No tokens yet, and no code went out.
    assert!(app.latest_code("ada.backup@example.com").is_none());

    let r = introspect(&app, &client, &ct).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let methods = r.body["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0]["id"], id.to_string());
    assert_eq!(methods[0]["challenge_type"], "oob");
    assert_eq!(methods[0]["challenge_channel"], "email");
    assert_eq!(methods[0]["login_hint"], "a********p@e*****e.com");
    let ct = r.str("continuation_token").to_owned();

    let r = challenge_id(&app, &client, &ct, Some(&id.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["challenge_type"], "oob");
    assert_eq!(r.body["challenge_channel"], "email");
    assert_eq!(r.body["binding_method"], "prompt");
    assert_eq!(r.body["code_length"], 8);
    assert_eq!(r.str("challenge_target_label"), "a********p@e*****e.com");
    let ct = r.str("continuation_token").to_owned();
    let code = app.latest_code("ada.backup@example.com").unwrap();
    // The sign-in address got nothing: the code went to the method's address.
    assert!(app.latest_code("ada@example.com").is_none());

    let r = mfa_oob(&app, &client, &ct, "mfa_oob", &code).await;
    assert_tokens(&r);
    // Redeemed: the token is dead, and the method is now the last used.
    mfa_oob(&app, &client, &ct, "mfa_oob", &code)
        .await
        .assert_error("invalid_request", 55200);
    let methods = app
        .services
        .admin
        .auth_methods("demo", "ada@example.com")
        .await
        .unwrap();
    assert!(methods[0].last_used_at.is_some());
}

#[tokio::test]
async fn wrong_code_then_right_code_with_the_same_token_and_the_older_oob_grant() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    app.create_user("bo@example.com", PASSWORD).await;
    let id = add_method(&app, "bo@example.com", AuthMethodKind::Email, "bo@example.com", 1).await;
    let ct = mfa_required(&password_step(&app, &client, "bo@example.com", CAPS).await);
    let r = challenge_id(&app, &client, &ct, Some(&id.to_string())).await;
    let ct = r.str("continuation_token").to_owned();
    let code = app.latest_code("bo@example.com").unwrap();
    let wrong = if code == "11111111" {
        "22222222"
    } else {
        "11111111"
    };
    let r = mfa_oob(&app, &client, &ct, "mfa_oob", wrong).await;
    r.assert_error("invalid_grant", 50181);
    assert_eq!(r.body["suberror"], "invalid_oob_value");
    // The same token, the right code, sent as older Android builds do (`grant_type=oob`).
    assert_tokens(&mfa_oob(&app, &client, &ct, "oob", &code).await);
}

#[tokio::test]
async fn five_wrong_codes_burn_the_code_and_a_resend_brings_a_new_one() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    app.create_user("cy@example.com", PASSWORD).await;
    let id = add_method(&app, "cy@example.com", AuthMethodKind::Email, "cy@example.com", 1).await;
    let ct = mfa_required(&password_step(&app, &client, "cy@example.com", CAPS).await);
    let ct = challenge_id(&app, &client, &ct, Some(&id.to_string()))
        .await
        .str("continuation_token")
        .to_owned();
    let code = app.latest_code("cy@example.com").unwrap();
    let wrong = if code == "11111111" {
        "22222222"
    } else {
        "11111111"
    };
    for _ in 0..5 {
        mfa_oob(&app, &client, &ct, "mfa_oob", wrong)
            .await
            .assert_error("invalid_grant", 50181);
    }
    // Burnt: even the right code fails now (the first-factor rule, spec §7.1).
    mfa_oob(&app, &client, &ct, "mfa_oob", &code)
        .await
        .assert_error("invalid_grant", 50181);
    // A resend with the same token sends a fresh code, which works.
    let r = challenge_id(&app, &client, &ct, Some(&id.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fresh = app.latest_code("cy@example.com").unwrap();
    assert_tokens(&mfa_oob(&app, &client, r.str("continuation_token"), "mfa_oob", &fresh).await);
}

#[tokio::test]
async fn an_expired_code_is_refused_and_the_token_stays_for_a_resend() {
    let app = TestApp::spawn_with(Options {
        code_ttl: 60,
        ..Options::default()
    })
    .await;
    let client = mfa_app(&app).await;
    app.create_user("di@example.com", PASSWORD).await;
    let id = add_method(&app, "di@example.com", AuthMethodKind::Email, "di@example.com", 1).await;
    let ct = mfa_required(&password_step(&app, &client, "di@example.com", CAPS).await);
    let ct = challenge_id(&app, &client, &ct, Some(&id.to_string()))
        .await
        .str("continuation_token")
        .to_owned();
    let code = app.latest_code("di@example.com").unwrap();
    app.clock.advance(62);
    let r = mfa_oob(&app, &client, &ct, "mfa_oob", &code).await;
    r.assert_error("invalid_grant", 50181);
    assert_eq!(r.body["suberror"], "invalid_oob_value");
    let r = challenge_id(&app, &client, &ct, Some(&id.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fresh = app.latest_code("di@example.com").unwrap();
    assert_tokens(&mfa_oob(&app, &client, r.str("continuation_token"), "mfa_oob", &fresh).await);
}

#[tokio::test]
async fn mfa_by_sms() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    app.create_user("ed@example.com", PASSWORD).await;
    let id = add_method(&app, "ed@example.com", AuthMethodKind::Sms, PHONE, 1).await;
    let ct = mfa_required(&password_step(&app, &client, "ed@example.com", CAPS).await);
    let r = introspect(&app, &client, &ct).await;
    assert_eq!(r.body["methods"][0]["challenge_channel"], "sms", "{}", r.body);
    assert!(
        r.body["methods"][0]["login_hint"]
            .as_str()
            .unwrap()
            .ends_with("67")
    );
    assert!(
        !r.body["methods"][0]["login_hint"]
            .as_str()
            .unwrap()
            .contains("555123")
    );
    let r = challenge_id(&app, &client, r.str("continuation_token"), Some(&id.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["challenge_channel"], "sms");
    let ct = r.str("continuation_token").to_owned();
    let code = app.latest_code(PHONE).expect("an SMS in the dev outbox");
    // The dev endpoint finds it by the E.164 number.
    let url = format!("{}/_dev/mailbox/latest-code?to=%2B15551234567", app.origin);
    let r = app.get(&url).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.str("code"), code);
    assert_tokens(&mfa_oob(&app, &client, &ct, "mfa_oob", &code).await);
}

#[tokio::test]
async fn method_switch_and_resend_take_the_newest_token_and_only_the_newest_code() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    app.create_user("fi@example.com", PASSWORD).await;
    let email = add_method(&app, "fi@example.com", AuthMethodKind::Email, "fi@example.com", 1).await;
    let sms = add_method(&app, "fi@example.com", AuthMethodKind::Sms, PHONE, 2).await;
    let ct = mfa_required(&password_step(&app, &client, "fi@example.com", CAPS).await);
    let r = introspect(&app, &client, &ct).await;
    let ids: Vec<&str> = r.body["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![email.to_string(), sms.to_string()]);
    let r = challenge_id(
        &app,
        &client,
        r.str("continuation_token"),
        Some(&email.to_string()),
    )
    .await;
    assert_eq!(r.body["challenge_channel"], "email", "{}", r.body);
    let ct_email = r.str("continuation_token").to_owned();
    let email_code = app.latest_code("fi@example.com").unwrap();
    // Switch to SMS with the newest token.
    let r = challenge_id(&app, &client, &ct_email, Some(&sms.to_string())).await;
    assert_eq!(r.body["challenge_channel"], "sms", "{}", r.body);
    let ct_sms = r.str("continuation_token").to_owned();
    let sms_code = app.latest_code(PHONE).unwrap();
    // The e-mailed code is no longer the flow's code.
    if email_code != sms_code {
        mfa_oob(&app, &client, &ct_sms, "mfa_oob", &email_code)
            .await
            .assert_error("invalid_grant", 50181);
    }
    // A method the user does not have is refused, and the token stays valid.
    challenge_id(
        &app,
        &client,
        &ct_sms,
        Some(&AuthMethodId::new_random().to_string()),
    )
    .await
    .assert_error("invalid_request", 900144);
    assert_tokens(&mfa_oob(&app, &client, &ct_sms, "mfa_oob", &sms_code).await);
}

#[tokio::test]
async fn android_challenge_without_id_uses_the_last_used_method_else_the_first() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    app.create_user("gu@example.com", PASSWORD).await;
    add_method(&app, "gu@example.com", AuthMethodKind::Email, "gu@example.com", 1).await;
    let sms = add_method(&app, "gu@example.com", AuthMethodKind::Sms, PHONE, 2).await;

    // Nothing used yet: the first registered (e-mail). Android sends no challenge_type either.
    let ct = mfa_required(&password_step(&app, &client, "gu@example.com", CAPS).await);
    let r = challenge_id(&app, &client, &ct, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["challenge_channel"], "email");

    // Sign in with SMS once; then SMS is the default.
    let ct = mfa_required(&password_step(&app, &client, "gu@example.com", CAPS).await);
    let r = challenge_id(&app, &client, &ct, Some(&sms.to_string())).await;
    let code = app.latest_code(PHONE).unwrap();
    assert_tokens(&mfa_oob(&app, &client, r.str("continuation_token"), "oob", &code).await);
    let ct = mfa_required(&password_step(&app, &client, "gu@example.com", CAPS).await);
    let r = challenge_id(&app, &client, &ct, None).await;
    assert_eq!(r.body["challenge_channel"], "sms", "{}", r.body);

    // No method left (reset by an administrator mid-flow): introspect_required.
    let ct = mfa_required(&password_step(&app, &client, "gu@example.com", CAPS).await);
    assert_eq!(
        app.services
            .admin
            .reset_mfa("demo", "gu@example.com")
            .await
            .unwrap(),
        2
    );
    let r = challenge_id(&app, &client, &ct, None).await;
    r.assert_error("invalid_request", 50076);
    assert_eq!(r.body["suberror"], "introspect_required");
}

#[tokio::test]
async fn a_client_without_the_capability_is_redirected_at_initiate() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    app.create_user("hu@example.com", PASSWORD).await;
    app.create_user("iv@example.com", PASSWORD).await;
    add_method(&app, "hu@example.com", AuthMethodKind::Email, "hu@example.com", 1).await;
    let initiate = |email: &'static str, caps: &'static str| {
        let (app, client) = (&app, &client);
        async move {
            let mut form = vec![("username", email), ("challenge_type", "oob password redirect")];
            if !caps.is_empty() {
                form.push(("capabilities", caps));
            }
            post(app, client, "oauth2/v2.0/initiate", &form).await
        }
    };
    // A user with a method needs `mfa_required`.
    for caps in ["", "registration_required"] {
        let r = initiate("hu@example.com", caps).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["challenge_type"], "redirect", "{}", r.body);
        assert!(r.str("redirect_reason").contains("mfa_required"));
        assert!(r.body.get("continuation_token").is_none());
    }
    // A user without one needs `registration_required`.
    let r = initiate("iv@example.com", "mfa_required").await;
    assert_eq!(r.body["challenge_type"], "redirect", "{}", r.body);
    assert!(r.str("redirect_reason").contains("registration_required"));
    // With the capability the flow goes on; the demo app (no MFA) never asks.
    let r = initiate("hu@example.com", "mfa_required").await;
    assert!(r.body["continuation_token"].is_string(), "{}", r.body);
    let demo = openciam_testkit::demo_client();
    let r = password_step(&app, &demo, "hu@example.com", "").await;
    assert_tokens(&r);
}

#[tokio::test]
async fn second_factor_tokens_are_bound_to_their_step() {
    let app = TestApp::spawn().await;
    let client = mfa_app(&app).await;
    app.create_user("jo@example.com", PASSWORD).await;
    add_method(&app, "jo@example.com", AuthMethodKind::Email, "jo@example.com", 1).await;
    let ct = mfa_required(&password_step(&app, &client, "jo@example.com", CAPS).await);
    // The mfa_required token is not a code token, nor for registration.
    mfa_oob(&app, &client, &ct, "mfa_oob", "12345678")
        .await
        .assert_error("invalid_request", 55200);
    post(
        &app,
        &client,
        "register/v1.0/introspect",
        &[("continuation_token", &ct)],
    )
    .await
    .assert_error("invalid_request", 55200);
    // And another client cannot use it.
    let demo = openciam_testkit::demo_client();
    introspect(&app, &demo, &ct)
        .await
        .assert_error("invalid_request", 55200);
    // It still works where it belongs.
    assert_eq!(introspect(&app, &client, &ct).await.status, 200);
}

/// Checks `r` against the schema `GET /openapi.json` documents for `path` and its status.
#[track_caller]
pub(crate) fn conforms(doc: &serde_json::Value, path: &str, r: &Resp) {
    let responses = &doc["paths"][path]["post"]["responses"];
    let status = r.status.to_string();
    let schema = &responses[&status]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{path} {status}: undocumented");
    let wrapper = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&wrapper).unwrap();
    let errors: Vec<String> = validator.iter_errors(&r.body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{path} {status}: {errors:?}\n{}", r.body);
}

#[tokio::test]
async fn second_factor_responses_match_the_openapi_document() {
    let app = TestApp::spawn().await;
    let doc = app.get(&format!("{}/openapi.json", app.origin)).await.body;
    let client = mfa_app(&app).await;
    app.create_user("ky@example.com", PASSWORD).await;
    let id = add_method(&app, "ky@example.com", AuthMethodKind::Sms, PHONE, 1).await;
    let r = password_step(&app, &client, "ky@example.com", CAPS).await;
    conforms(&doc, "/{tenant}/oauth2/v2.0/token", &r);
    let r = introspect(&app, &client, &mfa_required(&r)).await;
    conforms(&doc, "/{tenant}/oauth2/v2.0/introspect", &r);
    let r = challenge_id(&app, &client, r.str("continuation_token"), Some(&id.to_string())).await;
    conforms(&doc, "/{tenant}/oauth2/v2.0/challenge", &r);
    let code = app.latest_code(PHONE).unwrap();
    let r = mfa_oob(&app, &client, r.str("continuation_token"), "mfa_oob", &code).await;
    conforms(&doc, "/{tenant}/oauth2/v2.0/token", &r);
    assert_tokens(&r);

    // Registration: introspect, an oob challenge, a refused target, continue.
    app.create_user("lo@example.com", PASSWORD).await;
    let r = password_step(&app, &client, "lo@example.com", CAPS).await;
    conforms(&doc, "/{tenant}/oauth2/v2.0/token", &r);
    let ct = r.str("continuation_token").to_owned();
    let r = post(
        &app,
        &client,
        "register/v1.0/introspect",
        &[("continuation_token", &ct)],
    )
    .await;
    conforms(&doc, "/{tenant}/register/v1.0/introspect", &r);
    let form = |ct: &str, target: &str| {
        vec![
            ("continuation_token", ct.to_owned()),
            ("challenge_type", "oob".to_owned()),
            ("challenge_target", target.to_owned()),
        ]
    };
    let ct = r.str("continuation_token").to_owned();
    for target in ["nope", "lo.other@example.com"] {
        let f = form(&ct, target);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&app, &client, "register/v1.0/challenge", &f).await;
        conforms(&doc, "/{tenant}/register/v1.0/challenge", &r);
        if r.status == 200 {
            let code = app.latest_code("lo.other@example.com").unwrap();
            let r = post(
                &app,
                &client,
                "register/v1.0/continue",
                &[
                    ("continuation_token", r.str("continuation_token")),
                    ("grant_type", "oob"),
                    ("oob", &code),
                ],
            )
            .await;
            conforms(&doc, "/{tenant}/register/v1.0/continue", &r);
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
}
