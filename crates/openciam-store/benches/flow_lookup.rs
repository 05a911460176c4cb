//! The continuation-token lookup every step of every flow starts with
//! (`FlowStore::token_with_flow`: token by hash, joined with its flow) on a SQLite file with
//! 10,000 live flows.

#![allow(missing_docs, clippy::expect_used, reason = "a benchmark fails loudly")]

use criterion::{Criterion, criterion_group, criterion_main};
use openciam_core::admin::NewApp;
use openciam_core::clock::SystemClock;
use openciam_core::ids::FlowId;
use openciam_core::model::{ContinuationRecord, FlowKind, FlowRecord};
use openciam_core::ports::Store;
use openciam_core::services::Services;
use openciam_core::strategy::password::HasherConfig;
use openciam_core::strategy::password_policy::PolicyProfile;
use openciam_store::SqliteStore;
use std::hint::black_box;
use std::sync::Arc;

const FLOWS: usize = 10_000;

fn lookup(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
    let hashes = rt.block_on(async {
        let sqlite = SqliteStore::open(&url).await.expect("open");
        sqlite.migrate().await.expect("migrate");
        let store: Arc<dyn Store> = Arc::new(sqlite);
        let admin = Services::admin_only(
            store.clone(),
            Arc::new(SystemClock),
            HasherConfig {
                concurrency: 1,
                queue: 1,
            },
        )
        .expect("admin");
        let tenant = admin
            .create_tenant("bench", None, None, PolicyProfile::SERVE_DEFAULT)
            .await
            .expect("tenant");
        let app = admin
            .create_app(
                "bench",
                NewApp {
                    display_name: "bench".into(),
                    ..NewApp::default()
                },
            )
            .await
            .expect("app");
        let now = 1_900_000_000;
        let mut hashes = Vec::with_capacity(FLOWS);
        for i in 0..FLOWS {
            let flow = FlowRecord {
                id: FlowId::new_random(),
                tenant_id: tenant.id,
                client_id: app.client_id.clone(),
                kind: FlowKind::SignIn,
                user_id: None,
                state: serde_json::json!({"state": "started", "email": format!("u{i}@bench.example")}),
                generation: 0,
                challenge_types: vec!["password".into(), "redirect".into()],
                capabilities: vec![],
                created_at: now,
                expires_at: now + 3600,
            };
            let hash = openciam_core::crypto::token_hash(&format!("token-{i}"));
            let token = ContinuationRecord {
                token_hash: hash.clone(),
                flow_id: flow.id,
                step: "challenge".into(),
                generation: 0,
                issued_at: now,
                expires_at: now + 600,
            };
            store.create_flow(&flow, &token).await.expect("flow");
            hashes.push(hash);
        }
        (store, hashes)
    });
    let (store, hashes) = hashes;
    let mut i = 0usize;
    c.bench_function("sqlite_token_with_flow_10k", |b| {
        b.iter(|| {
            i = (i + 7919) % FLOWS;
            let found = rt
                .block_on(store.token_with_flow(black_box(&hashes[i])))
                .expect("lookup");
            assert!(found.is_some());
        })
    });
}

criterion_group!(benches, lookup);
criterion_main!(benches);
