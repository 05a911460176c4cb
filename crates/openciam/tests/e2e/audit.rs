//! The audit log: security events with the request's IP, user agent and correlation id; the
//! `openciam audit` command (real binary); retention purge.

use openciam_core::audit::{AuditFilter, AuditRecord};
use openciam_testkit::{Resp, TestApp, demo_client};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_openciam");
const RIGHT: &str = "Correct-Horse-9";
const UA: &str = "audit-test-agent/1.0";

/// POSTs `form` (with the demo client id) carrying a user agent and `client-request-id`.
async fn post(app: &TestApp, path: &str, form: &[(&str, &str)], correlation: &str) -> Resp {
    let client = demo_client();
    let mut all = vec![("client_id", client.as_str())];
    all.extend_from_slice(form);
    let response = app
        .http
        .post(format!("{}/{path}", app.base))
        .header("user-agent", UA)
        .header("client-request-id", correlation)
        .form(&all)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}

/// initiate + challenge + token with `password`, every request tagged `correlation`.
async fn sign_in(app: &TestApp, email: &str, password: &str, correlation: &str) -> Resp {
    let types = "password redirect";
    let r = post(
        app,
        "oauth2/v2.0/initiate",
        &[("username", email), ("challenge_type", types)],
        correlation,
    )
    .await;
    let r = post(
        app,
        "oauth2/v2.0/challenge",
        &[
            ("continuation_token", r.str("continuation_token")),
            ("challenge_type", types),
        ],
        correlation,
    )
    .await;
    post(
        app,
        "oauth2/v2.0/token",
        &[
            ("continuation_token", r.str("continuation_token")),
            ("grant_type", "password"),
            ("password", password),
            ("scope", "openid"),
        ],
        correlation,
    )
    .await
}

async fn events_of(app: &TestApp, email: &str) -> Vec<AuditRecord> {
    let filter = AuditFilter {
        username: Some(email.to_owned()),
        ..AuditFilter::default()
    };
    app.services.audit.events(&filter).await.unwrap()
}

/// The one event named `name` with correlation id `correlation`, checked for the request facts.
#[track_caller]
fn find<'a>(events: &'a [AuditRecord], name: &str, correlation: &str) -> &'a AuditRecord {
    let matching: Vec<_> = events
        .iter()
        .filter(|e| e.event == name && e.correlation_id.as_deref() == Some(correlation))
        .collect();
    assert_eq!(matching.len(), 1, "{name} / {correlation} in {events:#?}");
    let e = matching[0];
    assert_eq!(e.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(e.user_agent.as_deref(), Some(UA));
    e
}

