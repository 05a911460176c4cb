//! The seeded demo tenant of `openciam dev`, and the declarative tenants of `openciam serve`.
//! Both are idempotent: existing rows are left (dev) or updated to match (serve).

use crate::config::TenantConfig;
use openciam_core::admin::{AdminError, AdminService, NewApp};
use openciam_core::ids::{ClientId, TenantId};
use openciam_core::mfa::MfaPolicy;
use openciam_core::model::{AttributeKind, AttributeSpec, AuthMethodKind, SignInMethod};
use openciam_core::ports::Store;
use openciam_core::strategy::password_policy::PolicyProfile;
use uuid::Uuid;

/// The demo tenant's fixed GUID (printed in the README).
pub const DEMO_TENANT_ID: Uuid = Uuid::from_u128(0xde000000_0000_4000_8000_000000000001);
/// The demo tenant's name.
pub const DEMO_TENANT: &str = "demo";
/// The demo app: e-mail + password, native auth.
pub const DEMO_CLIENT_ID: Uuid = Uuid::from_u128(0x11111111_1111_1111_1111_111111111111);
/// E-mail-code sign-up, no password.
pub const DEMO_CODE_CLIENT_ID: Uuid = Uuid::from_u128(0x22222222_2222_2222_2222_222222222222);
/// E-mail + password sign-up requiring `displayName` and `city`.
pub const DEMO_ATTRS_CLIENT_ID: Uuid = Uuid::from_u128(0x33333333_3333_3333_3333_333333333333);
/// E-mail + password with a required second factor (e-mail or SMS code).
pub const DEMO_MFA_CLIENT_ID: Uuid = Uuid::from_u128(0x44444444_4444_4444_4444_444444444444);
/// The demo API: exposes `api://demo/read` and `api://demo/write`.
pub const DEMO_API_CLIENT_ID: Uuid = Uuid::from_u128(0x55555555_5555_5555_5555_555555555555);

