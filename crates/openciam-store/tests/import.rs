//! Contract of the two port methods behind `openciam user import`: `import_users` (all or none)
//! and `rehash_password` (a compare-and-set that touches nothing but the hash).
//!
//! Written against `&dyn Store` like `contract.rs`, and run on both backends.

// `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared test bodies below.
#![expect(clippy::unwrap_used, reason = "contract tests report failure by panicking")]

mod support;

use openciam_core::ids::{ClientId, FamilyId, FlowId, TenantId, UserId};
use openciam_core::model::{
    App, ContinuationRecord, FlowKind, FlowRecord, RefreshRecord, SignInMethod, Tenant, User,
};
use openciam_core::ports::*;
use openciam_core::strategy::password_policy::PolicyProfile;
use openciam_store::{PoolOptions, PostgresStore, SqliteStore};
use serde_json::json;
use uuid::Uuid;

const T0: i64 = 1_700_000_000;
const OLD: &str = "$2b$04$abcdefghijklmnopqrstuuE7Ukq6rQzHbIGyGxQ3ZbLJrj6dC1Wnm";
const NEW: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

/// Runs each test on a fresh, migrated SQLite file, and on a fresh PostgreSQL schema (skipped,
/// outside CI, when the server is unreachable: see `support`).
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
    import_writes_every_user,
    import_duplicate_in_batch_writes_nothing,
    import_taken_username_writes_nothing,
    import_nothing_is_a_no_op,
    rehash_replaces_only_the_expected_hash,
    rehash_leaves_sessions_and_flows_alone,
);

// ---------------------------------------------------------------------------------------------
// Fixtures

fn tenant() -> Tenant {
    let name = format!("t{}", &Uuid::new_v4().simple().to_string()[..8]);
    Tenant {
        id: TenantId::new_random(),
        domain: format!("{name}.onmicrosoft.com"),
        name,
        password_policy: PolicyProfile::SERVE_DEFAULT,
        security: Default::default(),
        created_at: T0,
    }
}

fn user(tenant: &Tenant, username: &str, hash: Option<&str>) -> User {
    let mut attributes = serde_json::Map::new();
    attributes.insert("displayName".into(), json!(username));
    User {
        id: UserId::new_random(),
        tenant_id: tenant.id,
        username: username.to_owned(),
        username_normalized: username.to_lowercase(),
        password_hash: hash.map(str::to_owned),
        disabled: false,
        attributes,
        created_at: T0,
        updated_at: T0,
    }
}

async fn stored_tenant(store: &dyn Store) -> Tenant {
    let t = tenant();
    store.create_tenant(&t).await.unwrap();
    t
}

async fn usernames(store: &dyn Store, tenant: &Tenant) -> Vec<String> {
    let users = store.list_users(tenant.id).await.unwrap();
    users.into_iter().map(|u| u.username_normalized).collect()
}

