//! The storage contract: every adapter must pass every test here.
//!
//! Each test is written once against `&dyn Store` (or, for copies between stores, a source and a
//! fresh target of the same backend); `contract_suite!` instantiates the whole list for one
//! backend. A backend is a module name plus a harness function that takes the test's
//! name and returns a fresh, migrated store (or `None` to skip, for backends that need an
//! external server).
//!
//! * `sqlite`: a temporary file per test.
//! * `postgres`: a schema per test on `OPENCIAM_TEST_POSTGRES_URL`, dropped at the end (see
//!   `support`); skipped with one notice when the server is unreachable, failing under `CI=true`.

// `allow-unwrap-in-tests` covers only `#[test]` functions, not the shared test bodies below.
#![expect(clippy::unwrap_used, reason = "contract tests report failure by panicking")]

mod support;

use openciam_core::ids::{AuthMethodId, ClientId, FamilyId, FlowId, TenantId, UserId};
use openciam_core::mfa::MfaPolicy;
use openciam_core::model::{
    App, AttributeKind, AttributeSpec, AuthMethod, AuthMethodKind, ContinuationRecord, FlowKind, FlowRecord,
    OtpAttempt, OtpRecord, RefreshFamilyRecord, RefreshRecord, SignInMethod, SigningKeyRecord, Snapshot,
    Tenant, User,
};
use openciam_core::ports::*;
use openciam_core::strategy::password_policy::PolicyProfile;
use openciam_store::{PoolOptions, PostgresStore, SqliteStore};
use serde_json::json;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use uuid::Uuid;

/// A migrated, empty store for one test, and whatever must outlive it (temp dir, schema guard).
/// Fields drop in order: the store (and its connections) before the schema.
struct Harness {
    store: Box<dyn Store>,
    _keep: Box<dyn Any + Send>,
}

async fn sqlite_harness(_test: &'static str) -> Option<Harness> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openciam.db");
    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    store.migrate().await.unwrap();
    Some(Harness {
        store: Box::new(store),
        _keep: Box::new(dir),
    })
}

async fn postgres_harness(test: &'static str) -> Option<Harness> {
    let schema = support::pg_schema(test).await?;
    let store = PostgresStore::open(&schema.url, PoolOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Some(Harness {
        store: Box::new(store),
        _keep: Box::new(schema),
    })
}

macro_rules! contract_suite {
    ($backend:ident, $harness:ident) => {
        mod $backend {
            contract_suite!(@pairs $harness;
                snapshot_imports_into_an_empty_store_as_exported,
                copied_refresh_tokens_rotate_and_detect_reuse,
            );
            contract_suite!(@tests $harness;
                tenants_round_trip,
                tenant_name_and_domain_are_unique,
                apps_round_trip,
                users_round_trip,
                duplicate_username_conflicts_within_tenant_only,
                set_user_password_replaces_hash_and_revokes_families,
                set_user_password_deletes_the_users_flows,
                rehash_password_replaces_only_the_expected_hash,
                import_users_writes_all_or_none,
                set_user_disabled_revokes_families_only_when_disabling,
                users_page_pages_by_username_and_searches,
                set_user_attributes_replaces_them,
                delete_user_takes_its_sessions_and_flows,
                delete_app_takes_its_flows_and_sessions,
                flow_and_token_round_trip,
                add_token_refused_after_advance,
                failed_writes_leave_no_transaction_open,
                advance_flow_is_compare_and_swap,
                advance_flow_keeps_user_when_none_given,
                concurrent_advance_has_one_winner,
                purge_deletes_expired_flows_and_their_tokens,
                advance_flow_creating_user_writes_both,
                advance_flow_creating_user_conflict_writes_nothing,
                advance_flow_creating_user_stale_generation_writes_nothing,
                concurrent_sign_ups_with_one_email_have_one_winner,
                advance_flow_resetting_password_writes_everything,
                advance_flow_resetting_password_stale_generation_writes_nothing,
                advance_flow_resetting_password_unknown_user_writes_nothing,
                concurrent_resets_have_one_winner,
                concurrent_password_changes_of_one_user_all_complete,
                put_otp_replaces_and_invalidates_the_old_code,
                attempt_otp_counts_until_exhausted,
                attempt_otp_reports_missing_and_expired_codes,
                consume_otp_succeeds_once,
                concurrent_attempts_never_exceed_the_limit,
                concurrent_consume_has_one_winner,
                reserve_code_send_caps_sends_per_window,
                concurrent_reserve_at_the_limit_has_one_winner,
                purge_deletes_codes_and_old_code_sends,
                rate_limit_counts_within_a_window_and_restarts_after_it,
                concurrent_rate_limit_hits_never_exceed_the_limit,
                purge_rate_limits_deletes_ended_windows,
                refresh_family_round_trip,
                rotate_refresh_rotates_once,
                rotated_tokens_read_their_familys_start,
                concurrent_rotate_has_one_winner,
                grace_allows_rotation_within_window,
                rotation_refused_in_revoked_family,
                revoke_user_families_marks_tokens_revoked,
                signing_keys_newest_first,
                first_signing_key_is_inserted_only_into_an_empty_store,
                concurrent_first_signing_keys_have_one_winner,
                rotate_signing_key_retires_the_others_at_its_activation,
                empty_store_reports_empty,
                snapshot_import_refuses_clashes_without_replace,
                snapshot_import_with_replace_leaves_exactly_the_snapshot,
                auth_methods_round_trip,
                auth_methods_are_unique_per_user_kind_and_target,
            );
        }
    };
    (@tests $harness:ident; $($test:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                // `None`: backend unavailable, already reported once by the harness.
                let Some(harness) = super::$harness(stringify!($test)).await else {
                    return;
                };
                super::$test(harness.store.as_ref()).await;
            }
        )+
    };
    // Tests from one store into a second, fresh one of the same backend.
    (@pairs $harness:ident; $($test:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let Some(source) = super::$harness(stringify!($test)).await else {
                    return;
                };
                let Some(target) = super::$harness(concat!(stringify!($test), "_target")).await else {
                    return;
                };
                super::$test(source.store.as_ref(), target.store.as_ref()).await;
            }
        )+
    };
}

contract_suite!(sqlite, sqlite_harness);
contract_suite!(postgres, postgres_harness);

// ---------------------------------------------------------------------------------------------
// Fixtures

const T0: i64 = 1_700_000_000;

fn tenant(name: &str) -> Tenant {
    Tenant {
        id: TenantId::new_random(),
        name: name.to_owned(),
        domain: format!("{name}.onmicrosoft.com"),
        password_policy: PolicyProfile::SERVE_DEFAULT,
        security: Default::default(),
        created_at: T0,
    }
}

fn app(tenant: &Tenant, display_name: &str) -> App {
    App {
        client_id: ClientId::parse(&Uuid::new_v4().to_string()).unwrap(),
        tenant_id: tenant.id,
        display_name: display_name.to_owned(),
        public_client: true,
        native_auth: true,
        method: SignInMethod::EmailPassword,
        cors_origins: vec!["https://app.example".into()],
        identifier_uri: None,
        scopes: vec![],
        signup_attributes: vec![],
        mfa: None,
        created_at: T0,
    }
}

fn user(tenant: &Tenant, username: &str) -> User {
    let mut attributes = serde_json::Map::new();
    attributes.insert("displayName".into(), json!("Ada"));
    User {
        id: UserId::new_random(),
        tenant_id: tenant.id,
        username: username.to_owned(),
        username_normalized: username.to_lowercase(),
        password_hash: Some("$argon2id$v=19$stub".into()),
        disabled: false,
        attributes,
        created_at: T0,
        updated_at: T0,
    }
}

/// A tenant with one app and one user, stored.
async fn seed(store: &dyn Store) -> (Tenant, App, User) {
    let t = tenant(&format!("t{}", &Uuid::new_v4().simple().to_string()[..8]));
    let a = app(&t, "Demo");
    let u = user(&t, "Ada@Example.com");
    store.create_tenant(&t).await.unwrap();
    store.create_app(&a).await.unwrap();
    store.create_user(&u).await.unwrap();
    (t, a, u)
}

fn random_hash() -> Vec<u8> {
    [Uuid::new_v4().into_bytes(), Uuid::new_v4().into_bytes()].concat()
}

fn flow(app: &App, expires_at: i64) -> FlowRecord {
    FlowRecord {
        id: FlowId::new_random(),
        tenant_id: app.tenant_id,
        client_id: app.client_id.clone(),
        kind: FlowKind::SignUp,
        user_id: None,
        state: json!({"state": "started", "email": "ada@example.com"}),
        generation: 0,
        challenge_types: vec!["oob".into(), "password".into(), "redirect".into()],
        capabilities: vec!["registration_required".into()],
        created_at: T0,
        expires_at,
    }
}

fn token(flow: &FlowRecord, generation: i64, step: &str) -> ContinuationRecord {
    ContinuationRecord {
        token_hash: random_hash(),
        flow_id: flow.id,
        step: step.to_owned(),
        generation,
        issued_at: T0,
        expires_at: T0 + 600,
    }
}

/// A stored flow and its first token.
async fn started_flow(store: &dyn Store, app: &App) -> (FlowRecord, ContinuationRecord) {
    let f = flow(app, T0 + 900);
    let t = token(&f, 0, "challenge");
    store.create_flow(&f, &t).await.unwrap();
    (f, t)
}

/// A stored flow of `kind` naming `user`, with its first token and a code.
async fn user_flow(
    store: &dyn Store,
    app: &App,
    user: &User,
    kind: FlowKind,
) -> (FlowRecord, ContinuationRecord) {
    let f = FlowRecord {
        kind,
        user_id: Some(user.id),
        ..flow(app, T0 + 900)
    };
    let t = token(&f, 0, "challenge");
    store.create_flow(&f, &t).await.unwrap();
    store.put_otp(&otp(&f, T0 + 600)).await.unwrap();
    (f, t)
}

/// Whether the flow is still stored (its first token still resolves) and still has its code.
async fn flow_alive(store: &dyn Store, first: &ContinuationRecord) -> bool {
    let found = store.token_with_flow(&first.token_hash).await.unwrap().is_some();
    let code = store.attempt_otp(first.flow_id, T0, 1000).await.unwrap();
    assert_eq!(
        found,
        code != OtpAttempt::NoCode,
        "a flow's code lives exactly as long as the flow"
    );
    found
}

fn refresh(app: &App, user: &User, family: FamilyId, issued_at: i64) -> RefreshRecord {
    RefreshRecord {
        token_hash: random_hash(),
        family_id: family,
        tenant_id: app.tenant_id,
        client_id: app.client_id.clone(),
        user_id: user.id,
        scopes: vec!["openid".into(), "offline_access".into()],
        issued_at,
        expires_at: issued_at + 86_400,
        rotated_at: None,
        revoked_at: None,
        family_created_at: T0,
    }
}

