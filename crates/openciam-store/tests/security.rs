//! Contract of the smart-lockout and audit-log ports (`LockoutStore`, `AuditStore`).
//!
//! Written against `&dyn Store` like `contract.rs`, and run on both backends (PostgreSQL skipped
//! outside CI when unreachable: see `support`).

// `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared test bodies below.
#![expect(clippy::unwrap_used, reason = "contract tests report failure by panicking")]

mod support;

use openciam_core::audit::{AuditFilter, AuditRecord};
use openciam_core::ids::{TenantId, UserId};
use openciam_core::ports::*;
use openciam_core::security::lockout::{FailureOutcome, LockoutSettings};
use openciam_store::{PoolOptions, PostgresStore, SqliteStore};
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

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
                    super::$test(&store).await;
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
                    super::$test(&store).await;
                }
            )+
        }
    };
}

on_both_backends!(
    lockout_counts_distinct_failures_only,
    lockout_locks_at_the_threshold_and_grows,
    clear_lockout_forgets_everything,
    lockouts_are_per_account,
    concurrent_failures_are_each_counted_once,
    audit_lists_in_order_and_filters,
    audit_limit_keeps_the_newest,
    audit_purge_deletes_only_older_events,
);

// ---------------------------------------------------------------------------------------------
// Fixtures

fn settings(threshold: u32) -> LockoutSettings {
    LockoutSettings {
        threshold,
        ..LockoutSettings::default()
    }
}

fn mac(n: u32) -> Vec<u8> {
    let mut m = vec![0u8; 32];
    m[..4].copy_from_slice(&n.to_be_bytes());
    m
}

fn ids() -> (TenantId, UserId) {
    (TenantId::new_random(), UserId::new_random())
}

/// Runs every future concurrently on this task and collects their outputs in order. The store's
/// calls still race for real: each pooled connection works on its own.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

fn event(at: i64, tenant: TenantId, username: &str, name: &str) -> AuditRecord {
    AuditRecord {
        id: 0,
        at,
        tenant_id: Some(tenant),
        user_id: Some(UserId::new_random()),
        username: Some(username.to_owned()),
        event: name.to_owned(),
        details: json!({"reason": "wrong_password"}),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("test-agent/1.0".into()),
        correlation_id: Some("corr-1".into()),
    }
}

