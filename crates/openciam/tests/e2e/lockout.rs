//! Smart lockout (spec §7.1 "account locked"): distinct wrong passwords lock the account with
//! `invalid_grant` [50053] for 60 s, doubling with each further lockout; while locked nothing is
//! hashed or counted and the continuation token stays valid; a sign-in, a reset, an admin's new
//! password or `openciam user unlock` clear it.

use openciam_testkit::{Resp, TestApp, demo_client};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_openciam");
const EMAIL: &str = "locky@example.com";
const RIGHT: &str = "Correct-Horse-9";
const NEW: &str = "Brand-New-Pass-42";

/// A demo-tenant user, with the tenant's lockout threshold set to `threshold`.
async fn app_with_threshold(threshold: u32) -> TestApp {
    let app = TestApp::spawn().await;
    app.services
        .admin
        .configure_security("demo", &[format!("lockout.threshold={threshold}")])
        .await
        .unwrap();
    app.create_user(EMAIL, RIGHT).await;
    app
}

#[track_caller]
fn assert_locked(r: &Resp, seconds: u64) {
    r.assert_error("invalid_grant", 50053);
    let description = r.str("error_description");
    assert!(
        description
            .starts_with("AADSTS50053: The account is locked because of too many failed sign-in attempts."),
        "{description}"
    );
    // The test clock follows real time from where a test put it, so a second may pass between
    // the lock and this answer.
    let left = [seconds, seconds.saturating_sub(1)];
    assert!(
        left.iter()
            .any(|s| description.contains(&format!("locked for {s} more second"))),
        "expected {seconds} (or one less) seconds left: {description}"
    );
}

/// Wrong passwords `wrong-1` … `wrong-n` on `ct`, each answered 50126.
async fn wrong_passwords(app: &TestApp, ct: &str, range: std::ops::RangeInclusive<u32>) {
    for n in range {
        let r = app.token_password(ct, &format!("Wrong-Pass-{n}"), "openid").await;
        r.assert_error("invalid_grant", 50126);
    }
}

/// Locks the account (threshold `t`) on `ct`: `t - 1` wrong passwords answered 50126, the last
/// answered 50053 with `seconds` left.
async fn lock(app: &TestApp, ct: &str, t: u32, first: u32, seconds: u64) {
    wrong_passwords(app, ct, first..=first + t - 2).await;
    let r = app
        .token_password(ct, &format!("Wrong-Pass-{}", first + t - 1), "openid")
        .await;
    assert_locked(&r, seconds);
}

#[tokio::test]
async fn distinct_wrong_passwords_lock_the_account_at_the_threshold() {
    let app = app_with_threshold(3).await;
    let ct = app.password_token(EMAIL).await;
    wrong_passwords(&app, &ct, 1..=2).await;
    let r = app.token_password(&ct, "Wrong-Pass-3", "openid").await;
    assert_locked(&r, 60);
    // The right password is refused too while locked; another flow of the user as well.
    assert_locked(&app.token_password(&ct, RIGHT, "openid").await, 60);
    let other = app.password_token(EMAIL).await;
    assert_locked(&app.token_password(&other, RIGHT, "openid").await, 60);
}

#[tokio::test]
async fn the_default_threshold_is_ten() {
    let app = TestApp::spawn().await;
    app.create_user(EMAIL, RIGHT).await;
    let ct = app.password_token(EMAIL).await;
    lock(&app, &ct, 10, 1, 60).await;
}

