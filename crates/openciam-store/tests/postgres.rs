//! PostgreSQL-only behaviour that the shared contract cannot express: start-up of several nodes
//! against one database, and the error mapping of a pool that is gone. Skipped (with one notice)
//! when the server is unreachable outside CI, like the PostgreSQL contract suite.

mod support;

use openciam_core::ids::TenantId;
use openciam_core::ports::{StoreError, TenantStore as _};
use openciam_store::{PoolOptions, PostgresStore};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_migrating_at_once_apply_each_migration_once() {
    let Some(schema) = support::pg_schema("nodes_migrating_at_once").await else {
        return;
    };
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(
            PostgresStore::open(&schema.url, PoolOptions::default())
                .await
                .unwrap(),
        );
    }
    let mut migrations = tokio::task::JoinSet::new();
    for node in nodes.clone() {
        migrations.spawn(async move { node.migrate().await });
    }
    while let Some(result) = migrations.join_next().await {
        result.unwrap().unwrap();
    }

    let (applied,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(nodes[0].pool())
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    assert_eq!(applied, i64::try_from(files).unwrap());
    // Every node released the migrator's session lock: a second round (each node waiting for
    // the lock in turn) finishes.
    let again = async {
        for node in &nodes {
            node.migrate().await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(30), again)
        .await
        .expect("a node kept the migration lock");
    assert!(
        nodes[1]
            .tenant_by_id(TenantId::new_random())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn closed_pool_is_unavailable() {
    let Some(schema) = support::pg_schema("closed_pool_is_unavailable").await else {
        return;
    };
    let store = PostgresStore::open(&schema.url, PoolOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.pool().close().await;
    let result = store.tenant_by_id(TenantId::new_random()).await;
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "{result:?}");
}

#[tokio::test]
async fn exhausted_pool_is_unavailable_after_the_acquire_timeout() {
    let Some(schema) = support::pg_schema("exhausted_pool").await else {
        return;
    };
    let options = PoolOptions {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(300),
    };
    let store = PostgresStore::open(&schema.url, options).await.unwrap();
    store.migrate().await.unwrap();
    let held = store.pool().acquire().await.unwrap();
    let started = Instant::now();
    let result = store.tenant_by_id(TenantId::new_random()).await;
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "{result:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    drop(held);
    assert!(
        store
            .tenant_by_id(TenantId::new_random())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn unreachable_server_fails_to_open() {
    // Port 1 on loopback: refused at once, nothing listens there.
    let options = PoolOptions {
        acquire_timeout: Duration::from_millis(500),
        ..PoolOptions::default()
    };
    let started = Instant::now();
    let err = PostgresStore::open("postgres://openciam:hunter2@127.0.0.1:1/x", options)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(3),
        "gives up after the acquire timeout: {waited:?}"
    );
    let message = format!("{err:#}");
    assert!(message.contains("cannot connect to PostgreSQL"), "{message}");
    assert!(!message.contains("hunter2"), "password redacted: {message}");
}

#[tokio::test]
async fn every_connection_commits_synchronously() {
    let Some(schema) = support::pg_schema("synchronous_commit").await else {
        return;
    };
    // Even a URL that asks for asynchronous commits gets synchronous ones: a response must never
    // report a write the database could still lose.
    let sep = if schema.url.contains('?') { '&' } else { '?' };
    let weakened = format!("{}{sep}options=-csynchronous_commit%3Doff", schema.url);
    for url in [schema.url.clone(), weakened] {
        let store = PostgresStore::open(&url, PoolOptions::default()).await.unwrap();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let (value,): (String,) = sqlx::query_as("SHOW synchronous_commit")
                .fetch_one(store.pool())
                .await
                .unwrap();
            seen.push(value);
        }
        assert_eq!(seen, ["on", "on", "on"], "{url}");
    }
}