/// A stored family and its first token.
async fn signed_in(store: &dyn Store, app: &App, user: &User) -> RefreshRecord {
    let first = refresh(app, user, FamilyId::new_random(), T0);
    store.create_family(&first).await.unwrap();
    first
}

fn is_conflict<T>(result: StoreResult<T>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

fn otp(flow: &FlowRecord, expires_at: i64) -> OtpRecord {
    OtpRecord {
        flow_id: flow.id,
        code_hash: random_hash(),
        address: "ada@example.com".into(),
        created_at: T0,
        expires_at,
    }
}

/// A stored flow with a stored code, live until `T0 + 600`.
async fn flow_with_code(store: &dyn Store, app: &App) -> (FlowRecord, OtpRecord) {
    let (f, _) = started_flow(store, app).await;
    let code = otp(&f, T0 + 600);
    store.put_otp(&code).await.unwrap();
    (f, code)
}

fn check(code: &OtpRecord, attempts: i64) -> OtpAttempt {
    OtpAttempt::Check {
        code_hash: code.code_hash.clone(),
        attempts,
    }
}

/// Runs every future concurrently on this task and collects their outputs in order. The store's
/// calls still race for real: each pooled SQLite connection works on its own thread.
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

// ---------------------------------------------------------------------------------------------
// Tenants and apps

async fn tenants_round_trip(store: &dyn Store) {
    let b = Tenant {
        password_policy: PolicyProfile::Entra,
        ..tenant("bravo")
    };
    let a = Tenant {
        password_policy: PolicyProfile::Nist { min_length: 12 },
        ..tenant("alpha")
    };
    store.create_tenant(&b).await.unwrap();
    store.create_tenant(&a).await.unwrap();

    assert_eq!(store.tenant_by_id(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.tenant_by_id(TenantId::new_random()).await.unwrap(), None);
    assert_eq!(store.tenant_by_name("alpha").await.unwrap(), Some(a.clone()));
    assert_eq!(
        store.tenant_by_name("bravo.onmicrosoft.com").await.unwrap(),
        Some(b.clone())
    );
    assert_eq!(store.tenant_by_name("charlie").await.unwrap(), None);
    assert_eq!(store.list_tenants().await.unwrap(), vec![a.clone(), b]);

    let security = openciam_core::security::TenantSecurity::default()
        .with_setting("enumeration_protection=true")
        .unwrap()
        .with_setting("lockout.threshold=3")
        .unwrap();
    assert!(store.set_tenant_security(a.id, &security).await.unwrap());
    assert!(
        !store
            .set_tenant_security(TenantId::new_random(), &security)
            .await
            .unwrap()
    );
    let stored = store.tenant_by_id(a.id).await.unwrap().unwrap();
    assert_eq!(stored.security, security);
    assert_eq!(stored.password_policy, a.password_policy);
}

async fn tenant_name_and_domain_are_unique(store: &dyn Store) {
    let a = tenant("alpha");
    store.create_tenant(&a).await.unwrap();
    assert!(is_conflict(store.create_tenant(&a).await), "same id");

    let same_name = Tenant {
        domain: "other.onmicrosoft.com".into(),
        ..tenant("alpha")
    };
    assert!(is_conflict(store.create_tenant(&same_name).await));

    let same_domain = Tenant {
        domain: a.domain.clone(),
        ..tenant("other")
    };
    assert!(is_conflict(store.create_tenant(&same_domain).await));
}

async fn apps_round_trip(store: &dyn Store) {
    let t = tenant("alpha");
    store.create_tenant(&t).await.unwrap();
    let zulu = app(&t, "Zulu");
    let mut alpha = app(&t, "Alpha");
    alpha.method = SignInMethod::EmailOtp;
    alpha.identifier_uri = Some("api://alpha".into());
    alpha.scopes = vec!["read".into(), "write".into()];
    alpha.signup_attributes = vec![
        AttributeSpec {
            name: "displayName".into(),
            kind: AttributeKind::String,
            required: true,
            min_length: Some(2),
            max_length: Some(256),
            pattern: Some("^[A-Za-z ]+$".into()),
            allowed_values: vec![],
        },
        AttributeSpec {
            name: "extension_0123_tier".into(),
            kind: AttributeKind::Int,
            required: false,
            min_length: None,
            max_length: None,
            pattern: None,
            allowed_values: vec!["1".into(), "2".into()],
        },
    ];
    alpha.mfa = Some(MfaPolicy {
        required: true,
        methods: vec![AuthMethodKind::Email, AuthMethodKind::Sms],
    });
    store.create_app(&zulu).await.unwrap();
    store.create_app(&alpha).await.unwrap();
    assert!(is_conflict(store.create_app(&alpha).await));

    assert_eq!(
        store.app_by_client_id(&alpha.client_id).await.unwrap(),
        Some(alpha.clone())
    );
    let unknown = ClientId::parse(&Uuid::new_v4().to_string()).unwrap();
    assert_eq!(store.app_by_client_id(&unknown).await.unwrap(), None);

    let mut updated = zulu.clone();
    updated.display_name = "Beta".into();
    updated.native_auth = false;
    updated.cors_origins = vec![];
    updated.scopes = vec!["admin".into()];
    updated.signup_attributes = vec![AttributeSpec {
        name: "extension_0123_newsletter".into(),
        kind: AttributeKind::Boolean,
        required: false,
        min_length: None,
        max_length: None,
        pattern: None,
        allowed_values: vec![],
    }];
    store.update_app(&updated).await.unwrap();
    assert_eq!(
        store.app_by_client_id(&zulu.client_id).await.unwrap(),
        Some(updated.clone())
    );

    let other = tenant("other");
    store.create_tenant(&other).await.unwrap();
    store.create_app(&app(&other, "Elsewhere")).await.unwrap();
    assert_eq!(store.apps_of_tenant(t.id).await.unwrap(), vec![alpha, updated]);
}

// ---------------------------------------------------------------------------------------------
// Users

async fn users_round_trip(store: &dyn Store) {
    let (t, _, ada) = seed(store).await;
    let mut bob = user(&t, "bob@example.com");
    bob.password_hash = None;
    bob.attributes = serde_json::Map::new();
    store.create_user(&bob).await.unwrap();

    assert_eq!(
        store.user_by_username(t.id, "ada@example.com").await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(store.user_by_username(t.id, "nobody").await.unwrap(), None);
    assert_eq!(store.user_by_id(t.id, bob.id).await.unwrap(), Some(bob.clone()));
    assert_eq!(
        store.user_by_id(TenantId::new_random(), bob.id).await.unwrap(),
        None
    );
    assert_eq!(store.list_users(t.id).await.unwrap(), vec![ada, bob]);
}

async fn duplicate_username_conflicts_within_tenant_only(store: &dyn Store) {
    let (t, _, ada) = seed(store).await;
    let again = user(&t, "ADA@example.COM");
    assert_eq!(again.username_normalized, ada.username_normalized);
    assert!(is_conflict(store.create_user(&again).await));

    let other = tenant("other");
    store.create_tenant(&other).await.unwrap();
    store.create_user(&user(&other, "ada@example.com")).await.unwrap();
    assert_eq!(store.list_users(t.id).await.unwrap(), vec![ada]);
}

async fn set_user_password_replaces_hash_and_revokes_families(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    let session = signed_in(store, &a, &u).await;

    assert!(
        store
            .set_user_password(t.id, u.id, "$argon2id$new", T0 + 5)
            .await
            .unwrap()
    );
    let stored = store.user_by_id(t.id, u.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(stored.updated_at, T0 + 5);
    let token = store.refresh_by_hash(&session.token_hash).await.unwrap().unwrap();
    assert_eq!(token.revoked_at, Some(T0 + 5));

    let nobody = UserId::new_random();
    assert!(!store.set_user_password(t.id, nobody, "$x", T0).await.unwrap());
    assert!(
        !store
            .set_user_password(TenantId::new_random(), u.id, "$x", T0)
            .await
            .unwrap()
    );
}

async fn set_user_password_deletes_the_users_flows(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    let (_, sign_in) = user_flow(store, &a, &u, FlowKind::SignIn).await;
    let (_, reset) = user_flow(store, &a, &u, FlowKind::ResetPassword).await;
    let bob = user(&t, "bob@example.com");
    store.create_user(&bob).await.unwrap();
    let (_, bobs) = user_flow(store, &a, &bob, FlowKind::SignIn).await;
    let (_, anonymous) = started_flow(store, &a).await;

    assert!(
        store
            .set_user_password(t.id, u.id, "$argon2id$new", T0 + 5)
            .await
            .unwrap()
    );
    assert!(
        !flow_alive(store, &sign_in).await,
        "the user's sign-in flow is gone"
    );
    assert!(!flow_alive(store, &reset).await, "the user's reset flow is gone");
    assert!(flow_alive(store, &bobs).await, "another user's flow stays");
    assert!(
        store
            .token_with_flow(&anonymous.token_hash)
            .await
            .unwrap()
            .is_some(),
        "a flow naming no user stays"
    );

    // No such user: nothing is deleted.
    let (_, later) = user_flow(store, &a, &u, FlowKind::SignIn).await;
    assert!(
        !store
            .set_user_password(TenantId::new_random(), u.id, "$x", T0)
            .await
            .unwrap()
    );
    assert!(flow_alive(store, &later).await);
}

async fn rehash_password_replaces_only_the_expected_hash(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    let session = signed_in(store, &a, &u).await;
    let (_, flow) = user_flow(store, &a, &u, FlowKind::SignIn).await;
    let old = u.password_hash.clone().unwrap();

    assert!(
        !store
            .rehash_password(t.id, u.id, "$argon2id$other", "$new")
            .await
            .unwrap()
    );
    assert!(
        !store
            .rehash_password(TenantId::new_random(), u.id, &old, "$new")
            .await
            .unwrap()
    );
    assert!(
        !store
            .rehash_password(t.id, UserId::new_random(), &old, "$new")
            .await
            .unwrap()
    );
    assert_eq!(store.user_by_id(t.id, u.id).await.unwrap(), Some(u.clone()));

    assert!(
        store
            .rehash_password(t.id, u.id, &old, "$argon2id$v=19$new")
            .await
            .unwrap()
    );
    let stored = store.user_by_id(t.id, u.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash.as_deref(), Some("$argon2id$v=19$new"));
    assert!(
        !store.rehash_password(t.id, u.id, &old, "$again").await.unwrap(),
        "the old hash is gone"
    );
    // Sessions and flows are untouched.
    let token = store.refresh_by_hash(&session.token_hash).await.unwrap().unwrap();
    assert_eq!(token.revoked_at, None);
    assert!(flow_alive(store, &flow).await);

    let mut bare = user(&t, "nopassword@example.com");
    bare.password_hash = None;
    store.create_user(&bare).await.unwrap();
    assert!(!store.rehash_password(t.id, bare.id, "", "$new").await.unwrap());
}

async fn import_users_writes_all_or_none(store: &dyn Store) {
    let (t, _, ada) = seed(store).await;
    store.import_users(&[]).await.unwrap();
    let (bob, carol) = (user(&t, "bob@example.com"), user(&t, "carol@example.com"));
    store.import_users(&[carol.clone(), bob.clone()]).await.unwrap();
    assert_eq!(
        store.list_users(t.id).await.unwrap(),
        vec![ada.clone(), bob.clone(), carol.clone()]
    );

    let conflict = |result: StoreResult<()>| match result {
        Err(StoreError::Conflict(username)) => username,
        other => panic!("expected a conflict, got {other:?}"),
    };
    let dave = user(&t, "dave@example.com");
    let ada_again = user(&t, "ADA@example.com");
    assert_eq!(
        conflict(store.import_users(&[dave.clone(), ada_again]).await),
        "ADA@example.com",
        "names the username as given"
    );
    let twice = [dave.clone(), user(&t, "Dave@Example.com")];
    assert_eq!(conflict(store.import_users(&twice).await), "Dave@Example.com");
    let same_id = User {
        username: "erin@example.com".into(),
        username_normalized: "erin@example.com".into(),
        ..bob.clone()
    };
    assert_eq!(
        conflict(store.import_users(&[dave.clone(), same_id]).await),
        "erin@example.com"
    );
    assert_eq!(
        store.list_users(t.id).await.unwrap(),
        vec![ada, bob, carol],
        "a failed import writes nothing"
    );

    // The same username in another tenant is another user.
    let other = tenant("other");
    store.create_tenant(&other).await.unwrap();
    store
        .import_users(&[user(&other, "ada@example.com"), dave.clone()])
        .await
        .unwrap();
    assert_eq!(store.user_by_id(t.id, dave.id).await.unwrap(), Some(dave));
}

async fn set_user_disabled_revokes_families_only_when_disabling(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    let first = signed_in(store, &a, &u).await;

    assert!(store.set_user_disabled(t.id, u.id, true, T0 + 1).await.unwrap());
    assert!(store.user_by_id(t.id, u.id).await.unwrap().unwrap().disabled);
    let token = store.refresh_by_hash(&first.token_hash).await.unwrap().unwrap();
    assert_eq!(token.revoked_at, Some(T0 + 1));

    let second = signed_in(store, &a, &u).await;
    assert!(store.set_user_disabled(t.id, u.id, false, T0 + 2).await.unwrap());
    assert!(!store.user_by_id(t.id, u.id).await.unwrap().unwrap().disabled);
    let token = store.refresh_by_hash(&second.token_hash).await.unwrap().unwrap();
    assert_eq!(token.revoked_at, None, "enabling revokes nothing");

    assert!(
        !store
            .set_user_disabled(t.id, UserId::new_random(), true, T0)
            .await
            .unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// Flows

async fn flow_and_token_round_trip(store: &dyn Store) {
    let (_, a, _) = seed(store).await;
    let (f, t) = started_flow(store, &a).await;
    assert_eq!(
        store.token_with_flow(&t.token_hash).await.unwrap(),
        Some((t.clone(), f.clone()))
    );
    assert_eq!(store.token_with_flow(&random_hash()).await.unwrap(), None);

    let resend = token(&f, 0, "continue");
    let resent = json!({"state": "started", "email": "ada@example.com", "sends": 2});
    assert!(store.add_token(&resend, &resent).await.unwrap());
    let stored = FlowRecord {
        state: resent.clone(),
        ..f.clone()
    };
    assert_eq!(
        store.token_with_flow(&resend.token_hash).await.unwrap(),
        Some((resend, stored.clone()))
    );
    let refused = json!({"state": "refused"});
    assert!(
        is_conflict(store.add_token(&t, &refused).await),
        "same hash twice"
    );
    let (_, unchanged) = store.token_with_flow(&t.token_hash).await.unwrap().unwrap();
    assert_eq!(unchanged, stored, "a refused token writes no state");
}

/// A write that fails half-way (its second statement clashes) is rolled back in full, and the
/// connection it ran on goes back to the pool outside any transaction: more failures than the
/// pool has connections, then writes that must all be committed and visible to other readers.
async fn failed_writes_leave_no_transaction_open(store: &dyn Store) {
    let (_, a, _) = seed(store).await;
    let (f, t) = started_flow(store, &a).await;
    for i in 0..24 {
        let clash = ContinuationRecord {
            step: format!("clash {i}"),
            ..t.clone()
        };
        assert!(is_conflict(store.add_token(&clash, &json!({"try": i})).await));
        let other = flow(&a, T0 + 900);
        assert!(
            is_conflict(store.create_flow(&other, &t).await),
            "same first token"
        );
        assert_eq!(store.token_with_flow(&random_hash()).await.unwrap(), None);
    }
    let mut added = Vec::new();
    for i in 0..24 {
        let next = token(&f, 0, "continue");
        assert!(store.add_token(&next, &json!({"added": i})).await.unwrap());
        added.push(next);
    }
    for next in &added {
        let (found, flow) = store.token_with_flow(&next.token_hash).await.unwrap().unwrap();
        assert_eq!(&found, next);
        assert_eq!(flow.state, json!({"added": 23}));
    }
}

async fn add_token_refused_after_advance(store: &dyn Store) {
    let (_, a, _) = seed(store).await;
    let (f, _) = started_flow(store, &a).await;
    assert!(
        store
            .advance_flow(f.id, 0, &json!({"state": "otp_sent"}), None, None)
            .await
            .unwrap()
    );

    let late = token(&f, 0, "continue");
    assert!(!store.add_token(&late, &json!({"state": "late"})).await.unwrap());
    assert_eq!(store.token_with_flow(&late.token_hash).await.unwrap(), None);

    let current = token(&f, 1, "continue");
    let resent = json!({"state": "otp_sent", "sends": 2});
    assert!(store.add_token(&current, &resent).await.unwrap());
    let (_, flow_now) = store.token_with_flow(&current.token_hash).await.unwrap().unwrap();
    assert_eq!(
        (flow_now.generation, flow_now.state),
        (1, resent),
        "the late state was not written"
    );
    let unknown_flow = token(&flow(&a, T0 + 900), 0, "continue");
    assert!(!store.add_token(&unknown_flow, &json!({})).await.unwrap());
}

async fn advance_flow_is_compare_and_swap(store: &dyn Store) {
    let (_, a, u) = seed(store).await;
    let (f, first) = started_flow(store, &a).await;
    let next = token(&f, 1, "continue");
    let state = json!({"state": "otp_sent", "otp": 1});
    assert!(
        store
            .advance_flow(f.id, 0, &state, Some(u.id), Some(&next))
            .await
            .unwrap()
    );

    let (stored_next, advanced) = store.token_with_flow(&next.token_hash).await.unwrap().unwrap();
    assert_eq!(stored_next, next);
    assert_eq!(advanced.generation, 1);
    assert_eq!(advanced.state, state);
    assert_eq!(advanced.user_id, Some(u.id));
    // The first token still resolves (so it can be recognised as superseded).
    let (old, _) = store.token_with_flow(&first.token_hash).await.unwrap().unwrap();
    assert_eq!(old.generation, 0);

    let stale_next = token(&f, 1, "continue");
    let stale = json!({"state": "stale"});
    let other_user = UserId::new_random();
    let moved = store
        .advance_flow(f.id, 0, &stale, Some(other_user), Some(&stale_next))
        .await
        .unwrap();
    assert!(!moved);
    assert_eq!(store.token_with_flow(&stale_next.token_hash).await.unwrap(), None);
    let (_, unchanged) = store.token_with_flow(&next.token_hash).await.unwrap().unwrap();
    assert_eq!(unchanged, advanced, "a stale generation writes nothing");

    assert!(
        !store
            .advance_flow(FlowId::new_random(), 0, &stale, None, None)
            .await
            .unwrap()
    );
}

async fn advance_flow_keeps_user_when_none_given(store: &dyn Store) {
    let (_, a, u) = seed(store).await;
    let (f, _) = started_flow(store, &a).await;
    assert!(
        store
            .advance_flow(f.id, 0, &json!({"s": 1}), Some(u.id), None)
            .await
            .unwrap()
    );
    let next = token(&f, 2, "continue");
    assert!(
        store
            .advance_flow(f.id, 1, &json!({"s": 2}), None, Some(&next))
            .await
            .unwrap()
    );
    let (_, flow) = store.token_with_flow(&next.token_hash).await.unwrap().unwrap();
    assert_eq!(flow.user_id, Some(u.id));
    assert_eq!(flow.generation, 2);
}

async fn concurrent_advance_has_one_winner(store: &dyn Store) {
    let (_, a, _) = seed(store).await;
    for _ in 0..20 {
        let (f, _) = started_flow(store, &a).await;
        let (left, right) = (token(&f, 1, "continue"), token(&f, 1, "continue"));
        let (by_left, by_right) = (json!({"by": "left"}), json!({"by": "right"}));
        let (l, r) = tokio::join!(
            store.advance_flow(f.id, 0, &by_left, None, Some(&left)),
            store.advance_flow(f.id, 0, &by_right, None, Some(&right)),
        );
        let (l, r) = (l.unwrap(), r.unwrap());
        assert!(l ^ r, "exactly one advance wins (left {l}, right {r})");

        let (winner, loser) = if l { (left, right) } else { (right, left) };
        let (_, flow) = store.token_with_flow(&winner.token_hash).await.unwrap().unwrap();
        assert_eq!(flow.generation, 1);
        assert_eq!(flow.state, if l { by_left } else { by_right });
        assert_eq!(store.token_with_flow(&loser.token_hash).await.unwrap(), None);
    }
}

async fn purge_deletes_expired_flows_and_their_tokens(store: &dyn Store) {
    let (_, a, _) = seed(store).await;
    let expired = flow(&a, T0 + 10);
    let expired_token = token(&expired, 0, "challenge");
    store.create_flow(&expired, &expired_token).await.unwrap();
    let extra = token(&expired, 0, "continue");
    assert!(store.add_token(&extra, &expired.state).await.unwrap());
    let boundary = flow(&a, T0 + 20);
    let boundary_token = token(&boundary, 0, "challenge");
    store.create_flow(&boundary, &boundary_token).await.unwrap();

    assert_eq!(store.purge_expired_flows(T0 + 20).await.unwrap(), 1);
    assert_eq!(
        store.token_with_flow(&expired_token.token_hash).await.unwrap(),
        None
    );
    assert_eq!(store.token_with_flow(&extra.token_hash).await.unwrap(), None);
    assert!(
        store
            .token_with_flow(&boundary_token.token_hash)
            .await
            .unwrap()
            .is_some()
    );
    // The expired flow's id is gone: nothing can be added to it.
    assert!(
        !store
            .add_token(&token(&expired, 0, "continue"), &expired.state)
            .await
            .unwrap()
    );
    assert_eq!(store.purge_expired_flows(T0 + 20).await.unwrap(), 0);
}

async fn advance_flow_creating_user_writes_both(store: &dyn Store) {
    let (t, a, _) = seed(store).await;
    let (f, _) = started_flow(store, &a).await;
    let new = user(&t, "Bob@Example.com");
    let next = token(&f, 1, "completed");
    let state = json!({"state": "completed"});
    assert!(
        store
            .advance_flow_creating_user(f.id, 0, &state, &new, Some(&next))
            .await
            .unwrap()
    );

    assert_eq!(store.user_by_id(t.id, new.id).await.unwrap(), Some(new.clone()));
    let (stored_next, advanced) = store.token_with_flow(&next.token_hash).await.unwrap().unwrap();
    assert_eq!(stored_next, next);
    assert_eq!(advanced.generation, 1);
    assert_eq!(advanced.state, state);
    assert_eq!(advanced.user_id, Some(new.id), "the flow names the new user");
}

async fn advance_flow_creating_user_conflict_writes_nothing(store: &dyn Store) {
    let (t, a, ada) = seed(store).await;
    let (f, first) = started_flow(store, &a).await;
    let twin = user(&t, "ADA@example.com");
    let next = token(&f, 1, "completed");
    let result = store
        .advance_flow_creating_user(f.id, 0, &json!({"state": "completed"}), &twin, Some(&next))
        .await;
    assert!(is_conflict(result), "duplicate username");

    assert_eq!(store.user_by_id(t.id, twin.id).await.unwrap(), None);
    assert_eq!(store.list_users(t.id).await.unwrap(), vec![ada]);
    assert_eq!(store.token_with_flow(&next.token_hash).await.unwrap(), None);
    let (_, unchanged) = store.token_with_flow(&first.token_hash).await.unwrap().unwrap();
    assert_eq!(unchanged, f, "the flow did not advance");
    // The flow can still advance from where it was.
    assert!(
        store
            .advance_flow(f.id, 0, &json!({"state": "retry"}), None, None)
            .await
            .unwrap()
    );
}

async fn advance_flow_creating_user_stale_generation_writes_nothing(store: &dyn Store) {
    let (t, a, _) = seed(store).await;
    let (f, first) = started_flow(store, &a).await;
    let moved = json!({"state": "otp_sent"});
    assert!(store.advance_flow(f.id, 0, &moved, None, None).await.unwrap());

    let new = user(&t, "bob@example.com");
    let next = token(&f, 1, "completed");
    let created = store
        .advance_flow_creating_user(f.id, 0, &json!({"state": "completed"}), &new, Some(&next))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(store.user_by_id(t.id, new.id).await.unwrap(), None);
    assert_eq!(
        store.user_by_username(t.id, "bob@example.com").await.unwrap(),
        None
    );
    assert_eq!(store.token_with_flow(&next.token_hash).await.unwrap(), None);
    let (_, flow) = store.token_with_flow(&first.token_hash).await.unwrap().unwrap();
    assert_eq!((flow.generation, flow.state, flow.user_id), (1, moved, None));

    let unknown = user(&t, "carol@example.com");
    let nowhere = store
        .advance_flow_creating_user(FlowId::new_random(), 0, &json!({}), &unknown, None)
        .await
        .unwrap();
    assert!(!nowhere);
    assert_eq!(store.user_by_id(t.id, unknown.id).await.unwrap(), None);
}

async fn advance_flow_resetting_password_writes_everything(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    let session = signed_in(store, &a, &u).await;
    let (f, first) = user_flow(store, &a, &u, FlowKind::ResetPassword).await;
    let (_, other_reset) = user_flow(store, &a, &u, FlowKind::ResetPassword).await;
    let (_, sign_in) = user_flow(store, &a, &u, FlowKind::SignIn).await;
    let bob = user(&t, "bob@example.com");
    store.create_user(&bob).await.unwrap();
    let bobs_session = signed_in(store, &a, &bob).await;
    let (_, bobs) = user_flow(store, &a, &bob, FlowKind::ResetPassword).await;

    let next = token(&f, 1, "poll_completion");
    let state = json!({"state": "succeeded"});
    let reset = store
        .advance_flow_resetting_password(f.id, 0, &state, u.id, "$argon2id$reset", T0 + 7, Some(&next))
        .await
        .unwrap();
    assert!(reset);

    let (stored_next, advanced) = store.token_with_flow(&next.token_hash).await.unwrap().unwrap();
    assert_eq!(stored_next, next);
    assert_eq!(
        (advanced.generation, &advanced.state, advanced.user_id),
        (1, &state, Some(u.id))
    );
    assert!(
        flow_alive(store, &first).await,
        "this flow advances, it is not deleted"
    );
    assert!(
        !flow_alive(store, &other_reset).await,
        "the user's other reset flow is gone"
    );
    assert!(
        !flow_alive(store, &sign_in).await,
        "the user's sign-in flow is gone"
    );

    let stored = store.user_by_id(t.id, u.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash.as_deref(), Some("$argon2id$reset"));
    assert_eq!(stored.updated_at, T0 + 7);
    let token = store.refresh_by_hash(&session.token_hash).await.unwrap().unwrap();
    assert_eq!(token.revoked_at, Some(T0 + 7));

    // Other users are untouched.
    assert!(flow_alive(store, &bobs).await);
    let theirs = store
        .refresh_by_hash(&bobs_session.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(theirs.revoked_at, None);
    assert_eq!(
        store
            .user_by_id(t.id, bob.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        bob.password_hash
    );
}

async fn advance_flow_resetting_password_stale_generation_writes_nothing(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    let session = signed_in(store, &a, &u).await;
    let (f, first) = user_flow(store, &a, &u, FlowKind::ResetPassword).await;
    let (_, sign_in) = user_flow(store, &a, &u, FlowKind::SignIn).await;
    let moved = json!({"state": "otp_sent"});
    assert!(store.advance_flow(f.id, 0, &moved, None, None).await.unwrap());

    let next = token(&f, 1, "poll_completion");
    let reset = store
        .advance_flow_resetting_password(f.id, 0, &json!({"s": "late"}), u.id, "$new", T0 + 7, Some(&next))
        .await
        .unwrap();
    assert!(!reset);

    assert_eq!(store.token_with_flow(&next.token_hash).await.unwrap(), None);
    let (_, flow) = store.token_with_flow(&first.token_hash).await.unwrap().unwrap();
    assert_eq!((flow.generation, flow.state), (1, moved));
    assert!(flow_alive(store, &sign_in).await, "other flows stay");
    assert_eq!(store.user_by_id(t.id, u.id).await.unwrap(), Some(u.clone()));
    let token = store.refresh_by_hash(&session.token_hash).await.unwrap().unwrap();
    assert_eq!(token.revoked_at, None);

    let nowhere = store
        .advance_flow_resetting_password(FlowId::new_random(), 0, &json!({}), u.id, "$new", T0, None)
        .await
        .unwrap();
    assert!(!nowhere);
    assert_eq!(store.user_by_id(t.id, u.id).await.unwrap(), Some(u));
}

async fn advance_flow_resetting_password_unknown_user_writes_nothing(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    let (f, first) = user_flow(store, &a, &u, FlowKind::ResetPassword).await;
    let next = token(&f, 1, "poll_completion");
    let reset = store
        .advance_flow_resetting_password(
            f.id,
            0,
            &json!({"s": 1}),
            UserId::new_random(),
            "$new",
            T0,
            Some(&next),
        )
        .await
        .unwrap();
    assert!(!reset, "no such user");

    // A user of another tenant is not found through this tenant's flow either.
    let other = tenant("other");
    store.create_tenant(&other).await.unwrap();
    let stranger = user(&other, "eve@example.com");
    store.create_user(&stranger).await.unwrap();
    let reset = store
        .advance_flow_resetting_password(f.id, 0, &json!({"s": 1}), stranger.id, "$new", T0, Some(&next))
        .await
        .unwrap();
    assert!(!reset, "the user is looked up in the flow's tenant");
    assert_eq!(
        store.user_by_id(other.id, stranger.id).await.unwrap(),
        Some(stranger)
    );

    assert_eq!(store.token_with_flow(&next.token_hash).await.unwrap(), None);
    let (_, unchanged) = store.token_with_flow(&first.token_hash).await.unwrap().unwrap();
    assert_eq!(unchanged, f, "the flow did not advance");
    assert_eq!(store.user_by_id(t.id, u.id).await.unwrap(), Some(u));
}

async fn concurrent_resets_have_one_winner(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    for round in 0..10 {
        let (f, _) = user_flow(store, &a, &u, FlowKind::ResetPassword).await;
        let (left, right) = (token(&f, 1, "done"), token(&f, 1, "done"));
        let (lh, rh) = (format!("$left{round}"), format!("$right{round}"));
        let state = json!({"state": "succeeded"});
        let (l, r) = tokio::join!(
            store.advance_flow_resetting_password(f.id, 0, &state, u.id, &lh, T0 + 1, Some(&left)),
            store.advance_flow_resetting_password(f.id, 0, &state, u.id, &rh, T0 + 1, Some(&right)),
        );
        let (l, r) = (l.unwrap(), r.unwrap());
        assert!(l ^ r, "exactly one reset wins (left {l}, right {r})");
        let (winner, loser, hash) = if l { (left, right, lh) } else { (right, left, rh) };
        assert!(store.token_with_flow(&winner.token_hash).await.unwrap().is_some());
        assert_eq!(store.token_with_flow(&loser.token_hash).await.unwrap(), None);
        let stored = store.user_by_id(t.id, u.id).await.unwrap().unwrap();
        assert_eq!(
            stored.password_hash,
            Some(hash),
            "the winner's password is stored"
        );
    }
}

async fn concurrent_sign_ups_with_one_email_have_one_winner(store: &dyn Store) {
    let (t, a, _) = seed(store).await;
    for round in 0..10 {
        let (left_flow, _) = started_flow(store, &a).await;
        let (right_flow, _) = started_flow(store, &a).await;
        let email = format!("Twin{round}@Example.com");
        let (left_user, right_user) = (user(&t, &email), user(&t, &email));
        let done = json!({"state": "completed"});
        let (l, r) = tokio::join!(
            store.advance_flow_creating_user(left_flow.id, 0, &done, &left_user, None),
            store.advance_flow_creating_user(right_flow.id, 0, &done, &right_user, None),
        );
        let (winner, loser_flow) = match (l, r) {
            (Ok(true), Err(StoreError::Conflict(_))) => (left_user, right_flow),
            (Err(StoreError::Conflict(_)), Ok(true)) => (right_user, left_flow),
            other => panic!("expected one sign-up and one conflict, got {other:?}"),
        };
        let stored = store.user_by_username(t.id, &email.to_lowercase()).await.unwrap();
        assert_eq!(stored.map(|u| u.id), Some(winner.id));
        // The loser's flow did not advance: it can still advance from generation 0.
        assert!(
            store
                .advance_flow(loser_flow.id, 0, &json!({"state": "retry"}), None, None)
                .await
                .unwrap()
        );
    }
}

/// Password changes and resets of one user, racing on overlapping flows, neither deadlock nor
/// fail: each either completes or (a reset whose flow another change deleted) answers false.
async fn concurrent_password_changes_of_one_user_all_complete(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    for _ in 0..10 {
        let (one, _) = user_flow(store, &a, &u, FlowKind::ResetPassword).await;
        let (two, _) = user_flow(store, &a, &u, FlowKind::ResetPassword).await;
        user_flow(store, &a, &u, FlowKind::SignIn).await;
        signed_in(store, &a, &u).await;
        let done = json!({"state": "succeeded"});
        let (r1, r2, set) = tokio::join!(
            store.advance_flow_resetting_password(one.id, 0, &done, u.id, "$one", T0 + 1, None),
            store.advance_flow_resetting_password(two.id, 0, &done, u.id, "$two", T0 + 1, None),
            store.set_user_password(t.id, u.id, "$set", T0 + 1),
        );
        let (r1, r2) = (r1.unwrap(), r2.unwrap());
        assert!(set.unwrap(), "the user exists");
        assert!(!(r1 && r2), "a reset deletes the other reset's flow");
        let stored = store.user_by_id(t.id, u.id).await.unwrap().unwrap();
        assert!(
            ["$one", "$two", "$set"].contains(&stored.password_hash.as_deref().unwrap()),
            "one of the changes is the last"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// One-time codes

async fn put_otp_replaces_and_invalidates_the_old_code(store: &dyn Store) {
    let (_, a, _) = seed(store).await;
    let (f, old) = flow_with_code(store, &a).await;
    assert_eq!(store.attempt_otp(f.id, T0 + 1, 5).await.unwrap(), check(&old, 1));
    assert_eq!(store.attempt_otp(f.id, T0 + 2, 5).await.unwrap(), check(&old, 2));

    let new = OtpRecord {
        created_at: T0 + 3,
        ..otp(&f, T0 + 900)
    };
    store.put_otp(&new).await.unwrap();
    assert_eq!(
        store.attempt_otp(f.id, T0 + 700, 5).await.unwrap(),
        check(&new, 1),
        "new hash, tries reset, new expiry"
    );
    assert!(!store.consume_otp(f.id, &old.code_hash, T0 + 4).await.unwrap());
    assert!(store.consume_otp(f.id, &new.code_hash, T0 + 4).await.unwrap());

    // Replacing a used code makes it usable again.
    let again = otp(&f, T0 + 900);
    store.put_otp(&again).await.unwrap();
    assert_eq!(
        store.attempt_otp(f.id, T0 + 5, 5).await.unwrap(),
        check(&again, 1)
    );
}

async fn attempt_otp_counts_until_exhausted(store: &dyn Store) {
    let (_, a, _) = seed(store).await;
    let (f, code) = flow_with_code(store, &a).await;
    for n in 1..=3 {
        assert_eq!(store.attempt_otp(f.id, T0 + n, 3).await.unwrap(), check(&code, n));
    }
    assert_eq!(
        store.attempt_otp(f.id, T0 + 4, 3).await.unwrap(),
        OtpAttempt::Exhausted
    );
    assert_eq!(
        store.attempt_otp(f.id, T0 + 5, 3).await.unwrap(),
        OtpAttempt::Exhausted
    );
    // Refused tries were not counted: a higher limit allows exactly the next one.
    assert_eq!(store.attempt_otp(f.id, T0 + 6, 4).await.unwrap(), check(&code, 4));
    assert_eq!(
        store.attempt_otp(f.id, T0 + 7, 4).await.unwrap(),
        OtpAttempt::Exhausted
    );
    // The right code can still be consumed; refusing it is the core's decision.
    assert!(store.consume_otp(f.id, &code.code_hash, T0 + 8).await.unwrap());
}

async fn attempt_otp_reports_missing_and_expired_codes(store: &dyn Store) {
    let (_, a, _) = seed(store).await;
    let (bare, _) = started_flow(store, &a).await;
    assert_eq!(
        store.attempt_otp(bare.id, T0, 5).await.unwrap(),
        OtpAttempt::NoCode
    );
    assert_eq!(
        store.attempt_otp(FlowId::new_random(), T0, 5).await.unwrap(),
        OtpAttempt::NoCode
    );
    assert!(!store.consume_otp(bare.id, &random_hash(), T0).await.unwrap());

    let (f, code) = flow_with_code(store, &a).await;
    assert_eq!(
        store.attempt_otp(f.id, T0 + 600, 5).await.unwrap(),
        OtpAttempt::Expired
    );
    assert_eq!(
        store.attempt_otp(f.id, T0 + 601, 5).await.unwrap(),
        OtpAttempt::Expired
    );
    // Expired tries were not counted.
    assert_eq!(
        store.attempt_otp(f.id, T0 + 599, 5).await.unwrap(),
        check(&code, 1)
    );
}

async fn consume_otp_succeeds_once(store: &dyn Store) {
    let (_, a, _) = seed(store).await;
    let (f, code) = flow_with_code(store, &a).await;
    assert_eq!(store.attempt_otp(f.id, T0 + 1, 5).await.unwrap(), check(&code, 1));
    assert!(
        !store.consume_otp(f.id, &random_hash(), T0 + 2).await.unwrap(),
        "wrong hash"
    );
    assert!(store.consume_otp(f.id, &code.code_hash, T0 + 2).await.unwrap());
    assert!(
        !store.consume_otp(f.id, &code.code_hash, T0 + 3).await.unwrap(),
        "only once"
    );
    assert_eq!(
        store.attempt_otp(f.id, T0 + 4, 5).await.unwrap(),
        OtpAttempt::Used
    );
    // Used wins over expired and exhausted.
    assert_eq!(
        store.attempt_otp(f.id, T0 + 900, 0).await.unwrap(),
        OtpAttempt::Used
    );

    let (other, other_code) = flow_with_code(store, &a).await;
    assert!(
        !store.consume_otp(other.id, &code.code_hash, T0).await.unwrap(),
        "another flow's hash"
    );
    assert!(
        store
            .consume_otp(other.id, &other_code.code_hash, T0)
            .await
            .unwrap()
    );
}

async fn concurrent_attempts_never_exceed_the_limit(store: &dyn Store) {
    let (_, a, _) = seed(store).await;
    let (f, code) = flow_with_code(store, &a).await;
    let outcomes = join_all((0..200).map(|_| store.attempt_otp(f.id, T0 + 1, 5))).await;

    let mut counted: Vec<i64> = Vec::new();
    for outcome in outcomes {
        match outcome.unwrap() {
            OtpAttempt::Check { code_hash, attempts } => {
                assert_eq!(code_hash, code.code_hash);
                counted.push(attempts);
            }
            OtpAttempt::Exhausted => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    counted.sort_unstable();
    assert_eq!(
        counted,
        vec![1, 2, 3, 4, 5],
        "exactly five tries, each counted once"
    );
    assert_eq!(
        store.attempt_otp(f.id, T0 + 2, 5).await.unwrap(),
        OtpAttempt::Exhausted
    );
}

async fn concurrent_consume_has_one_winner(store: &dyn Store) {
    let (_, a, _) = seed(store).await;
    for _ in 0..10 {
        let (f, code) = flow_with_code(store, &a).await;
        let results = join_all((0..8).map(|_| store.consume_otp(f.id, &code.code_hash, T0 + 1))).await;
        let won = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(won, 1, "exactly one consume succeeds");
    }
}

async fn reserve_code_send_caps_sends_per_window(store: &dyn Store) {
    let (t, _, _) = seed(store).await;
    let ada = "ada@example.com";
    for at in [T0, T0 + 10, T0 + 20] {
        assert!(store.reserve_code_send(t.id, ada, at, T0, 3).await.unwrap());
    }
    assert!(!store.reserve_code_send(t.id, ada, T0 + 30, T0, 3).await.unwrap());
    // Other addresses and other tenants have their own budget.
    assert!(
        store
            .reserve_code_send(t.id, "bob@example.com", T0 + 30, T0, 3)
            .await
            .unwrap()
    );
    let other = tenant("other");
    store.create_tenant(&other).await.unwrap();
    assert!(
        store
            .reserve_code_send(other.id, ada, T0 + 30, T0, 3)
            .await
            .unwrap()
    );

    // The refused send was not recorded; sends before the window start do not count, a send at
    // the window start does.
    assert!(
        store
            .reserve_code_send(t.id, ada, T0 + 40, T0 + 10, 3)
            .await
            .unwrap()
    );
    assert!(
        !store
            .reserve_code_send(t.id, ada, T0 + 41, T0 + 10, 3)
            .await
            .unwrap()
    );
    assert!(
        store
            .reserve_code_send(t.id, ada, T0 + 42, T0 + 11, 3)
            .await
            .unwrap()
    );
    assert!(
        !store
            .reserve_code_send(t.id, ada, T0 + 43, T0 + 11, 3)
            .await
            .unwrap()
    );
    assert!(
        !store.reserve_code_send(t.id, ada, T0 + 44, T0, 0).await.unwrap(),
        "max 0"
    );
}

async fn concurrent_reserve_at_the_limit_has_one_winner(store: &dyn Store) {
    let (t, _, _) = seed(store).await;
    for round in 0..20 {
        let address = format!("user{round}@example.com");
        for at in [T0, T0 + 1] {
            assert!(store.reserve_code_send(t.id, &address, at, T0, 3).await.unwrap());
        }
        let (l, r) = tokio::join!(
            store.reserve_code_send(t.id, &address, T0 + 2, T0, 3),
            store.reserve_code_send(t.id, &address, T0 + 2, T0, 3),
        );
        let (l, r) = (l.unwrap(), r.unwrap());
        assert!(l ^ r, "exactly one reservation wins (left {l}, right {r})");
        assert!(
            !store
                .reserve_code_send(t.id, &address, T0 + 3, T0, 3)
                .await
                .unwrap()
        );
    }
    let address = "many@example.com";
    let results = join_all((0..50).map(|_| store.reserve_code_send(t.id, address, T0, T0, 10))).await;
    let won = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(won, 10, "exactly the limit");
}

async fn purge_deletes_codes_and_old_code_sends(store: &dyn Store) {
    let (t, a, _) = seed(store).await;
    let now = T0 + 100_000;
    let expired = flow(&a, now - 1);
    store
        .create_flow(&expired, &token(&expired, 0, "challenge"))
        .await
        .unwrap();
    let gone = otp(&expired, now + 600);
    store.put_otp(&gone).await.unwrap();
    let live = flow(&a, now + 900);
    store
        .create_flow(&live, &token(&live, 0, "challenge"))
        .await
        .unwrap();
    let kept = otp(&live, now + 600);
    store.put_otp(&kept).await.unwrap();

    let ada = "ada@example.com";
    for at in [now - 86_401, now - 86_400, now - 10] {
        assert!(store.reserve_code_send(t.id, ada, at, 0, 10).await.unwrap());
    }

    assert_eq!(store.purge_expired_flows(now).await.unwrap(), 1);
    assert_eq!(
        store.attempt_otp(expired.id, now, 5).await.unwrap(),
        OtpAttempt::NoCode
    );
    assert_eq!(store.attempt_otp(live.id, now, 5).await.unwrap(), check(&kept, 1));
    // Two sends remain (a day old exactly, and recent): a limit of 3 over all time allows one.
    assert!(store.reserve_code_send(t.id, ada, now, 0, 3).await.unwrap());
    assert!(!store.reserve_code_send(t.id, ada, now, 0, 3).await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens

async fn refresh_family_round_trip(store: &dyn Store) {
    let (_, a, u) = seed(store).await;
    let first = signed_in(store, &a, &u).await;
    assert_eq!(
        store.refresh_by_hash(&first.token_hash).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.refresh_by_hash(&random_hash()).await.unwrap(), None);
    assert!(is_conflict(store.create_family(&first).await));
}

/// A token reports when its family (the sign-in) started, not when it was issued, so the
/// absolute refresh lifetime counts from the sign-in however often the family rotates. The
/// successor's own `family_created_at` is ignored: it joins the old token's family.
async fn rotated_tokens_read_their_familys_start(store: &dyn Store) {
    let (_, a, u) = seed(store).await;
    let first = RefreshRecord {
        family_created_at: T0 - 500,
        ..refresh(&a, &u, FamilyId::new_random(), T0 - 500)
    };
    store.create_family(&first).await.unwrap();
    let next = RefreshRecord {
        family_created_at: T0 + 60,
        ..refresh(&a, &u, first.family_id, T0 + 60)
    };
    let outcome = store
        .rotate_refresh(&first.token_hash, T0 + 60, None, &next)
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::Rotated);
    let stored = store.refresh_by_hash(&next.token_hash).await.unwrap().unwrap();
    assert_eq!(stored.issued_at, T0 + 60);
    assert_eq!(stored.family_created_at, T0 - 500);
    let old = store.refresh_by_hash(&first.token_hash).await.unwrap().unwrap();
    assert_eq!(old.family_created_at, T0 - 500);
}

async fn rotate_refresh_rotates_once(store: &dyn Store) {
    let (_, a, u) = seed(store).await;
    let first = signed_in(store, &a, &u).await;
    let next = refresh(&a, &u, first.family_id, T0 + 60);

    let outcome = store
        .rotate_refresh(&first.token_hash, T0 + 60, None, &next)
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::Rotated);
    let old = store.refresh_by_hash(&first.token_hash).await.unwrap().unwrap();
    assert_eq!(old.rotated_at, Some(T0 + 60));
    assert_eq!(
        store.refresh_by_hash(&next.token_hash).await.unwrap(),
        Some(next.clone())
    );

    let again = refresh(&a, &u, first.family_id, T0 + 61);
    let outcome = store
        .rotate_refresh(&first.token_hash, T0 + 61, None, &again)
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::AlreadyRotated);
    assert_eq!(store.refresh_by_hash(&again.token_hash).await.unwrap(), None);
    let unknown = store
        .rotate_refresh(&random_hash(), T0, None, &again)
        .await
        .unwrap();
    assert_eq!(unknown, RotateOutcome::AlreadyRotated);
}

async fn concurrent_rotate_has_one_winner(store: &dyn Store) {
    let (_, a, u) = seed(store).await;
    for _ in 0..20 {
        let first = signed_in(store, &a, &u).await;
        let left = refresh(&a, &u, first.family_id, T0 + 1);
        let right = refresh(&a, &u, first.family_id, T0 + 1);
        let (l, r) = tokio::join!(
            store.rotate_refresh(&first.token_hash, T0 + 1, None, &left),
            store.rotate_refresh(&first.token_hash, T0 + 1, None, &right),
        );
        let rotated = [l.unwrap(), r.unwrap()]
            .iter()
            .filter(|o| **o == RotateOutcome::Rotated)
            .count();
        assert_eq!(rotated, 1, "exactly one rotation wins");
        let stored = [&left, &right].map(|n| n.token_hash.clone());
        let mut found = 0;
        for hash in stored {
            found += usize::from(store.refresh_by_hash(&hash).await.unwrap().is_some());
        }
        assert_eq!(found, 1, "only the winner's successor is stored");
    }
}

async fn grace_allows_rotation_within_window(store: &dyn Store) {
    let (_, a, u) = seed(store).await;
    let first = signed_in(store, &a, &u).await;
    let rotate = |next: RefreshRecord, now: i64, since: Option<i64>| {
        let old = first.token_hash.clone();
        async move { store.rotate_refresh(&old, now, since, &next).await.unwrap() }
    };
    let fam = first.family_id;

    assert_eq!(
        rotate(refresh(&a, &u, fam, T0 + 100), T0 + 100, None).await,
        RotateOutcome::Rotated
    );
    // Within 30 s of the rotation: allowed again.
    let retry = refresh(&a, &u, fam, T0 + 110);
    assert_eq!(
        rotate(retry.clone(), T0 + 110, Some(T0 + 80)).await,
        RotateOutcome::Rotated
    );
    assert!(store.refresh_by_hash(&retry.token_hash).await.unwrap().is_some());
    // The first rotation time is kept, so the window does not slide.
    let old = store.refresh_by_hash(&first.token_hash).await.unwrap().unwrap();
    assert_eq!(old.rotated_at, Some(T0 + 100));
    // Outside the window (rotated before `since`): refused.
    let late = refresh(&a, &u, fam, T0 + 131);
    assert_eq!(
        rotate(late.clone(), T0 + 131, Some(T0 + 101)).await,
        RotateOutcome::AlreadyRotated
    );
    assert_eq!(store.refresh_by_hash(&late.token_hash).await.unwrap(), None);
}

async fn rotation_refused_in_revoked_family(store: &dyn Store) {
    let (_, a, u) = seed(store).await;
    let first = signed_in(store, &a, &u).await;
    store
        .revoke_family(first.family_id, T0 + 5, "reuse")
        .await
        .unwrap();
    // A second revocation keeps the first time.
    store
        .revoke_family(first.family_id, T0 + 9, "admin")
        .await
        .unwrap();
    let stored = store.refresh_by_hash(&first.token_hash).await.unwrap().unwrap();
    assert_eq!(stored.revoked_at, Some(T0 + 5));

    let next = refresh(&a, &u, first.family_id, T0 + 10);
    let outcome = store
        .rotate_refresh(&first.token_hash, T0 + 10, Some(T0), &next)
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::AlreadyRotated);
    assert_eq!(store.refresh_by_hash(&next.token_hash).await.unwrap(), None);
    let stored = store.refresh_by_hash(&first.token_hash).await.unwrap().unwrap();
    assert_eq!(stored.rotated_at, None);
}

async fn revoke_user_families_marks_tokens_revoked(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    let one = signed_in(store, &a, &u).await;
    let two = signed_in(store, &a, &u).await;
    let already = signed_in(store, &a, &u).await;
    store
        .revoke_family(already.family_id, T0 + 1, "reuse")
        .await
        .unwrap();
    let bystander = user(&t, "bob@example.com");
    store.create_user(&bystander).await.unwrap();
    let theirs = signed_in(store, &a, &bystander).await;

    let revoked = store
        .revoke_user_families(t.id, u.id, T0 + 2, "admin")
        .await
        .unwrap();
    assert_eq!(revoked, 2, "only live families count");
    for hash in [&one.token_hash, &two.token_hash] {
        let r = store.refresh_by_hash(hash).await.unwrap().unwrap();
        assert_eq!(r.revoked_at, Some(T0 + 2));
    }
    let r = store.refresh_by_hash(&already.token_hash).await.unwrap().unwrap();
    assert_eq!(r.revoked_at, Some(T0 + 1));
    let r = store.refresh_by_hash(&theirs.token_hash).await.unwrap().unwrap();
    assert_eq!(r.revoked_at, None);
    assert_eq!(
        store
            .revoke_user_families(t.id, u.id, T0 + 3, "admin")
            .await
            .unwrap(),
        0
    );
}

// ---------------------------------------------------------------------------------------------
// Signing keys

async fn signing_keys_newest_first(store: &dyn Store) {
    assert!(store.signing_keys().await.unwrap().is_empty());
    let key = |kid: &str, created_at: i64, retired_at: Option<i64>| SigningKeyRecord {
        kid: kid.to_owned(),
        alg: "RS256".into(),
        private_key_enc: vec![1, 2, 3, kid.len() as u8],
        created_at,
        activate_at: created_at + 60,
        retired_at,
    };
    let old = key("old", T0, Some(T0 + 500));
    let new = key("new", T0 + 400, None);
    store.insert_signing_key(&old).await.unwrap();
    store.insert_signing_key(&new).await.unwrap();
    assert!(is_conflict(store.insert_signing_key(&new).await));
    assert_eq!(store.signing_keys().await.unwrap(), vec![new, old]);
}

fn key_record(kid: &str, created_at: i64, activate_at: i64, retired_at: Option<i64>) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.to_owned(),
        alg: "RS256".into(),
        private_key_enc: vec![9, kid.len() as u8],
        created_at,
        activate_at,
        retired_at,
    }
}

async fn first_signing_key_is_inserted_only_into_an_empty_store(store: &dyn Store) {
    let first = key_record("first", T0, T0, None);
    assert!(store.insert_first_signing_key(&first).await.unwrap());
    let second = key_record("second", T0 + 1, T0 + 1, None);
    assert!(!store.insert_first_signing_key(&second).await.unwrap());
    assert_eq!(store.signing_keys().await.unwrap(), vec![first]);
}

async fn concurrent_first_signing_keys_have_one_winner(store: &dyn Store) {
    let keys: Vec<_> = (0..8)
        .map(|i| key_record(&format!("node{i}"), T0, T0, None))
        .collect();
    let results = join_all(keys.iter().map(|k| store.insert_first_signing_key(k))).await;
    let winners = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(winners, 1);
    assert_eq!(store.signing_keys().await.unwrap().len(), 1);
}

async fn rotate_signing_key_retires_the_others_at_its_activation(store: &dyn Store) {
    let a = key_record("a", T0, T0, None);
    store.insert_signing_key(&a).await.unwrap();
    // b signs from T0+3600: a retires then.
    let b = key_record("b", T0 + 10, T0 + 3600, None);
    store.rotate_signing_key(&b).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys, vec![b.clone(), key_record("a", T0, T0, Some(T0 + 3600))]);
    // c signs sooner than b would have: b retires before it ever signed, a's retirement moves
    // earlier to c's activation.
    let c = key_record("c", T0 + 20, T0 + 600, None);
    store.rotate_signing_key(&c).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(
        keys,
        vec![
            c.clone(),
            key_record("b", T0 + 10, T0 + 3600, Some(T0 + 600)),
            key_record("a", T0, T0, Some(T0 + 600)),
        ]
    );
    // A key already retired earlier keeps its retirement time.
    let d = key_record("d", T0 + 30, T0 + 7200, None);
    store.rotate_signing_key(&d).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys[1], key_record("c", T0 + 20, T0 + 600, Some(T0 + 7200)));
    assert_eq!(keys[3].retired_at, Some(T0 + 600));
    // A clash of kids writes nothing.
    assert!(is_conflict(store.rotate_signing_key(&d).await));
    assert_eq!(store.signing_keys().await.unwrap(), keys);
}

// ---------------------------------------------------------------------------------------------
// Whole-store export and import

/// What [`populated`] stored.
struct Populated {
    tenant: Tenant,
    app: App,
    /// A password user and a disabled code-only one.
    users: Vec<User>,
    key: SigningKeyRecord,
    /// A family's first token, rotated into `live`.
    rotated: RefreshRecord,
    live: RefreshRecord,
    /// The only token of a revoked family.
    revoked: RefreshRecord,
    /// The first token of an open flow with a code (and a code send) — never exported.
    flow_token: ContinuationRecord,
}

/// A store with something of every kind, including what a snapshot leaves out.
async fn populated(store: &dyn Store) -> Populated {
    let (tenant, app, ada) = seed(store).await;
    let bob = User {
        password_hash: None,
        disabled: true,
        ..user(&tenant, "bob@example.com")
    };
    store.create_user(&bob).await.unwrap();
    // A second factor of Ada's: a copy must keep it.
    let method = auth_method(&ada, AuthMethodKind::Sms, "+15551234567", T0);
    store.add_auth_method(&method).await.unwrap();
    let key = SigningKeyRecord {
        kid: "kid-1".into(),
        alg: "RS256".into(),
        private_key_enc: vec![9, 8, 7],
        created_at: T0,
        activate_at: T0,
        retired_at: None,
    };
    store.insert_signing_key(&key).await.unwrap();
    let rotated = signed_in(store, &app, &ada).await;
    let live = refresh(&app, &ada, rotated.family_id, T0 + 60);
    let outcome = store
        .rotate_refresh(&rotated.token_hash, T0 + 60, None, &live)
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::Rotated);
    let revoked = signed_in(store, &app, &bob).await;
    store
        .revoke_family(revoked.family_id, T0 + 5, "user_disabled")
        .await
        .unwrap();
    let (_, flow_token) = user_flow(store, &app, &ada, FlowKind::SignIn).await;
    assert!(
        store
            .reserve_code_send(tenant.id, "ada@example.com", T0, T0 - 3600, 1)
            .await
            .unwrap()
    );
    let mut users = vec![ada, bob];
    users.sort_by_key(|u| u.id.0);
    Populated {
        rotated: RefreshRecord {
            rotated_at: Some(T0 + 60),
            ..rotated
        },
        revoked: RefreshRecord {
            revoked_at: Some(T0 + 5),
            ..revoked
        },
        tenant,
        app,
        users,
        key,
        live,
        flow_token,
    }
}

/// Whether `tenant` has no code sends on record: a limit of one still allows a send.
async fn no_code_sends(store: &dyn Store, tenant: &Tenant) -> bool {
    store
        .reserve_code_send(tenant.id, "ada@example.com", T0 + 1, 0, 1)
        .await
        .unwrap()
}

async fn empty_store_reports_empty(store: &dyn Store) {
    assert!(store.is_empty().await.unwrap());
    assert_eq!(store.export_snapshot().await.unwrap(), Snapshot::default());
    store
        .insert_signing_key(&SigningKeyRecord {
            kid: "only".into(),
            alg: "RS256".into(),
            private_key_enc: vec![1],
            created_at: T0,
            activate_at: T0,
            retired_at: None,
        })
        .await
        .unwrap();
    assert!(!store.is_empty().await.unwrap(), "a key alone is content");
}

async fn snapshot_imports_into_an_empty_store_as_exported(source: &dyn Store, target: &dyn Store) {
    let p = populated(source).await;
    let snapshot = source.export_snapshot().await.unwrap();
    assert_eq!(snapshot.tenants, vec![p.tenant.clone()]);
    assert_eq!(snapshot.apps, vec![p.app.clone()]);
    assert_eq!(snapshot.users, p.users);
    assert_eq!(snapshot.signing_keys, vec![p.key.clone()]);
    assert_eq!(snapshot.auth_methods.len(), 1);
    assert_eq!(snapshot.auth_methods[0].target, "+15551234567");
    let mut tokens = vec![p.rotated.clone(), p.live.clone(), p.revoked.clone()];
    tokens.sort_by(|a, b| a.token_hash.cmp(&b.token_hash));
    assert_eq!(snapshot.refresh_tokens, tokens);
    let revoked = RefreshFamilyRecord {
        id: p.revoked.family_id,
        tenant_id: p.tenant.id,
        client_id: p.app.client_id.clone(),
        user_id: p.revoked.user_id,
        created_at: T0,
        revoked_at: Some(T0 + 5),
        revoke_reason: Some("user_disabled".into()),
    };
    assert_eq!(snapshot.refresh_families.len(), 2);
    assert!(snapshot.refresh_families.contains(&revoked));

    assert!(target.is_empty().await.unwrap());
    target.import_snapshot(&snapshot, false).await.unwrap();
    assert!(!target.is_empty().await.unwrap());
    assert_eq!(target.export_snapshot().await.unwrap(), snapshot);
    let ada = &p.users.iter().find(|u| u.password_hash.is_some()).unwrap();
    assert_eq!(
        target
            .user_by_username(p.tenant.id, &ada.username_normalized)
            .await
            .unwrap()
            .as_ref(),
        Some(*ada)
    );
    // Flows, codes and code sends stay behind.
    assert!(
        target
            .token_with_flow(&p.flow_token.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(no_code_sends(target, &p.tenant).await);
}

async fn copied_refresh_tokens_rotate_and_detect_reuse(source: &dyn Store, target: &dyn Store) {
    let p = populated(source).await;
    let snapshot = source.export_snapshot().await.unwrap();
    target.import_snapshot(&snapshot, false).await.unwrap();
    let ada = p.users.iter().find(|u| u.id == p.live.user_id).unwrap();
    let next = refresh(&p.app, ada, p.live.family_id, T0 + 120);
    let rotate = |old: &RefreshRecord, now: i64| {
        let (old, next) = (old.token_hash.clone(), next.clone());
        async move { target.rotate_refresh(&old, now, None, &next).await.unwrap() }
    };
    // The already-rotated token is refused in the target too (reuse stays detectable), and so is
    // the revoked family's; the live one rotates.
    assert_eq!(rotate(&p.rotated, T0 + 120).await, RotateOutcome::AlreadyRotated);
    assert_eq!(rotate(&p.revoked, T0 + 120).await, RotateOutcome::AlreadyRotated);
    assert_eq!(rotate(&p.live, T0 + 120).await, RotateOutcome::Rotated);
    assert_eq!(
        target.refresh_by_hash(&next.token_hash).await.unwrap(),
        Some(next.clone())
    );
    assert_eq!(rotate(&p.live, T0 + 121).await, RotateOutcome::AlreadyRotated);
}

async fn snapshot_import_refuses_clashes_without_replace(store: &dyn Store) {
    let p = populated(store).await;
    let snapshot = store.export_snapshot().await.unwrap();
    assert!(is_conflict(store.import_snapshot(&snapshot, false).await));
    assert_eq!(store.export_snapshot().await.unwrap(), snapshot);

    // All or nothing: a new tenant goes in only if nothing after it clashes.
    let other = tenant(&format!("o{}", &Uuid::new_v4().simple().to_string()[..8]));
    let clashing = Snapshot {
        tenants: vec![other.clone()],
        users: vec![User {
            tenant_id: other.id,
            ..p.users[0].clone()
        }],
        ..Snapshot::default()
    };
    let Err(StoreError::Conflict(message)) = store.import_snapshot(&clashing, false).await else {
        panic!("a user id taken is a conflict");
    };
    assert!(message.contains(&p.users[0].id.to_string()), "{message}");
    assert_eq!(store.tenant_by_id(other.id).await.unwrap(), None);

    // Nothing clashes: written beside what is there.
    let disjoint = Snapshot {
        tenants: vec![other.clone()],
        ..Snapshot::default()
    };
    store.import_snapshot(&disjoint, false).await.unwrap();
    assert_eq!(store.tenant_by_id(other.id).await.unwrap(), Some(other));
}

async fn snapshot_import_with_replace_leaves_exactly_the_snapshot(store: &dyn Store) {
    let p = populated(store).await;
    let snapshot = store.export_snapshot().await.unwrap();
    // More of everything, after the export.
    let (extra_tenant, _, extra_user) = seed(store).await;
    store
        .rotate_refresh(
            &p.live.token_hash,
            T0 + 90,
            None,
            &refresh(&p.app, &p.users[0], p.live.family_id, T0 + 90),
        )
        .await
        .unwrap();

    store.import_snapshot(&snapshot, true).await.unwrap();
    assert_eq!(store.export_snapshot().await.unwrap(), snapshot);
    assert_eq!(store.tenant_by_id(extra_tenant.id).await.unwrap(), None);
    assert_eq!(
        store.user_by_id(extra_tenant.id, extra_user.id).await.unwrap(),
        None
    );
    assert!(
        store
            .token_with_flow(&p.flow_token.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(no_code_sends(store, &p.tenant).await);
    // The live token is live again: the rotation after the export is undone.
    assert_eq!(
        store
            .refresh_by_hash(&p.live.token_hash)
            .await
            .unwrap()
            .unwrap()
            .rotated_at,
        None
    );
}

async fn rate_limit_counts_within_a_window_and_restarts_after_it(store: &dyn Store) {
    // Window [T0, T0 + 60), 3 allowed.
    for i in 0..3 {
        let hit = store
            .hit_rate_limit("t/ip/192.0.2.1", T0 + i, 60, 3)
            .await
            .unwrap();
        assert_eq!(
            hit,
            RateHit {
                allowed: true,
                window_ends_at: T0 + 60
            }
        );
    }
    let refused = store
        .hit_rate_limit("t/ip/192.0.2.1", T0 + 59, 60, 3)
        .await
        .unwrap();
    assert_eq!(
        refused,
        RateHit {
            allowed: false,
            window_ends_at: T0 + 60
        }
    );
    // Refused hits do not extend the window: still refused, same window end.
    assert!(
        !store
            .hit_rate_limit("t/ip/192.0.2.1", T0 + 59, 60, 3)
            .await
            .unwrap()
            .allowed
    );
    // Buckets are independent.
    assert!(
        store
            .hit_rate_limit("t/ip/192.0.2.2", T0 + 59, 60, 3)
            .await
            .unwrap()
            .allowed
    );
    // At the window's end a new window starts with this request.
    let fresh = store
        .hit_rate_limit("t/ip/192.0.2.1", T0 + 60, 60, 3)
        .await
        .unwrap();
    assert_eq!(
        fresh,
        RateHit {
            allowed: true,
            window_ends_at: T0 + 120
        }
    );
    assert!(
        store
            .hit_rate_limit("t/ip/192.0.2.1", T0 + 61, 60, 3)
            .await
            .unwrap()
            .allowed
    );
}

async fn concurrent_rate_limit_hits_never_exceed_the_limit(store: &dyn Store) {
    let hits = join_all((0..100).map(|_| store.hit_rate_limit("t/password/user:x", T0, 60, 7))).await;
    let allowed = hits.into_iter().filter(|h| h.as_ref().unwrap().allowed).count();
    assert_eq!(allowed, 7);
    // A second burst in the same window: all refused.
    let hits = join_all((0..20).map(|_| store.hit_rate_limit("t/password/user:x", T0 + 1, 60, 7))).await;
    assert!(hits.into_iter().all(|h| !h.unwrap().allowed));
}

async fn purge_rate_limits_deletes_ended_windows(store: &dyn Store) {
    store.hit_rate_limit("old", T0, 10, 1).await.unwrap();
    store.hit_rate_limit("new", T0 + 5, 10, 1).await.unwrap();
    assert_eq!(store.purge_rate_limits(T0 + 10).await.unwrap(), 1);
    assert_eq!(store.purge_rate_limits(T0 + 10).await.unwrap(), 0);
    // "new" still holds its window: still refused; "old" starts afresh.
    assert!(!store.hit_rate_limit("new", T0 + 10, 10, 1).await.unwrap().allowed);
    assert!(store.hit_rate_limit("old", T0 + 10, 10, 1).await.unwrap().allowed);
}

// ---------------------------------------------------------------------------------------------
// Strong-auth methods

fn auth_method(user: &User, kind: AuthMethodKind, target: &str, created_at: i64) -> AuthMethod {
    AuthMethod {
        id: AuthMethodId::new_random(),
        tenant_id: user.tenant_id,
        user_id: user.id,
        kind,
        target: target.to_owned(),
        created_at,
        last_used_at: None,
    }
}

async fn auth_methods_round_trip(store: &dyn Store) {
    let (t, _, ada) = seed(store).await;
    let bob = user(&t, "bob@example.com");
    store.create_user(&bob).await.unwrap();
    assert!(store.auth_methods(t.id, ada.id).await.unwrap().is_empty());

    let sms = auth_method(&ada, AuthMethodKind::Sms, "+15551234567", T0 + 5);
    let email = auth_method(&ada, AuthMethodKind::Email, "ada.other@example.com", T0);
    let bobs = auth_method(&bob, AuthMethodKind::Email, "bob@example.com", T0);
    store.add_auth_method(&sms).await.unwrap();
    store.add_auth_method(&email).await.unwrap();
    store.add_auth_method(&bobs).await.unwrap();
    // Oldest first.
    assert_eq!(
        store.auth_methods(t.id, ada.id).await.unwrap(),
        vec![email.clone(), sms.clone()]
    );

    assert!(
        store
            .mark_auth_method_used(t.id, ada.id, sms.id, T0 + 60)
            .await
            .unwrap()
    );
    // Another user's method is not this user's.
    assert!(
        !store
            .mark_auth_method_used(t.id, ada.id, bobs.id, T0 + 60)
            .await
            .unwrap()
    );
    let listed = store.auth_methods(t.id, ada.id).await.unwrap();
    assert_eq!(listed[1].last_used_at, Some(T0 + 60));
    assert_eq!(listed[0].last_used_at, None);

    assert!(!store.remove_auth_method(t.id, ada.id, bobs.id).await.unwrap());
    assert!(store.remove_auth_method(t.id, ada.id, email.id).await.unwrap());
    assert!(!store.remove_auth_method(t.id, ada.id, email.id).await.unwrap());
    assert_eq!(store.auth_methods(t.id, ada.id).await.unwrap().len(), 1);

    store
        .add_auth_method(&auth_method(
            &ada,
            AuthMethodKind::Email,
            "ada@example.com",
            T0 + 9,
        ))
        .await
        .unwrap();
    assert_eq!(store.remove_auth_methods(t.id, ada.id).await.unwrap(), 2);
    assert!(store.auth_methods(t.id, ada.id).await.unwrap().is_empty());
    assert_eq!(store.remove_auth_methods(t.id, ada.id).await.unwrap(), 0);
    // Bob's are untouched.
    assert_eq!(store.auth_methods(t.id, bob.id).await.unwrap(), vec![bobs]);
    // A whole-store replace leaves no method behind.
    store.import_snapshot(&Snapshot::default(), true).await.unwrap();
    assert!(store.auth_methods(t.id, bob.id).await.unwrap().is_empty());
}

async fn auth_methods_are_unique_per_user_kind_and_target(store: &dyn Store) {
    let (t, _, ada) = seed(store).await;
    let bob = user(&t, "bob@example.com");
    store.create_user(&bob).await.unwrap();
    let first = auth_method(&ada, AuthMethodKind::Sms, "+15551234567", T0);
    store.add_auth_method(&first).await.unwrap();
    // The same target again (new id) conflicts; so does the same id.
    let again = auth_method(&ada, AuthMethodKind::Sms, "+15551234567", T0 + 1);
    assert!(is_conflict(store.add_auth_method(&again).await));
    assert!(is_conflict(store.add_auth_method(&first).await));
    // Another user, or another kind, may use the same target.
    store
        .add_auth_method(&auth_method(&bob, AuthMethodKind::Sms, "+15551234567", T0))
        .await
        .unwrap();
    assert_eq!(store.auth_methods(t.id, ada.id).await.unwrap(), vec![first]);
}

async fn users_page_pages_by_username_and_searches(store: &dyn Store) {
    let (t, _, _) = seed(store).await;
    for name in ["b@x.test", "c@y.test", "d@x.test", "a%_@x.test"] {
        store.create_user(&user(&t, name)).await.unwrap();
    }
    let page = |after: Option<&str>, contains: Option<&str>, limit: i64| UserQuery {
        after: after.map(str::to_owned),
        email_contains: contains.map(str::to_owned),
        limit,
    };
    let names = |users: Vec<User>| {
        users
            .into_iter()
            .map(|u| u.username_normalized)
            .collect::<Vec<_>>()
    };
    let first = names(store.users_page(t.id, &page(None, None, 2)).await.unwrap());
    assert_eq!(first, ["a%_@x.test", "ada@example.com"]);
    let second = names(
        store
            .users_page(t.id, &page(Some("ada@example.com"), None, 2))
            .await
            .unwrap(),
    );
    assert_eq!(second, ["b@x.test", "c@y.test"]);
    let last = names(
        store
            .users_page(t.id, &page(Some("c@y.test"), None, 2))
            .await
            .unwrap(),
    );
    assert_eq!(last, ["d@x.test"]);
    // The search text is literal: `%` and `_` are no wildcards.
    let x = names(
        store
            .users_page(t.id, &page(None, Some("@x."), 10))
            .await
            .unwrap(),
    );
    assert_eq!(x, ["a%_@x.test", "b@x.test", "d@x.test"]);
    let literal = names(store.users_page(t.id, &page(None, Some("%_"), 10)).await.unwrap());
    assert_eq!(literal, ["a%_@x.test"]);
    let after = names(
        store
            .users_page(t.id, &page(Some("b@x.test"), Some("@x."), 10))
            .await
            .unwrap(),
    );
    assert_eq!(after, ["d@x.test"]);
    // Another tenant's users never show.
    let (other, _, _) = seed(store).await;
    assert_eq!(
        store
            .users_page(other.id, &page(None, Some("@x."), 10))
            .await
            .unwrap()
            .len(),
        0
    );
}

async fn set_user_attributes_replaces_them(store: &dyn Store) {
    let (t, _, u) = seed(store).await;
    let mut attributes = serde_json::Map::new();
    attributes.insert("city".into(), json!("Oslo"));
    assert!(
        store
            .set_user_attributes(t.id, u.id, &attributes, T0 + 5)
            .await
            .unwrap()
    );
    let stored = store.user_by_id(t.id, u.id).await.unwrap().unwrap();
    assert_eq!(stored.attributes, attributes);
    assert_eq!(stored.updated_at, T0 + 5);
    assert!(
        !store
            .set_user_attributes(t.id, UserId::new_random(), &attributes, T0)
            .await
            .unwrap()
    );
}

async fn delete_user_takes_its_sessions_and_flows(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    let other = user(&t, "other@example.com");
    store.create_user(&other).await.unwrap();
    let session = signed_in(store, &a, &u).await;
    let kept_session = signed_in(store, &a, &other).await;
    let (_, first) = user_flow(store, &a, &u, FlowKind::SignIn).await;
    let (_, kept_flow) = user_flow(store, &a, &other, FlowKind::SignIn).await;
    assert!(store.delete_user(t.id, u.id).await.unwrap());
    assert!(store.user_by_id(t.id, u.id).await.unwrap().is_none());
    assert!(
        store
            .refresh_by_hash(&session.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!flow_alive(store, &first).await);
    // The other user keeps everything.
    assert!(
        store
            .refresh_by_hash(&kept_session.token_hash)
            .await
            .unwrap()
            .is_some()
    );
    assert!(flow_alive(store, &kept_flow).await);
    assert!(!store.delete_user(t.id, u.id).await.unwrap());
    // The address can be used again.
    store.create_user(&user(&t, "Ada@Example.com")).await.unwrap();
}

async fn delete_app_takes_its_flows_and_sessions(store: &dyn Store) {
    let (t, a, u) = seed(store).await;
    let b = app(&t, "Other");
    store.create_app(&b).await.unwrap();
    let session = signed_in(store, &a, &u).await;
    let kept_session = signed_in(store, &b, &u).await;
    let (_, first) = user_flow(store, &a, &u, FlowKind::SignIn).await;
    let (_, kept_flow) = user_flow(store, &b, &u, FlowKind::SignIn).await;
    assert!(store.delete_app(&a.client_id).await.unwrap());
    assert!(store.app_by_client_id(&a.client_id).await.unwrap().is_none());
    assert!(
        store
            .refresh_by_hash(&session.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!flow_alive(store, &first).await);
    assert!(
        store
            .refresh_by_hash(&kept_session.token_hash)
            .await
            .unwrap()
            .is_some()
    );
    assert!(flow_alive(store, &kept_flow).await);
    assert!(!store.delete_app(&a.client_id).await.unwrap());
}
