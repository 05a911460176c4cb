//! Enumeration-protection mode (issue 6): with `enumeration_protection=true` on the tenant, an
//! address with no account and one with an account walk sign-in (password and code apps), reset
//! and sign-up with the same statuses and the same bodies (tokens, trace ids and timestamps
//! aside); an unknown user's password costs exactly one hash; nothing is mailed to an unknown
//! address; the owner of an address someone tries to sign up with is told, with no code; mail
//! goes through the outbox, so a relay outage does not show. Timing is for the benchmarks.

use openciam_testkit::{Resp, TestApp, demo_client};
use serde_json::Value;
use std::sync::atomic::Ordering;

const CODE_APP: &str = "22222222-2222-2222-2222-222222222222";
const PASSWORD: &str = "Correct-Horse-9";
/// Two addresses whose masked forms are equal (`a***e@e*****e.com`), so the masked label in
/// `challenge` answers is the same for both.
const KNOWN: &str = "alice@example.com";
const UNKNOWN: &str = "abcde@example.com";

async fn protected_app() -> TestApp {
    let app = TestApp::spawn().await;
    app.services
        .admin
        .configure_security("demo", &["enumeration_protection=true".to_owned()])
        .await
        .unwrap();
    app
}

/// The body with what differs between any two calls (tokens, ids, times) blanked out.
fn masked(body: &Value) -> Value {
    let mut body = body.clone();
    if let Value::Object(map) = &mut body {
        for key in ["continuation_token", "trace_id", "correlation_id", "timestamp"] {
            if map.contains_key(key) {
                map.insert(key.to_owned(), Value::from("<masked>"));
            }
        }
        if let Some(Value::String(d)) = map.get_mut("error_description")
            && let Some(at) = d.find("\r\nTrace ID: ")
        {
            d.truncate(at);
        }
    }
    body
}

#[track_caller]
fn assert_same(known: &Resp, unknown: &Resp) {
    assert_eq!(known.status, unknown.status, "{} vs {}", known.body, unknown.body);
    assert_eq!(masked(&known.body), masked(&unknown.body));
}

async fn post(app: &TestApp, client: &str, path: &str, form: &[(&str, &str)]) -> Resp {
    let mut all = vec![("client_id", client)];
    all.extend_from_slice(form);
    app.post(path, &all).await
}

/// `initiate` then `challenge`; both answers.
async fn sign_in_start(app: &TestApp, client: &str, email: &str, types: &str) -> (Resp, Resp) {
    let init = post(
        app,
        client,
        "oauth2/v2.0/initiate",
        &[("username", email), ("challenge_type", types)],
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.body);
    let ch = post(
        app,
        client,
        "oauth2/v2.0/challenge",
        &[
            ("continuation_token", init.str("continuation_token")),
            ("challenge_type", types),
        ],
    )
    .await;
    (init, ch)
}

async fn token(app: &TestApp, client: &str, ct: &str, grant: (&str, &str, &str)) -> Resp {
    let (grant_type, key, value) = grant;
    post(
        app,
        client,
        "oauth2/v2.0/token",
        &[
            ("continuation_token", ct),
            ("grant_type", grant_type),
            (key, value),
            ("scope", "openid offline_access"),
            ("client_info", "1"),
        ],
    )
    .await
}

/// A code that is not `real`.
fn wrong_code(real: &str) -> &'static str {
    if real == "00000000" {
        "11111111"
    } else {
        "00000000"
    }
}

