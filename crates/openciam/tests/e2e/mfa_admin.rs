//! The admin CLI for second-factor methods (issue 9), run as the real binary on a live server's
//! store: `user methods` lists them, `user remove-method --id` removes one, `user reset-mfa`
//! removes all; both changes are audit-logged, and bad input fails with a message.

use openciam_core::audit::AuditFilter;
use openciam_core::ids::AuthMethodId;
use openciam_core::model::{AuthMethod, AuthMethodKind};
use openciam_testkit::TestApp;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_openciam");
const EMAIL: &str = "methods@example.com";

fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .args(app.store_args())
        .env("OPENCIAM_LOG", "warn")
        .output()
        .unwrap()
}

#[track_caller]
fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn fails(out: &std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn add_method(app: &TestApp, kind: AuthMethodKind, target: &str, created_at: i64) -> AuthMethodId {
    let user = app.services.admin.user("demo", EMAIL).await.unwrap();
    let id = AuthMethodId::new_random();
    app.services
        .store
        .add_auth_method(&AuthMethod {
            id,
            tenant_id: user.tenant_id,
            user_id: user.id,
            kind,
            target: target.into(),
            created_at,
            last_used_at: None,
        })
        .await
        .unwrap();
    id
}

async fn audit(app: &TestApp, event: &str) -> Vec<openciam_core::audit::AuditRecord> {
    let filter = AuditFilter {
        event: Some(event.into()),
        ..AuditFilter::default()
    };
    app.services.audit.events(&filter).await.unwrap()
}

#[tokio::test]
async fn cli_lists_removes_and_resets_second_factor_methods() {
    let app = TestApp::spawn().await;
    app.create_user(EMAIL, "Methods-Pass-1").await;
    let user = ["--tenant", "demo", "--email", EMAIL];
    let methods = |app: &TestApp| ok(&cli(app, &[&["user", "methods"][..], &user[..]].concat()));

    assert!(methods(&app).contains("has no second-factor method"));
    let sms = add_method(&app, AuthMethodKind::Sms, "+15551234567", 1_790_000_000).await;
    let mail = add_method(&app, AuthMethodKind::Email, "second@example.com", 1_790_000_100).await;

    let listed = methods(&app);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[0].starts_with(&format!("{sms}  sms  +15551234567  added 2026-")),
        "{listed}"
    );
    assert!(lines[0].ends_with("last used never"), "{listed}");
    assert!(
        lines[1].starts_with(&format!("{mail}  email  second@example.com")),
        "{listed}"
    );

    // Remove one by id (the e-mail address is matched as usernames are).
    let sms_id = sms.to_string();
    let out = ok(&cli(
        &app,
        &[
            "user",
            "remove-method",
            "--tenant",
            "demo",
            "--email",
            "Methods@Example.COM",
            "--id",
            &sms_id,
        ],
    ));
    assert!(out.contains(&format!("removed method {sms}")), "{out}");
    let listed = methods(&app);
    assert!(
        !listed.contains("+15551234567") && listed.contains("second@example.com"),
        "{listed}"
    );

    // The same id again, a malformed id, an unknown user: errors, nothing changes.
    let again = &[&["user", "remove-method", "--id", &sms_id][..], &user[..]].concat();
    assert!(fails(&cli(&app, again)).contains(&sms_id));
    let bad = &[&["user", "remove-method", "--id", "not-a-guid"][..], &user[..]].concat();
    assert!(fails(&cli(&app, bad)).contains("not a method id"));
    let nobody = cli(
        &app,
        &[
            "user",
            "methods",
            "--tenant",
            "demo",
            "--email",
            "nobody@example.com",
        ],
    );
    assert!(fails(&nobody).contains("nobody@example.com"));
    assert_eq!(methods(&app).lines().count(), 1);

    // Reset removes the rest.
    let out = ok(&cli(&app, &[&["user", "reset-mfa"][..], &user[..]].concat()));
    assert!(out.contains("removed 1 second-factor method(s)"), "{out}");
    assert!(methods(&app).contains("has no second-factor method"));
    let out = ok(&cli(&app, &[&["user", "reset-mfa"][..], &user[..]].concat()));
    assert!(out.contains("removed 0"), "{out}");

    // Both changes are in the audit log, with the user and no request facts (CLI).
    let removed = audit(&app, "admin.mfa.remove").await;
    assert_eq!(removed.len(), 1, "{removed:#?}");
    assert_eq!(removed[0].details["method_id"], sms_id);
    assert_eq!(removed[0].username.as_deref(), Some(EMAIL));
    assert_eq!(removed[0].ip, None);
    let reset = audit(&app, "admin.mfa.reset").await;
    assert_eq!(reset.len(), 2, "{reset:#?}");
    assert_eq!(reset[0].details["removed"], 1);
    assert_eq!(reset[1].details["removed"], 0);
}

#[tokio::test]
async fn dev_seed_moves_an_old_demo_api_app_off_the_second_factor_app_id() {
    use openciam_core::admin::NewApp;
    use openciam_core::ids::ClientId;
    use openciam_core::model::SignInMethod;
    let app = TestApp::spawn().await;
    let admin = &app.services.admin;
    let mfa = openciam::seed::DEMO_MFA_CLIENT_ID.to_string();
    let api = openciam::seed::DEMO_API_CLIENT_ID.to_string();
    // A dev data directory seeded before: the demo API under 4444…, nothing under 5555….
    admin.delete_app("demo", &mfa).await.unwrap();
    admin.delete_app("demo", &api).await.unwrap();
    admin
        .create_app(
            "demo",
            NewApp {
                client_id: Some(ClientId::from_uuid(openciam::seed::DEMO_MFA_CLIENT_ID)),
                display_name: "Demo API".into(),
                method: SignInMethod::EmailPassword,
                native_auth: false,
                identifier_uri: Some("api://demo".into()),
                scopes: vec!["read".into(), "write".into()],
                ..NewApp::default()
            },
        )
        .await
        .unwrap();

    openciam::seed::seed_demo(admin).await.unwrap();
    let moved = admin.app("demo", &mfa).await.unwrap();
    assert!(moved.native_auth && moved.identifier_uri.is_none(), "{moved:?}");
    assert!(moved.mfa.as_ref().is_some_and(|p| p.required), "{moved:?}");
    let api_app = admin.app("demo", &api).await.unwrap();
    assert_eq!(api_app.identifier_uri.as_deref(), Some("api://demo"));
    // Seeding again changes nothing.
    openciam::seed::seed_demo(admin).await.unwrap();
    assert_eq!(admin.app("demo", &mfa).await.unwrap(), moved);
}
