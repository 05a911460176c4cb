//! The real binary: admin CLI on a live server's store, `dev` start-up, `serve` refusing bad config.

use openciam_testkit::TestApp;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_openciam");

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

#[tokio::test]
async fn cli_users_work_against_a_running_server() {
    let app = TestApp::spawn().await;
    ok(&cli(
        &app,
        &[
            "user",
            "create",
            "--tenant",
            "demo",
            "--email",
            "Cli@Example.com",
            "--password",
            "Cli-Pass-123",
            "--attr",
            "displayName=Cli User",
        ],
    ));
    let r = app.sign_in("cli@example.com", "Cli-Pass-123", "openid").await;
    assert_eq!(r.jwt_claims("id_token")["name"], "Cli User");
    let rt = r.str("refresh_token").to_owned();

    let dup = cli(
        &app,
        &[
            "user",
            "create",
            "--tenant",
            "demo",
            "--email",
            "cli@EXAMPLE.com",
            "--password",
            "x",
        ],
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    let listed = ok(&cli(&app, &["user", "list", "--tenant", "demo"]));
    assert!(listed.contains("Cli@Example.com"));
    assert!(!listed.contains("argon2"), "hashes are never printed");

    ok(&cli(
        &app,
        &[
            "user",
            "disable",
            "--tenant",
            "demo",
            "--email",
            "cli@example.com",
        ],
    ));
    app.refresh(&rt, "openid")
        .await
        .assert_error("invalid_grant", 50173);
    let ct = app.password_token("cli@example.com").await;
    app.token_password(&ct, "Cli-Pass-123", "openid")
        .await
        .assert_error("invalid_grant", 50057);
    ok(&cli(
        &app,
        &["user", "enable", "--tenant", "demo", "--email", "cli@example.com"],
    ));
    assert_eq!(
        app.token_password(&ct, "Cli-Pass-123", "openid").await.status,
        200
    );

    let mut child = Command::new(BIN)
        .args([
            "user",
            "set-password",
            "--tenant",
            "demo",
            "--email",
            "cli@example.com",
            "--password-stdin",
        ])
        .args(app.store_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"New-Cli-Pass-456\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let ct = app.password_token("cli@example.com").await;
    app.token_password(&ct, "Cli-Pass-123", "openid")
        .await
        .assert_error("invalid_grant", 50126);
    let r = app.token_password(&ct, "New-Cli-Pass-456", "openid").await;
    assert_eq!(r.status, 200);

    let out = ok(&cli(
        &app,
        &[
            "user",
            "revoke-sessions",
            "--tenant",
            "demo",
            "--email",
            "cli@example.com",
        ],
    ));
    assert!(out.contains("revoked 1"), "{out}");
    app.refresh(r.str("refresh_token"), "openid")
        .await
        .assert_error("invalid_grant", 50173);
}

#[tokio::test]
async fn cli_tenants_and_apps() {
    let app = TestApp::spawn().await;
    let out = ok(&cli(&app, &["tenant", "create", "--name", "contoso"]));
    assert!(out.contains("contoso.onmicrosoft.com"));
    assert!(ok(&cli(&app, &["tenant", "list"])).contains("demo"));
    let out = ok(&cli(
        &app,
        &[
            "app",
            "create",
            "--tenant",
            "contoso",
            "--name",
            "Shop",
            "--cors-origin",
            "https://shop.example",
        ],
    ));
    let client = out.split_whitespace().next().unwrap().to_owned();
    assert!(ok(&cli(&app, &["app", "list", "--tenant", "contoso"])).contains(&client));
    ok(&cli(
        &app,
        &[
            "user",
            "create",
            "--tenant",
            "contoso",
            "--email",
            "z@example.com",
            "--password",
            "Zed-Pass-123",
        ],
    ));
    let r = app
        .post_to(
            &format!("{}/contoso.onmicrosoft.com/oauth2/v2.0/initiate", app.origin),
            &[
                ("client_id", &client),
                ("username", "z@example.com"),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn dev_prints_its_urls_and_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env("OPENCIAM_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    for _ in 0..4 {
        seen.push_str(&lines.next().unwrap().unwrap());
        seen.push('\n');
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.contains("listening on http://127.0.0.1:"), "{seen}");
    assert!(seen.contains("/demo"), "{seen}");
    assert!(seen.contains("11111111-1111-1111-1111-111111111111"), "{seen}");
    let key = dir.path().join("master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn serve_refuses_to_start_without_required_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("openciam.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\n[database]\nurl = \"sqlite://x.db\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("OPENCIAM_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master_key"), "{err}");
    assert!(err.contains("public_url"), "{err}");
}

#[test]
fn serve_starts_from_config_with_env_and_file_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    std::fs::write(&key, openciam_core::crypto::MasterKey::generate_base64()).unwrap();
    let db = dir.path().join("prod.db");
    let config = dir.path().join("openciam.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\npublic_url = \"https://login.example.com\"\n\
             [database]\nurl = \"sqlite://{}?mode=rwc\"\n\
             [mail]\nbackend = \"smtp\"\nfrom = \"Contoso <no-reply@contoso.example>\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\n[[tenants]]\nname = \"contoso\"\n[[tenants.apps]]\nclient_id = \"aaaaaaaa-0000-4000-8000-000000000001\"\ncors_origins = [\"https://shop.example\"]\n",
            db.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("OPENCIAM_MASTER_KEY_FILE", &key)
        .env("OPENCIAM_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut found = false;
    let mut seen = Vec::new();
    for _ in 0..20 {
        let Some(Ok(line)) = lines.next() else { break };
        if line.contains("openciam listening") {
            found = true;
            break;
        }
        seen.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(found, "serve did not start; it said:\n{}", seen.join("\n"));
    // The declared tenant and app exist.
    let out = Command::new(BIN)
        .args(["app", "list", "--tenant", "contoso", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("aaaaaaaa-0000-4000-8000-000000000001"));
}

/// `dev --database` keeps the dev server's data in PostgreSQL (the load tool's code-flow runs on
/// PostgreSQL use it); the CLI reaches the same database with the same flag. Runs in the
/// PostgreSQL pass of the suite.
#[tokio::test]
async fn dev_keeps_its_data_in_the_database_given() {
    use sqlx::Connection as _;
    let Some(base) = openciam_testkit::postgres_url() else {
        return;
    };
    let schema = format!("oc_dev_{}", uuid::Uuid::new_v4().simple());
    let mut pg = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&mut pg)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = Command::new(BIN)
        .args([
            "user",
            "create",
            "--tenant",
            "demo",
            "--email",
            "pg.dev@example.com",
        ])
        .args([
            "--password",
            "Correct-Horse-9",
            "--data",
            data,
            "--database",
            &url,
        ])
        .env("OPENCIAM_LOG", "warn")
        .output()
        .unwrap();
    ok(&out);
    let mut child = Command::new(BIN)
        .args([
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data,
            "--database",
            &url,
        ])
        .env("OPENCIAM_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The reader lives as long as the server: a closed pipe would fail its later banner lines.
    let mut banner = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = banner.next().unwrap().unwrap();
    let origin = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let initiate = reqwest::Client::new()
        .post(format!("{origin}/demo/oauth2/v2.0/initiate"))
        .form(&[
            ("client_id", "11111111-1111-1111-1111-111111111111"),
            ("username", "pg.dev@example.com"),
            ("challenge_type", "password redirect"),
        ])
        .send()
        .await
        .unwrap();
    let status = initiate.status();
    let body: serde_json::Value = initiate.json().await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
    drop(banner);
    assert_eq!(status, 200, "{body}");
    assert!(body["continuation_token"].is_string(), "{body}");
    let (users,): (i64,) = sqlx::query_as(&format!(
        "SELECT count(*) FROM \"{schema}\".users WHERE username_normalized = 'pg.dev@example.com'"
    ))
    .fetch_one(&mut pg)
    .await
    .unwrap();
    assert_eq!(users, 1);
    assert!(
        !dir.path().join("openciam.db").exists(),
        "no SQLite file next to the key"
    );
    assert!(dir.path().join("master.key").exists());
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&mut pg)
        .await
        .unwrap();
}