fn conflict_name<T: std::fmt::Debug>(result: StoreResult<T>) -> String {
    match result {
        Err(StoreError::Conflict(name)) => name,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// import_users

async fn import_writes_every_user(store: &dyn Store) {
    let t = stored_tenant(store).await;
    let mut disabled = user(&t, "bob@example.com", None);
    disabled.disabled = true;
    let batch = vec![user(&t, "ada@example.com", Some(OLD)), disabled];

    store.import_users(&batch).await.unwrap();

    assert_eq!(store.list_users(t.id).await.unwrap(), batch, "stored as given");
}

async fn import_duplicate_in_batch_writes_nothing(store: &dyn Store) {
    let t = stored_tenant(store).await;
    let batch = vec![
        user(&t, "ada@example.com", Some(OLD)),
        user(&t, "bob@example.com", None),
        user(&t, "Ada@Example.com", None),
    ];

    let name = conflict_name(store.import_users(&batch).await);

    assert_eq!(name, "Ada@Example.com", "the conflict names the username");
    assert!(usernames(store, &t).await.is_empty(), "nothing half-imported");
}

async fn import_taken_username_writes_nothing(store: &dyn Store) {
    let t = stored_tenant(store).await;
    store
        .create_user(&user(&t, "carol@example.com", None))
        .await
        .unwrap();
    let batch = vec![
        user(&t, "ada@example.com", Some(OLD)),
        user(&t, "carol@example.com", Some(OLD)),
    ];

    let name = conflict_name(store.import_users(&batch).await);

    assert_eq!(name, "carol@example.com");
    assert_eq!(usernames(store, &t).await, vec!["carol@example.com"]);

    // The same usernames in another tenant are no conflict.
    let other = stored_tenant(store).await;
    let elsewhere = vec![user(&other, "carol@example.com", None)];
    store.import_users(&elsewhere).await.unwrap();
}

async fn import_nothing_is_a_no_op(store: &dyn Store) {
    store.import_users(&[]).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// rehash_password

async fn rehash_replaces_only_the_expected_hash(store: &dyn Store) {
    let t = stored_tenant(store).await;
    let u = user(&t, "ada@example.com", Some(OLD));
    store.create_user(&u).await.unwrap();

    assert!(
        !store.rehash_password(t.id, u.id, "$stale", NEW).await.unwrap(),
        "a hash changed since the verify is not overwritten"
    );
    assert_eq!(hash_of(store, &u).await.as_deref(), Some(OLD));

    assert!(store.rehash_password(t.id, u.id, OLD, NEW).await.unwrap());
    let stored = store.user_by_id(t.id, u.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash.as_deref(), Some(NEW));
    assert_eq!(
        stored,
        User {
            password_hash: Some(NEW.into()),
            ..u.clone()
        },
        "nothing else changes, not even updated_at"
    );

    assert!(
        !store.rehash_password(t.id, u.id, OLD, NEW).await.unwrap(),
        "a second upgrade from the old hash finds it gone"
    );
    let nobody = UserId::new_random();
    assert!(!store.rehash_password(t.id, nobody, NEW, OLD).await.unwrap());
    let elsewhere = TenantId::new_random();
    assert!(!store.rehash_password(elsewhere, u.id, NEW, OLD).await.unwrap());
    assert_eq!(hash_of(store, &u).await.as_deref(), Some(NEW));
}

async fn rehash_leaves_sessions_and_flows_alone(store: &dyn Store) {
    let t = stored_tenant(store).await;
    let a = app(&t);
    store.create_app(&a).await.unwrap();
    let u = user(&t, "ada@example.com", Some(OLD));
    store.create_user(&u).await.unwrap();
    let session = refresh(&a, &u);
    store.create_family(&session).await.unwrap();
    let (f, first) = sign_in_flow(&a, &u);
    store.create_flow(&f, &first).await.unwrap();

    assert!(store.rehash_password(t.id, u.id, OLD, NEW).await.unwrap());

    let token = store.refresh_by_hash(&session.token_hash).await.unwrap().unwrap();
    assert_eq!(token.revoked_at, None, "the session survives");
    let found = store.token_with_flow(&first.token_hash).await.unwrap();
    assert!(found.is_some(), "the open flow survives");
}

async fn hash_of(store: &dyn Store, u: &User) -> Option<String> {
    let stored = store.user_by_id(u.tenant_id, u.id).await.unwrap().unwrap();
    stored.password_hash
}

fn app(tenant: &Tenant) -> App {
    App {
        client_id: ClientId::parse(&Uuid::new_v4().to_string()).unwrap(),
        tenant_id: tenant.id,
        display_name: "Demo".into(),
        public_client: true,
        native_auth: true,
        method: SignInMethod::EmailPassword,
        cors_origins: vec![],
        identifier_uri: None,
        scopes: vec![],
        signup_attributes: vec![],
        mfa: None,
        created_at: T0,
    }
}

fn refresh(app: &App, user: &User) -> RefreshRecord {
    RefreshRecord {
        token_hash: Uuid::new_v4().into_bytes().to_vec(),
        family_id: FamilyId::new_random(),
        tenant_id: app.tenant_id,
        client_id: app.client_id.clone(),
        user_id: user.id,
        scopes: vec!["openid".into()],
        issued_at: T0,
        expires_at: T0 + 86_400,
        rotated_at: None,
        revoked_at: None,
        family_created_at: T0,
    }
}

fn sign_in_flow(app: &App, user: &User) -> (FlowRecord, ContinuationRecord) {
    let flow = FlowRecord {
        id: FlowId::new_random(),
        tenant_id: app.tenant_id,
        client_id: app.client_id.clone(),
        kind: FlowKind::SignIn,
        user_id: Some(user.id),
        state: json!({"state": "started"}),
        generation: 0,
        challenge_types: vec!["password".into()],
        capabilities: vec![],
        created_at: T0,
        expires_at: T0 + 900,
    };
    let token = ContinuationRecord {
        token_hash: Uuid::new_v4().into_bytes().to_vec(),
        flow_id: flow.id,
        step: "challenge".into(),
        generation: 0,
        issued_at: T0,
        expires_at: T0 + 600,
    };
    (flow, token)
}
