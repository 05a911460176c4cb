//! `GET /healthz` is liveness (the process answers; no database call) and `GET /readyz` is
//! readiness (the database answers and the process is not shutting down). The database is
//! taken away by renaming the table readiness reads, then given back.

use openciam_testkit::{TestApp, postgres_url};
use std::time::{Duration, Instant};

async fn rename(app: &TestApp, from: &str, to: &str) {
    let sql = format!("ALTER TABLE {from} RENAME TO {to}");
    if postgres_url().is_some() {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&app.database_url).await.unwrap();
        sqlx::query(&sql).execute(&mut conn).await.unwrap();
    } else {
        use sqlx::Connection as _;
        let mut conn = sqlx::SqliteConnection::connect(&app.database_url).await.unwrap();
        sqlx::query(&sql).execute(&mut conn).await.unwrap();
    }
}

#[tokio::test]
async fn readyz_follows_the_database_and_healthz_does_not() {
    let app = TestApp::spawn().await;
    let r = app.get(&format!("{}/healthz", app.origin)).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, serde_json::json!({"status": "ok"}))
    );
    let r = app.get(&format!("{}/readyz", app.origin)).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, serde_json::json!({"status": "ready"}))
    );

    rename(&app, "tenants", "tenants_away").await;
    let r = app.get(&format!("{}/readyz", app.origin)).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(
        r.body,
        serde_json::json!({"status": "not_ready", "reason": "database_unreachable"})
    );
    let r = app.get(&format!("{}/healthz", app.origin)).await;
    assert_eq!(r.status, 200, "liveness makes no database call: {}", r.body);

    rename(&app, "tenants_away", "tenants").await;
    let r = app.get(&format!("{}/readyz", app.origin)).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, serde_json::json!({"status": "ready"}))
    );
}

/// The real binary: ready soon after it says it listens (issue 8 measures the figure).
#[tokio::test]
async fn the_binary_is_ready_once_listening() {
    let app = TestApp::spawn().await;
    let started = Instant::now();
    let node = crate::serve_node::ServeNode::start(&app, "ready", "");
    let http = crate::serve_node::fresh_client();
    let (status, body) = crate::serve_node::get(&http, &node.origin, "/readyz")
        .await
        .unwrap();
    assert_eq!((status, body), (200, serde_json::json!({"status": "ready"})));
    println!(
        "readiness: ready {:?} after spawning the process",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}
