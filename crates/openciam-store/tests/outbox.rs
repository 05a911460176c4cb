//! Contract of the mail-outbox port (`OutboxStore`): claims are leases that two workers never
//! share, a claimed message is out of reach until its lease ends, and only the lease holder can
//! delete or reschedule it.
//!
//! Written against `&dyn Store` like `contract.rs`, and run on both backends (PostgreSQL skipped
//! outside CI when unreachable: see `support`).

// `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared test bodies below.
#![expect(clippy::unwrap_used, reason = "contract tests report failure by panicking")]

mod support;

use openciam_core::ports::*;
use openciam_store::{PoolOptions, PostgresStore, SqliteStore};
use std::collections::HashSet;

const T0: i64 = 1_700_000_000;

/// Runs each test on a fresh, migrated SQLite file, and on a fresh PostgreSQL schema.
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let dir = tempfile::tempdir().unwrap();
                    let path = dir.path().join("openciam.db");
                    let store = super::SqliteStore::open(path.to_str().unwrap()).await.unwrap();
                    store.migrate().await.unwrap();
                    super::$test(std::sync::Arc::new(store)).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(schema) = super::support::pg_schema(stringify!($test)).await else {
                        return;
                    };
                    let store = super::PostgresStore::open(&schema.url, super::PoolOptions::default())
                        .await
                        .unwrap();
                    store.migrate().await.unwrap();
                    super::$test(std::sync::Arc::new(store)).await;
                }
            )+
        }
    };
}

on_both_backends!(
    a_claim_is_a_lease,
    only_the_lease_holder_deletes_or_retries,
    concurrent_claims_never_share_a_message,
);

type Shared = std::sync::Arc<dyn Store>;

fn mail(n: usize) -> OutboxMail {
    OutboxMail {
        id: format!("m{n:03}"),
        tenant_name: "demo".into(),
        sealed: vec![1, 2, 3, u8::try_from(n % 256).unwrap()],
        attempts: 0,
        created_at: T0,
    }
}

async fn a_claim_is_a_lease(store: Shared) {
    store.enqueue_mail(&mail(1)).await.unwrap();
    let claimed = store.claim_mail(T0, T0 + 60, "a", 10).await.unwrap();
    assert_eq!(claimed, vec![mail(1)], "the message, as stored");
    assert!(
        store
            .claim_mail(T0 + 59, T0 + 120, "b", 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    // The lease ends (the worker died mid-send): another worker takes it over.
    let again = store.claim_mail(T0 + 60, T0 + 120, "b", 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert!(
        !store.delete_mail("m001", "a").await.unwrap(),
        "the old lease is void"
    );
    assert!(store.delete_mail("m001", "b").await.unwrap());
    assert!(
        store
            .claim_mail(T0 + 500, T0 + 600, "c", 10)
            .await
            .unwrap()
            .is_empty(),
        "gone"
    );
}

async fn only_the_lease_holder_deletes_or_retries(store: Shared) {
    store.enqueue_mail(&mail(1)).await.unwrap();
    store.claim_mail(T0, T0 + 60, "a", 10).await.unwrap();
    assert!(!store.retry_mail("m001", "x", T0 + 5).await.unwrap());
    assert!(store.retry_mail("m001", "a", T0 + 5).await.unwrap());
    assert!(
        store
            .claim_mail(T0 + 4, T0 + 64, "b", 10)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    let due = store.claim_mail(T0 + 5, T0 + 65, "b", 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 1, "the failure was counted");
}

async fn concurrent_claims_never_share_a_message(store: Shared) {
    for n in 0..60 {
        store.enqueue_mail(&mail(n)).await.unwrap();
    }
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let lease = format!("worker{w}");
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_mail(T0, T0 + 60, &lease, 4).await.unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    mine.extend(batch.into_iter().map(|m| m.id));
                }
                mine
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for w in workers {
        for id in w.await.unwrap() {
            assert!(seen.insert(id.clone()), "{id} claimed twice");
        }
    }
    assert_eq!(seen.len(), 60, "every message claimed once");
}