fn ok_if_exists<T>(r: Result<T, AdminError>) -> Result<(), AdminError> {
    match r {
        Ok(_) | Err(AdminError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Dev data directories seeded before the second-factor app took `4444…` hold the demo API
/// (`api://demo`) under that id: it is deleted, and [`seed_demo`] re-creates it as `5555…`.
async fn move_old_demo_api(admin: &AdminService) -> anyhow::Result<()> {
    let old = ClientId::from_uuid(DEMO_MFA_CLIENT_ID);
    let apps = match admin.list_apps(DEMO_TENANT).await {
        Ok(apps) => apps,
        Err(AdminError::TenantNotFound(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if apps
        .iter()
        .any(|a| a.client_id == old && a.identifier_uri.as_deref() == Some("api://demo"))
    {
        admin.delete_app(DEMO_TENANT, &old.to_string()).await?;
        tracing::info!("moved the demo API app from {DEMO_MFA_CLIENT_ID} to {DEMO_API_CLIENT_ID}");
    }
    Ok(())
}

/// Seeds the demo tenant and its apps (no-op when present).
pub async fn seed_demo(admin: &AdminService) -> anyhow::Result<()> {
    move_old_demo_api(admin).await?;
    ok_if_exists(
        admin
            .create_tenant(
                DEMO_TENANT,
                None,
                Some(TenantId(DEMO_TENANT_ID)),
                PolicyProfile::DEV_DEFAULT,
            )
            .await,
    )?;
    ok_if_exists(
        admin
            .create_app(
                DEMO_TENANT,
                NewApp {
                    client_id: Some(ClientId::from_uuid(DEMO_CLIENT_ID)),
                    display_name: "Demo app (e-mail + password)".into(),
                    method: SignInMethod::EmailPassword,
                    native_auth: true,
                    cors_origins: vec![],
                    identifier_uri: None,
                    scopes: vec![],
                    signup_attributes: vec![],
                    mfa: None,
                },
            )
            .await,
    )?;
    ok_if_exists(
        admin
            .create_app(
                DEMO_TENANT,
                NewApp {
                    client_id: Some(ClientId::from_uuid(DEMO_CODE_CLIENT_ID)),
                    display_name: "Demo app (e-mail code)".into(),
                    method: SignInMethod::EmailOtp,
                    ..NewApp::default()
                },
            )
            .await,
    )?;
    let text = |name: &str| AttributeSpec {
        name: name.into(),
        kind: AttributeKind::String,
        required: true,
        min_length: None,
        max_length: None,
        pattern: None,
        allowed_values: vec![],
    };
    ok_if_exists(
        admin
            .create_app(
                DEMO_TENANT,
                NewApp {
                    client_id: Some(ClientId::from_uuid(DEMO_ATTRS_CLIENT_ID)),
                    display_name: "Demo app (password + attributes)".into(),
                    method: SignInMethod::EmailPassword,
                    signup_attributes: vec![text("displayName"), text("city")],
                    mfa: None,
                    ..NewApp::default()
                },
            )
            .await,
    )?;
    ok_if_exists(
        admin
            .create_app(
                DEMO_TENANT,
                NewApp {
                    client_id: Some(ClientId::from_uuid(DEMO_MFA_CLIENT_ID)),
                    display_name: "Demo app (password + second factor)".into(),
                    method: SignInMethod::EmailPassword,
                    mfa: Some(MfaPolicy {
                        required: true,
                        methods: vec![AuthMethodKind::Email, AuthMethodKind::Sms],
                    }),
                    ..NewApp::default()
                },
            )
            .await,
    )?;
    ok_if_exists(
        admin
            .create_app(
                DEMO_TENANT,
                NewApp {
                    client_id: Some(ClientId::from_uuid(DEMO_API_CLIENT_ID)),
                    display_name: "Demo API".into(),
                    method: SignInMethod::EmailPassword,
                    native_auth: false,
                    cors_origins: vec![],
                    identifier_uri: Some("api://demo".into()),
                    scopes: vec!["read".into(), "write".into()],
                    signup_attributes: vec![],
                    mfa: None,
                },
            )
            .await,
    )?;
    Ok(())
}

/// Creates or updates the tenants and apps named in the configuration.
pub async fn apply_tenants(
    admin: &AdminService,
    store: &dyn Store,
    tenants: &[TenantConfig],
) -> anyhow::Result<()> {
    for t in tenants {
        ok_if_exists(
            admin
                .create_tenant(
                    &t.name,
                    t.domain.as_deref(),
                    t.id.map(TenantId),
                    t.password_policy,
                )
                .await,
        )?;
        let tenant = admin.tenant(&t.name).await?;
        for a in &t.apps {
            openciam_core::flow::signup::attributes::check_specs(&a.signup_attributes)
                .map_err(|e| anyhow::anyhow!("tenant '{}', app {}: {e}", t.name, a.client_id))?;
            let new = NewApp {
                client_id: Some(ClientId::from_uuid(a.client_id)),
                display_name: if a.display_name.is_empty() {
                    a.client_id.to_string()
                } else {
                    a.display_name.clone()
                },
                method: a.method.clone(),
                native_auth: a.native_auth,
                cors_origins: a.cors_origins.clone(),
                identifier_uri: a.identifier_uri.clone(),
                scopes: a.scopes.clone(),
                signup_attributes: a.signup_attributes.clone(),
                mfa: a.mfa.clone(),
            };
            match admin.create_app(&t.name, new.clone()).await {
                Ok(_) => {}
                Err(AdminError::AlreadyExists(_)) => {
                    let id = ClientId::from_uuid(a.client_id);
                    let mut existing = store
                        .app_by_client_id(&id)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("app {id} vanished"))?;
                    if existing.tenant_id != tenant.id {
                        anyhow::bail!(
                            "app {id} in the configuration of tenant '{}' belongs to another tenant",
                            t.name
                        );
                    }
                    existing.display_name = new.display_name;
                    existing.method = new.method;
                    existing.native_auth = new.native_auth;
                    existing.cors_origins = new.cors_origins;
                    existing.identifier_uri = new.identifier_uri;
                    existing.scopes = new.scopes;
                    existing.signup_attributes = new.signup_attributes;
                    existing.mfa = new.mfa;
                    store.update_app(&existing).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