fn names(events: &[AuditRecord]) -> Vec<(i64, String)> {
    events
        .iter()
        .map(|e| (e.at, e.username.clone().unwrap_or_default()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Lockout

async fn lockout_counts_distinct_failures_only(store: &dyn Store) {
    let (t, u) = ids();
    let s = settings(10);
    assert_eq!(store.lockout_state(t, u).await.unwrap(), None);

    let first = store
        .record_password_failure(t, u, &mac(1), T0, &s)
        .await
        .unwrap();
    let again = store
        .record_password_failure(t, u, &mac(1), T0 + 1, &s)
        .await
        .unwrap();
    let second = store
        .record_password_failure(t, u, &mac(2), T0 + 2, &s)
        .await
        .unwrap();

    assert_eq!(first, FailureOutcome::Counted { failures: 1 });
    assert_eq!(again, FailureOutcome::Repeated);
    assert_eq!(second, FailureOutcome::Counted { failures: 2 });
    let state = store.lockout_state(t, u).await.unwrap().unwrap();
    assert_eq!(state.failures, 2);
    assert_eq!(state.recent, vec![mac(1), mac(2)], "stored oldest first");
    assert_eq!(state.updated_at, T0 + 2);
    assert_eq!(state.locked_until, 0);
}

async fn lockout_locks_at_the_threshold_and_grows(store: &dyn Store) {
    let (t, u) = ids();
    let s = settings(3);
    for n in 1..=2 {
        store
            .record_password_failure(t, u, &mac(n), T0, &s)
            .await
            .unwrap();
    }
    let locked = store
        .record_password_failure(t, u, &mac(3), T0, &s)
        .await
        .unwrap();
    assert_eq!(
        locked,
        FailureOutcome::LockedNow {
            until: T0 + 60,
            nth: 1
        }
    );
    let state = store.lockout_state(t, u).await.unwrap().unwrap();
    assert_eq!(state.locked_for(T0 + 10), Some(50));

    let during = store
        .record_password_failure(t, u, &mac(9), T0 + 30, &s)
        .await
        .unwrap();
    assert_eq!(during, FailureOutcome::AlreadyLocked { until: T0 + 60 });
    assert_eq!(
        store.lockout_state(t, u).await.unwrap().unwrap().failures,
        0,
        "not counted"
    );

    let after = T0 + 60;
    for n in 4..=5 {
        store
            .record_password_failure(t, u, &mac(n), after, &s)
            .await
            .unwrap();
    }
    let second = store
        .record_password_failure(t, u, &mac(6), after, &s)
        .await
        .unwrap();
    assert_eq!(
        second,
        FailureOutcome::LockedNow {
            until: after + 120,
            nth: 2
        }
    );
}

async fn clear_lockout_forgets_everything(store: &dyn Store) {
    let (t, u) = ids();
    let s = settings(1);
    store
        .record_password_failure(t, u, &mac(1), T0, &s)
        .await
        .unwrap();

    assert!(store.clear_lockout(t, u).await.unwrap());
    assert_eq!(store.lockout_state(t, u).await.unwrap(), None);
    assert!(!store.clear_lockout(t, u).await.unwrap(), "nothing left to clear");
    let fresh = store
        .record_password_failure(t, u, &mac(1), T0 + 1, &s)
        .await
        .unwrap();
    assert_eq!(
        fresh,
        FailureOutcome::LockedNow {
            until: T0 + 61,
            nth: 1
        },
        "streak restarted"
    );
}

async fn lockouts_are_per_account(store: &dyn Store) {
    let (t, a) = ids();
    let b = UserId::new_random();
    let s = settings(1);
    store
        .record_password_failure(t, a, &mac(1), T0, &s)
        .await
        .unwrap();

    assert_eq!(store.lockout_state(t, b).await.unwrap(), None);
    let other_tenant = TenantId::new_random();
    assert_eq!(store.lockout_state(other_tenant, a).await.unwrap(), None);
    assert!(!store.clear_lockout(t, b).await.unwrap());
    assert!(store.lockout_state(t, a).await.unwrap().is_some());
}

/// Failures racing on one account (as from several nodes) are never lost: 30 distinct wrong
/// passwords at once leave exactly 30 counted, each outcome a different count.
async fn concurrent_failures_are_each_counted_once(store: &dyn Store) {
    let (t, u) = ids();
    let s = settings(1000);
    let outcomes = join_all((0..30).map(|n| {
        let s = s.clone();
        async move {
            store
                .record_password_failure(t, u, &mac(n), T0, &s)
                .await
                .unwrap()
        }
    }))
    .await;

    let mut counts: Vec<u32> = outcomes
        .iter()
        .map(|o| match o {
            FailureOutcome::Counted { failures } => *failures,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=30).collect::<Vec<_>>());
    assert_eq!(store.lockout_state(t, u).await.unwrap().unwrap().failures, 30);
}

// ---------------------------------------------------------------------------------------------
// Audit

async fn audit_lists_in_order_and_filters(store: &dyn Store) {
    let (t, _) = ids();
    let other = TenantId::new_random();
    let stored = [
        event(T0 + 2, t, "bob@example.com", "signin.password.success"),
        event(T0, t, "ada@example.com", "signin.password.failure"),
        event(T0 + 1, other, "ada@example.com", "signin.password.failure"),
        event(T0 + 3, t, "ada@example.com", "account.locked"),
    ];
    for e in &stored {
        store.append_audit(e).await.unwrap();
    }

    let all = store.audit_events(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(
        all.iter().map(|e| e.at).collect::<Vec<_>>(),
        [T0, T0 + 1, T0 + 2, T0 + 3]
    );
    let first = &all[0];
    assert!(first.id > 0, "the store assigns ids");
    assert_eq!(
        AuditRecord {
            id: 0,
            ..first.clone()
        },
        stored[1],
        "round trip"
    );

    let ada = AuditFilter {
        username: Some("ada@example.com".into()),
        ..AuditFilter::default()
    };
    let got = store.audit_events(&ada).await.unwrap();
    assert_eq!(
        names(&got),
        [
            (T0, "ada@example.com".into()),
            (T0 + 1, "ada@example.com".into()),
            (T0 + 3, "ada@example.com".into())
        ]
    );

    let in_t = AuditFilter {
        tenant_id: Some(t),
        event: Some("signin.password.failure".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        names(&store.audit_events(&in_t).await.unwrap()),
        [(T0, "ada@example.com".into())]
    );

    let since = AuditFilter {
        since: Some(T0 + 2),
        ..AuditFilter::default()
    };
    let got = store.audit_events(&since).await.unwrap();
    assert_eq!(got.iter().map(|e| e.at).collect::<Vec<_>>(), [T0 + 2, T0 + 3]);
}

async fn audit_limit_keeps_the_newest(store: &dyn Store) {
    let (t, _) = ids();
    for i in 0..5 {
        store
            .append_audit(&event(T0 + i, t, "ada@example.com", "code.sent"))
            .await
            .unwrap();
    }
    let newest = AuditFilter {
        limit: Some(2),
        ..AuditFilter::default()
    };
    let got = store.audit_events(&newest).await.unwrap();
    assert_eq!(
        got.iter().map(|e| e.at).collect::<Vec<_>>(),
        [T0 + 3, T0 + 4],
        "newest two, oldest first"
    );
}

async fn audit_purge_deletes_only_older_events(store: &dyn Store) {
    let (t, _) = ids();
    for at in [T0 - 100, T0 - 1, T0, T0 + 5] {
        store
            .append_audit(&event(at, t, "ada@example.com", "code.sent"))
            .await
            .unwrap();
    }

    assert_eq!(store.purge_audit(T0).await.unwrap(), 2);
    let left = store.audit_events(&AuditFilter::default()).await.unwrap();
    assert_eq!(left.iter().map(|e| e.at).collect::<Vec<_>>(), [T0, T0 + 5]);
    assert_eq!(store.purge_audit(T0).await.unwrap(), 0);
}
