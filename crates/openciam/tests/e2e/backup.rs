//! `openciam backup --to FILE`: a consistent copy of the SQLite database taken while the server
//! runs under sign-up load; a server started on the copy signs in a user who existed before the
//! backup, and the copy passes `integrity_check`. On PostgreSQL the command refuses and points
//! at pg_dump.

use crate::serve_node::{BIN, ServeNode, fresh_client, password_ct, password_grant};
use openciam_testkit::{TestApp, demo_client, postgres_url};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const PW: &str = "Backup-Pass-2026!";

/// A whole password sign-up over HTTP (start with the password, code from the dev mailbox,
/// continue, redeem); returns whether it completed.
async fn sign_up(app: &TestApp, email: &str) -> bool {
    let client = demo_client();
    let r = app
        .post(
            "signup/v1.0/start",
            &[
                ("client_id", &client),
                ("username", email),
                ("challenge_type", "oob password redirect"),
                ("password", PW),
            ],
        )
        .await;
    if r.status != 200 {
        return false;
    }
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
    if r.status != 200 {
        return false;
    }
    let ct = r.str("continuation_token").to_owned();
    let Some(code) = app.wait_for_code(email).await else {
        return false;
    };
    let r = app
        .post(
            "signup/v1.0/continue",
            &[
                ("client_id", &client),
                ("continuation_token", &ct),
                ("grant_type", "oob"),
                ("oob", &code),
            ],
        )
        .await;
    if r.status != 200 {
        return false;
    }
    let r = app
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", &client),
                ("continuation_token", r.str("continuation_token")),
                ("grant_type", "continuation_token"),
                ("scope", "openid"),
            ],
        )
        .await;
    r.status == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_online_backup_under_sign_up_load_restores_into_a_working_server() {
    let app = Arc::new(TestApp::spawn().await);
    let target = app.dir.path().join("backups").join("openciam-backup.db");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    if postgres_url().is_some() {
        let out = std::process::Command::new(BIN)
            .arg("backup")
            .args(app.store_args())
            .arg("--to")
            .arg(&target)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("pg_dump") && err.contains("SQLite databases only"),
            "{err}"
        );
        assert!(!target.exists(), "nothing written");
        return;
    }
    assert!(sign_up(&app, "before@example.com").await);
    // Sign-ups keep arriving while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let mut load = tokio::task::JoinSet::new();
    for worker in 0..3 {
        let (app, stop, done) = (app.clone(), stop.clone(), done.clone());
        load.spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                assert!(sign_up(&app, &format!("load{worker}-{n}@example.com")).await);
                done.fetch_add(1, Ordering::SeqCst);
                n += 1;
            }
        });
    }
    while done.load(Ordering::SeqCst) < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let args: Vec<String> = app.store_args();
    let to = target.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .arg("backup")
            .args(&args)
            .arg("--to")
            .arg(&to)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let during = done.load(Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    while let Some(r) = load.join_next().await {
        r.unwrap();
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("integrity_check ok"), "{stdout}");
    assert!(
        done.load(Ordering::SeqCst) > during,
        "sign-ups went on after the backup"
    );

    // The copy is whole.
    {
        use sqlx::Connection as _;
        let url = format!("sqlite://{}", target.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(check, "ok");
        let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(
            users >= 4,
            "the user made before and the first sign-ups of the load: {users}"
        );
    }
    // A second backup to the same file is refused, not overwritten.
    let again = std::process::Command::new(BIN)
        .arg("backup")
        .args(app.store_args())
        .arg("--to")
        .arg(&target)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // Restore: a server on the copy signs in the user who signed up before it.
    let url = format!("sqlite://{}?mode=rwc", target.display());
    let restored = ServeNode::start_on(&app, "restored", &url, "");
    let http = fresh_client();
    let ct = password_ct(&http, &restored.origin, "before@example.com").await;
    let (status, body, _) = password_grant(&http, &restored.origin, &ct, PW).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].is_string(), "{body}");
}