#[tokio::test]
async fn sign_ins_lockouts_codes_and_resets_are_recorded_with_the_request() {
    let app = TestApp::spawn().await;
    app.services
        .admin
        .configure_security("demo", &["lockout.threshold=2".to_owned()])
        .await
        .unwrap();
    let email = "audrey@example.com";
    app.create_user(email, RIGHT).await;

    let r = sign_in(&app, email, RIGHT, "corr-success").await;
    assert_eq!(r.status, 200, "{}", r.body);
    sign_in(&app, email, "Wrong-Pass-1", "corr-failure")
        .await
        .assert_error("invalid_grant", 50126);
    sign_in(&app, email, "Wrong-Pass-2", "corr-lock")
        .await
        .assert_error("invalid_grant", 50053);

    // A reset: the code sent, and the new password.
    let types = "oob redirect";
    let c = "corr-reset";
    let r = post(
        &app,
        "resetpassword/v1.0/start",
        &[("username", email), ("challenge_type", types)],
        c,
    )
    .await;
    let ct = r.str("continuation_token").to_owned();
    let r = post(
        &app,
        "resetpassword/v1.0/challenge",
        &[("continuation_token", &ct), ("challenge_type", types)],
        c,
    )
    .await;
    let code = app.latest_code(email).unwrap();
    let ct = r.str("continuation_token").to_owned();
    let r = post(
        &app,
        "resetpassword/v1.0/continue",
        &[("continuation_token", &ct), ("grant_type", "oob"), ("oob", &code)],
        c,
    )
    .await;
    let ct = r.str("continuation_token").to_owned();
    let r = post(
        &app,
        "resetpassword/v1.0/submit",
        &[("continuation_token", &ct), ("new_password", "Brand-New-Pass-42")],
        c,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let events = events_of(&app, email).await;
    let user_id = find(&events, "signin.password.success", "corr-success").user_id;
    assert!(user_id.is_some());
    let failure = find(&events, "signin.password.failure", "corr-failure");
    assert_eq!(failure.details["reason"], "wrong_password");
    assert_eq!(failure.user_id, user_id);
    let locked = find(&events, "account.locked", "corr-lock");
    assert_eq!(locked.details["seconds"], 60);
    let sent = find(&events, "code.sent", c);
    assert_eq!(sent.details["purpose"], "resetpassword");
    let reset = find(&events, "password_reset.completed", c);
    assert_eq!(reset.user_id, user_id);
    assert_eq!(
        reset.tenant_id,
        Some(app.services.admin.tenant("demo").await.unwrap().id)
    );
    // Never a secret in the details.
    let all = serde_json::to_string(&events.iter().map(|e| &e.details).collect::<Vec<_>>()).unwrap();
    for secret in [RIGHT, "Wrong-Pass-1", "Wrong-Pass-2", &code, "Brand-New-Pass-42"] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    // Admin actions are recorded too, without request facts (they come from the CLI).
    let admin = events_of(&app, email).await;
    let created = admin.iter().find(|e| e.event == "admin.user.create").unwrap();
    assert_eq!(created.ip, None);
}

fn audit_cli(app: &TestApp, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("audit")
        .args(args)
        .args(app.store_args())
        .env("OPENCIAM_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn the_audit_command_filters_by_user_and_event() {
    let app = TestApp::spawn().await;
    app.create_user("ann@example.com", RIGHT).await;
    app.create_user("ben@example.com", RIGHT).await;
    sign_in(&app, "ann@example.com", RIGHT, "corr-ann").await;
    sign_in(&app, "ben@example.com", "Wrong-Pass-1", "corr-ben").await;

    let ann = audit_cli(&app, &["--user", "Ann@Example.com", "--since", "1h", "--json"]);
    let lines: Vec<serde_json::Value> = ann.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin.user.create", "signin.password.success"], "{ann}");
    assert!(
        lines
            .iter()
            .all(|l| l["user"] == "ann@example.com" && l["tenant"] == "demo")
    );
    assert_eq!(lines[1]["ip"], "127.0.0.1");
    assert_eq!(lines[1]["correlation_id"], "corr-ann");
    assert_eq!(lines[1]["user_agent"], UA);

    let failures = audit_cli(&app, &["--event", "signin.password.failure", "--tenant", "demo"]);
    assert_eq!(failures.lines().count(), 1, "{failures}");
    assert!(failures.contains("user=ben@example.com"), "{failures}");
    assert!(failures.contains("\"reason\":\"wrong_password\""), "{failures}");
    assert!(!failures.contains("ann@"), "{failures}");

    let future = audit_cli(&app, &["--since", "2999-01-01"]);
    assert_eq!(future, "");
}

#[tokio::test]
async fn events_past_retention_are_purged() {
    let app = TestApp::spawn().await;
    app.create_user("old@example.com", RIGHT).await;
    sign_in(&app, "old@example.com", RIGHT, "corr-old").await;
    assert_eq!(events_of(&app, "old@example.com").await.len(), 2);
    // Everything so far (the seeded tenant and apps too) is 91 days old below.
    let all = AuditFilter::default();
    let old = app.services.audit.events(&all).await.unwrap().len() as u64;

    app.clock.advance(89 * 86_400);
    app.create_user("new@example.com", RIGHT).await;
    assert_eq!(
        app.services.audit.purge_expired().await.unwrap(),
        0,
        "89 days: kept"
    );
    app.clock.advance(2 * 86_400);
    assert_eq!(
        app.services.audit.purge_expired().await.unwrap(),
        old,
        "91 days: purged"
    );
    assert!(events_of(&app, "old@example.com").await.is_empty());
    assert_eq!(
        events_of(&app, "new@example.com").await.len(),
        1,
        "younger events stay"
    );

    // The purge command on the same store uses the real clock, to which the remaining event
    // (recorded 91 fake days ahead) is not old.
    let out = audit_cli(&app, &["purge", "--older-than", "1d"]);
    assert_eq!(out.trim(), "purged 0 audit event(s) older than 86400 s");
}

#[tokio::test]
async fn key_rotation_and_admin_commands_are_recorded() {
    let app = TestApp::spawn().await;
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .args(app.store_args())
            .env("OPENCIAM_LOG", "warn")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["keys", "rotate", "--activate-after", "10m"]);
    run(&["user", "create", "--tenant", "demo", "--email", "cmd@example.com"]);
    run(&[
        "user",
        "disable",
        "--tenant",
        "demo",
        "--email",
        "cmd@example.com",
    ]);
    run(&["user", "unlock", "--tenant", "demo", "--email", "cmd@example.com"]);

    let rotated = AuditFilter {
        event: Some("keys.rotated".into()),
        ..AuditFilter::default()
    };
    let events = app.services.audit.events(&rotated).await.unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert!(events[0].details["kid"].as_str().is_some_and(|k| !k.is_empty()));
    let names: Vec<String> = events_of(&app, "cmd@example.com")
        .await
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        names,
        ["admin.user.create", "admin.user.disable", "admin.user.unlock"]
    );
}