#[tokio::test]
async fn password_sign_in_looks_the_same_for_unknown_users_at_one_hash() {
    let app = protected_app().await;
    app.create_user(KNOWN, PASSWORD).await;
    let client = demo_client();
    let types = "password redirect";
    let (ki, kc) = sign_in_start(&app, &client, KNOWN, types).await;
    let (ui, uc) = sign_in_start(&app, &client, UNKNOWN, types).await;
    assert_same(&ki, &ui);
    assert_same(&kc, &uc);
    assert_eq!(uc.body["challenge_type"], "password");

    let hashes = || app.services.passwords.hashes_computed();
    let before = hashes();
    let kt = token(
        &app,
        &client,
        kc.str("continuation_token"),
        ("password", "password", "Wrong-Pass-1"),
    )
    .await;
    assert_eq!(hashes() - before, 1, "a known user's wrong password: one hash");
    let before = hashes();
    let ut = token(
        &app,
        &client,
        uc.str("continuation_token"),
        ("password", "password", "Wrong-Pass-1"),
    )
    .await;
    assert_eq!(
        hashes() - before,
        1,
        "an unknown user's password: exactly one (dummy) hash"
    );
    kt.assert_error("invalid_grant", 50126);
    assert_same(&kt, &ut);
    // The unknown user's token stays valid like the known one's, and still never succeeds.
    let ut = token(
        &app,
        &client,
        uc.str("continuation_token"),
        ("password", "password", PASSWORD),
    )
    .await;
    assert_same(&kt, &ut);
    let ok = token(
        &app,
        &client,
        kc.str("continuation_token"),
        ("password", "password", PASSWORD),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(app.mail_to(UNKNOWN).is_empty());
}

#[tokio::test]
async fn code_sign_in_looks_the_same_and_mails_only_the_known_user() {
    let app = protected_app().await;
    app.services
        .admin
        .create_user("demo", KNOWN, None, serde_json::Map::new())
        .await
        .unwrap();
    let types = "oob redirect";
    let (ki, kc) = sign_in_start(&app, CODE_APP, KNOWN, types).await;
    let (ui, uc) = sign_in_start(&app, CODE_APP, UNKNOWN, types).await;
    assert_same(&ki, &ui);
    assert_same(&kc, &uc);
    assert_eq!(uc.body["challenge_type"], "oob");
    assert_eq!(uc.str("challenge_target_label"), "a***e@e*****e.com");
    assert_eq!(uc.body["code_length"], 8);

    let code = app
        .wait_for_code(KNOWN)
        .await
        .expect("the known user's code is delivered");
    let wrong = wrong_code(&code);
    let kt = token(
        &app,
        CODE_APP,
        kc.str("continuation_token"),
        ("oob", "oob", wrong),
    )
    .await;
    let ut = token(
        &app,
        CODE_APP,
        uc.str("continuation_token"),
        ("oob", "oob", wrong),
    )
    .await;
    kt.assert_error("invalid_grant", 50181);
    assert_eq!(kt.body["suberror"], "invalid_oob_value");
    assert_same(&kt, &ut);
    // A resend looks the same too.
    let kr = post(
        &app,
        CODE_APP,
        "oauth2/v2.0/challenge",
        &[("continuation_token", kc.str("continuation_token"))],
    )
    .await;
    let ur = post(
        &app,
        CODE_APP,
        "oauth2/v2.0/challenge",
        &[("continuation_token", uc.str("continuation_token"))],
    )
    .await;
    assert_same(&kr, &ur);
    // Two codes went to the known user and were delivered; nothing was recorded for the other.
    assert_eq!(app.outbox_delivered(2).await, 2);
    assert!(app.mail_to(UNKNOWN).is_empty());
    let code = app.latest_code(KNOWN).unwrap();
    let ok = token(
        &app,
        CODE_APP,
        kr.str("continuation_token"),
        ("oob", "oob", &code),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

/// Reset `start` then `challenge`.
async fn reset_start(app: &TestApp, email: &str) -> (Resp, Resp) {
    let client = demo_client();
    let types = "oob redirect";
    let start = post(
        app,
        &client,
        "resetpassword/v1.0/start",
        &[("username", email), ("challenge_type", types)],
    )
    .await;
    assert_eq!(start.status, 200, "{}", start.body);
    let ch = post(
        app,
        &client,
        "resetpassword/v1.0/challenge",
        &[
            ("continuation_token", start.str("continuation_token")),
            ("challenge_type", types),
        ],
    )
    .await;
    (start, ch)
}

async fn reset_continue(app: &TestApp, ct: &str, code: &str) -> Resp {
    post(
        app,
        &demo_client(),
        "resetpassword/v1.0/continue",
        &[("continuation_token", ct), ("grant_type", "oob"), ("oob", code)],
    )
    .await
}

#[tokio::test]
async fn reset_looks_the_same_and_mails_only_the_known_user() {
    let app = protected_app().await;
    app.create_user(KNOWN, PASSWORD).await;
    let (ks, kc) = reset_start(&app, KNOWN).await;
    let (us, uc) = reset_start(&app, UNKNOWN).await;
    assert_same(&ks, &us);
    assert_same(&kc, &uc);
    assert_eq!(uc.body["challenge_type"], "oob");
    let code = app
        .wait_for_code(KNOWN)
        .await
        .expect("the known user's code is delivered");
    let wrong = wrong_code(&code);
    let kt = reset_continue(&app, kc.str("continuation_token"), wrong).await;
    let ut = reset_continue(&app, uc.str("continuation_token"), wrong).await;
    kt.assert_error("invalid_grant", 50181);
    assert_same(&kt, &ut);
    // An account without a password (nothing to reset) looks the same too, and gets nothing.
    let no_password = "azure@example.com";
    app.services
        .admin
        .create_user("demo", no_password, None, serde_json::Map::new())
        .await
        .unwrap();
    let (ns, nc) = reset_start(&app, no_password).await;
    assert_same(&ks, &ns);
    assert_same(&kc, &nc);
    let nt = reset_continue(&app, nc.str("continuation_token"), wrong).await;
    assert_same(&kt, &nt);
    assert_eq!(app.outbox_delivered(1).await, 1);
    assert!(app.mail_to(UNKNOWN).is_empty());
    assert!(app.mail_to(no_password).is_empty());
    let ok = reset_continue(&app, kc.str("continuation_token"), &code).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

/// Sign-up `start` (with a password) then `challenge`.
async fn sign_up_start(app: &TestApp, email: &str) -> (Resp, Resp) {
    let client = demo_client();
    let types = "oob password redirect";
    let start = post(
        app,
        &client,
        "signup/v1.0/start",
        &[
            ("username", email),
            ("challenge_type", types),
            ("password", "Signup-Pass-2026!"),
        ],
    )
    .await;
    let ch = post(
        app,
        &client,
        "signup/v1.0/challenge",
        &[
            (
                "continuation_token",
                start.body["continuation_token"].as_str().unwrap_or(""),
            ),
            ("challenge_type", types),
        ],
    )
    .await;
    (start, ch)
}

async fn sign_up_continue(app: &TestApp, ct: &str, code: &str) -> Resp {
    post(
        app,
        &demo_client(),
        "signup/v1.0/continue",
        &[("continuation_token", ct), ("grant_type", "oob"), ("oob", code)],
    )
    .await
}

#[tokio::test]
async fn sign_up_with_a_taken_address_looks_the_same_and_tells_the_owner() {
    let app = protected_app().await;
    app.create_user(KNOWN, PASSWORD).await;
    // The taken address is the "known" one here; the free address must look the same.
    let (ts, tc) = sign_up_start(&app, KNOWN).await;
    let (fs, fc) = sign_up_start(&app, UNKNOWN).await;
    assert_eq!(ts.status, 200, "{}", ts.body);
    assert_same(&ts, &fs);
    assert_same(&tc, &fc);
    assert_eq!(tc.body["challenge_type"], "oob");

    let code = app
        .wait_for_code(UNKNOWN)
        .await
        .expect("the free address gets its code");
    let notice = app
        .wait_for_mail(KNOWN, |m| m.subject.contains("Someone tried to sign up"))
        .await
        .expect("the owner is told");
    assert!(
        notice.code.is_none() && !notice.text.contains(&code),
        "{}",
        notice.text
    );
    assert!(
        app.mail_to(KNOWN).iter().all(|m| m.code.is_none()),
        "no code to the owner"
    );

    let wrong = wrong_code(&code);
    let tt = sign_up_continue(&app, tc.str("continuation_token"), wrong).await;
    let ft = sign_up_continue(&app, fc.str("continuation_token"), wrong).await;
    tt.assert_error("invalid_grant", 50181);
    assert_eq!(tt.body["suberror"], "invalid_oob_value");
    assert_same(&tt, &ft);
    let done = sign_up_continue(&app, fc.str("continuation_token"), &code).await;
    assert_eq!(done.status, 200, "{}", done.body);
    // The owner's account is untouched: the old password still signs in.
    app.sign_in(KNOWN, PASSWORD, "openid").await;
}

#[tokio::test]
async fn a_relay_outage_does_not_show_and_the_mail_arrives_later() {
    let app = protected_app().await;
    let down = "amy9e@example.com";
    app.create_user(KNOWN, PASSWORD).await;
    app.create_user(down, PASSWORD).await;
    let (_, up_challenge) = reset_start(&app, KNOWN).await;
    assert!(app.wait_for_code(KNOWN).await.is_some());

    app.mail_down.store(true, Ordering::SeqCst);
    let (_, down_challenge) = reset_start(&app, down).await;
    assert_same(&up_challenge, &down_challenge);
    assert!(app.outbox_failures(1).await >= 1, "the worker tried and failed");
    assert!(app.mail_to(down).is_empty());

    // The relay is back; the retry is due after the first backoff (5 s).
    app.mail_down.store(false, Ordering::SeqCst);
    app.clock.advance(6);
    app.services.outbox.wake();
    let code = app.wait_for_code(down).await.expect("delivered on retry");
    let ok = reset_continue(&app, down_challenge.str("continuation_token"), &code).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn without_protection_unknown_and_taken_addresses_are_reported() {
    let app = TestApp::spawn().await;
    app.create_user(KNOWN, PASSWORD).await;
    let client = demo_client();
    let r = post(
        &app,
        &client,
        "oauth2/v2.0/initiate",
        &[("username", UNKNOWN), ("challenge_type", "password redirect")],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["error"], "user_not_found");
    let r = post(
        &app,
        &client,
        "resetpassword/v1.0/start",
        &[("username", UNKNOWN), ("challenge_type", "oob redirect")],
    )
    .await;
    assert_eq!(r.body["error"], "user_not_found", "{}", r.body);
    let (r, _) = sign_up_start(&app, KNOWN).await;
    assert_eq!(r.body["error"], "user_already_exists", "{}", r.body);
    // Mail is sent directly: the code is in the mailbox when the answer comes, and nothing
    // went through the outbox.
    let (_, ch) = reset_start(&app, KNOWN).await;
    assert_eq!(ch.status, 200, "{}", ch.body);
    assert!(app.latest_code(KNOWN).is_some());
    assert_eq!(app.services.outbox.delivered(), 0);
}

#[tokio::test]
async fn an_unknown_address_locks_out_like_an_account() {
    let app = protected_app().await;
    app.services
        .admin
        .configure_security("demo", &["lockout.threshold=3".to_owned()])
        .await
        .unwrap();
    app.create_user(KNOWN, PASSWORD).await;
    let client = demo_client();
    let types = "password redirect";
    let (_, kc) = sign_in_start(&app, &client, KNOWN, types).await;
    let (_, uc) = sign_in_start(&app, &client, UNKNOWN, types).await;
    let (kct, uct) = (kc.str("continuation_token"), uc.str("continuation_token"));
    for (i, wrong) in ["Wrong-Pass-1", "Wrong-Pass-2", "Wrong-Pass-3", "Wrong-Pass-4"]
        .into_iter()
        .enumerate()
    {
        let kt = token(&app, &client, kct, ("password", "password", wrong)).await;
        let ut = token(&app, &client, uct, ("password", "password", wrong)).await;
        let expected = if i < 2 { 50126 } else { 50053 };
        kt.assert_error("invalid_grant", expected);
        ut.assert_error("invalid_grant", expected);
        if i < 3 {
            // (Later answers say how many seconds are left, which a clock tick may change.)
            assert_same(&kt, &ut);
        }
    }
    // While locked neither costs a hash.
    let before = app.services.passwords.hashes_computed();
    let ut = token(&app, &client, uct, ("password", "password", PASSWORD)).await;
    ut.assert_error("invalid_grant", 50053);
    assert_eq!(app.services.passwords.hashes_computed(), before);
}