#[tokio::test]
async fn the_same_wrong_password_repeated_counts_once() {
    let app = app_with_threshold(3).await;
    let ct = app.password_token(EMAIL).await;
    for _ in 0..6 {
        let r = app.token_password(&ct, "Wrong-Pass-1", "openid").await;
        r.assert_error("invalid_grant", 50126);
    }
    wrong_passwords(&app, &ct, 2..=2).await;
    // Two distinct wrong passwords so far: not locked.
    let r = app.token_password(&ct, RIGHT, "openid").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn while_locked_nothing_is_hashed_and_the_token_works_after_the_lock() {
    let app = app_with_threshold(3).await;
    let ct = app.password_token(EMAIL).await;
    lock(&app, &ct, 3, 1, 60).await;
    let hashes = app.services.passwords.hashes_computed();
    for password in [RIGHT, "Wrong-Pass-7", "Wrong-Pass-8", "Wrong-Pass-9"] {
        assert_locked(&app.token_password(&ct, password, "openid").await, 60);
    }
    assert_eq!(
        app.services.passwords.hashes_computed(),
        hashes,
        "no hash while locked"
    );
    app.clock.advance(30);
    assert_locked(&app.token_password(&ct, RIGHT, "openid").await, 30);
    app.clock.advance(30);
    // Attempts during the lock were not counted: one more wrong password does not lock again.
    wrong_passwords(&app, &ct, 10..=10).await;
    let r = app.token_password(&ct, RIGHT, "openid").await;
    assert_eq!(
        r.status, 200,
        "same continuation token after the lock: {}",
        r.body
    );
}

#[tokio::test]
async fn a_second_lockout_lasts_twice_as_long() {
    let app = app_with_threshold(2).await;
    let ct = app.password_token(EMAIL).await;
    lock(&app, &ct, 2, 1, 60).await;
    app.clock.advance(60);
    lock(&app, &ct, 2, 3, 120).await;
    app.clock.advance(60);
    assert_locked(&app.token_password(&ct, RIGHT, "openid").await, 60);
    app.clock.advance(60);
    let r = app.token_password(&ct, RIGHT, "openid").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_successful_sign_in_resets_the_failure_count() {
    let app = app_with_threshold(3).await;
    let ct = app.password_token(EMAIL).await;
    wrong_passwords(&app, &ct, 1..=2).await;
    let r = app.token_password(&ct, RIGHT, "openid").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = app.password_token(EMAIL).await;
    // Two more distinct failures: 2, not 4, so still unlocked.
    wrong_passwords(&app, &ct, 3..=4).await;
    let r = app.token_password(&ct, RIGHT, "openid").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> Resp {
    let client = demo_client();
    let mut all = vec![("client_id", client.as_str())];
    all.extend_from_slice(form);
    app.post(path, &all).await
}

/// A whole self-service reset to `new_password`.
async fn reset_password(app: &TestApp, email: &str, new_password: &str) {
    let types = "oob redirect";
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
    let code = app.latest_code(email).unwrap();
    let r = post(
        app,
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
        "resetpassword/v1.0/submit",
        &[
            ("continuation_token", r.str("continuation_token")),
            ("new_password", new_password),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_password_reset_clears_the_lockout() {
    let app = app_with_threshold(2).await;
    let ct = app.password_token(EMAIL).await;
    lock(&app, &ct, 2, 1, 60).await;
    reset_password(&app, EMAIL, NEW).await;
    let r = app.sign_in(EMAIL, NEW, "openid").await;
    assert_eq!(r.status, 200);
    // The streak is gone too: the next lockout is a first one again.
    let ct = app.password_token(EMAIL).await;
    lock(&app, &ct, 2, 5, 60).await;
}

#[tokio::test]
async fn an_admin_password_change_clears_the_lockout() {
    let app = app_with_threshold(2).await;
    let ct = app.password_token(EMAIL).await;
    lock(&app, &ct, 2, 1, 60).await;
    let pw = openciam_core::secret::Password::new(NEW);
    app.services.admin.set_password("demo", EMAIL, &pw).await.unwrap();
    app.sign_in(EMAIL, NEW, "openid").await;
}

#[tokio::test]
async fn user_unlock_on_the_cli_clears_the_lockout() {
    let app = app_with_threshold(2).await;
    let ct = app.password_token(EMAIL).await;
    lock(&app, &ct, 2, 1, 60).await;
    let unlock = |email: &str| {
        Command::new(BIN)
            .args(["user", "unlock", "--tenant", "demo", "--email", email])
            .args(app.store_args())
            .env("OPENCIAM_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = unlock("LOCKY@example.com");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unlocked"));
    // The same continuation token now signs in.
    let r = app.token_password(&ct, RIGHT, "openid").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let out = unlock(EMAIL);
    assert!(String::from_utf8_lossy(&out.stdout).contains("was not locked"));
    let out = unlock("nobody@example.com");
    assert!(!out.status.success(), "an unknown user is an error");
}
