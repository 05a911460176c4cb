//! Administration: what the `openciam user|app|tenant` commands call. Works on the same store as a
//! running server, so a user created here can sign in at once.

use crate::audit::{AuditLog, Entry, event};
use crate::clock::Clock;
use crate::directory::Directory;
use crate::error::FlowError;
use crate::ids::{AuthMethodId, ClientId, TenantId, UserId};
use crate::mfa::MfaPolicy;
use crate::model::{App, AttributeSpec, AuthMethod, SignInMethod, Tenant, User};
use crate::ports::{Store, StoreError};
use crate::secret::Password;
use crate::security::TenantSecurity;
use crate::strategy::password::PasswordHasher;
use crate::strategy::password_policy::PolicyProfile;
use crate::username::Username;
use std::sync::Arc;

mod import;
mod manage;

pub use import::{ImportReport, LineError};
pub use manage::{AppUpdate, MAX_PAGE, UserPage};

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No such tenant.
    #[error("no tenant '{0}' (see `openciam tenant list`)")]
    TenantNotFound(String),
    /// No such user.
    #[error("no user '{0}' in this tenant")]
    UserNotFound(String),
    /// No such app in this tenant.
    #[error("no app '{0}' in this tenant")]
    AppNotFound(String),
    /// Already exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    /// An import file with bad lines (every one of them); nothing was imported.
    #[error("{} bad line(s) in the import file; nothing imported", .0.len())]
    ImportRejected(Vec<LineError>),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<FlowError> for AdminError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::TenantNotFound(t) => Self::TenantNotFound(t),
            other => Self::Other(anyhow::anyhow!(other)),
        }
    }
}

/// Result of admin calls.
pub type AdminResult<T> = Result<T, AdminError>;

/// A new app's settings.
#[derive(Debug, Clone)]
pub struct NewApp {
    /// Client id; a new GUID when absent.
    pub client_id: Option<ClientId>,
    /// Display name.
    pub display_name: String,
    /// User flow method.
    pub method: SignInMethod,
    /// Native auth on.
    pub native_auth: bool,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Resource identifier.
    pub identifier_uri: Option<String>,
    /// Exposed scopes (short names).
    pub scopes: Vec<String>,
    /// Attributes the app's sign-up collects.
    pub signup_attributes: Vec<AttributeSpec>,
    /// The app's own second-factor policy; `None` follows the tenant's.
    pub mfa: Option<MfaPolicy>,
}

impl Default for NewApp {
    fn default() -> Self {
        Self {
            client_id: None,
            display_name: String::new(),
            method: SignInMethod::EmailPassword,
            native_auth: true,
            cors_origins: vec![],
            identifier_uri: None,
            scopes: vec![],
            signup_attributes: vec![],
            mfa: None,
        }
    }
}

/// The admin service.
pub struct AdminService {
    store: Arc<dyn Store>,
    directory: Directory,
    passwords: Arc<PasswordHasher>,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
}

impl AdminService {
    /// Creates the service.
    pub fn new(store: Arc<dyn Store>, passwords: Arc<PasswordHasher>, clock: Arc<dyn Clock>) -> Self {
        let directory = Directory::new(store.clone());
        let audit = AuditLog::new(store.clone(), clock.clone());
        Self {
            store,
            directory,
            passwords,
            clock,
            audit,
        }
    }

    /// Resolves a tenant by name, domain or GUID.
    pub async fn tenant(&self, name: &str) -> AdminResult<Tenant> {
        Ok(self.directory.tenant(name).await?)
    }

    /// Creates a tenant. The domain defaults to `{name}.onmicrosoft.com`.
    pub async fn create_tenant(
        &self,
        name: &str,
        domain: Option<&str>,
        id: Option<TenantId>,
        password_policy: PolicyProfile,
    ) -> AdminResult<Tenant> {
        let name = name.trim().to_ascii_lowercase();
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid || uuid::Uuid::parse_str(&name).is_ok() {
            return Err(AdminError::Invalid(
                "a tenant name is letters, digits and '-'".into(),
            ));
        }
        let tenant = Tenant {
            id: id.unwrap_or_else(TenantId::new_random),
            domain: domain.map_or_else(|| format!("{name}.onmicrosoft.com"), str::to_ascii_lowercase),
            name,
            password_policy,
            security: TenantSecurity::default(),
            created_at: self.clock.unix(),
        };
        self.store
            .create_tenant(&tenant)
            .await
            .map_err(|e| conflict(e, format!("tenant '{}'", tenant.name)))?;
        let entry = Entry::new(event::ADMIN_TENANT_CREATE)
            .tenant(tenant.id)
            .detail("name", tenant.name.as_str());
        self.audit.record(entry).await;
        Ok(tenant)
    }

    /// Applies `key=value` assignments (see [`TenantSecurity::with_setting`]) to a tenant's
    /// security settings and stores the result; nothing is stored when one is invalid.
    pub async fn configure_security(&self, tenant: &str, assignments: &[String]) -> AdminResult<Tenant> {
        let mut tenant = self.tenant(tenant).await?;
        let mut security = tenant.security.clone();
        for a in assignments {
            security = security.with_setting(a).map_err(AdminError::Invalid)?;
        }
        if !assignments.is_empty() {
            self.store.set_tenant_security(tenant.id, &security).await?;
            tenant.security = security;
            let entry = Entry::new(event::ADMIN_TENANT_SECURITY)
                .tenant(tenant.id)
                .detail("set", assignments.to_vec());
            self.audit.record(entry).await;
        }
        Ok(tenant)
    }

    /// All tenants.
    pub async fn list_tenants(&self) -> AdminResult<Vec<Tenant>> {
        Ok(self.store.list_tenants().await?)
    }

    /// Registers an app in a tenant.
    pub async fn create_app(&self, tenant: &str, new: NewApp) -> AdminResult<App> {
        let tenant = self.tenant(tenant).await?;
        let app = App {
            client_id: new.client_id.unwrap_or_else(ClientId::new_random),
            tenant_id: tenant.id,
            display_name: new.display_name,
            public_client: true,
            native_auth: new.native_auth,
            method: new.method,
            cors_origins: new.cors_origins,
            identifier_uri: new.identifier_uri,
            scopes: new.scopes,
            signup_attributes: new.signup_attributes,
            mfa: new.mfa,
            created_at: self.clock.unix(),
        };
        self.store
            .create_app(&app)
            .await
            .map_err(|e| conflict(e, format!("app {}", app.client_id)))?;
        let entry = Entry::new(event::ADMIN_APP_CREATE)
            .tenant(app.tenant_id)
            .detail("client_id", app.client_id.to_string());
        self.audit.record(entry).await;
        Ok(app)
    }

    /// Apps of a tenant.
    pub async fn list_apps(&self, tenant: &str) -> AdminResult<Vec<App>> {
        let tenant = self.tenant(tenant).await?;
        Ok(self.store.apps_of_tenant(tenant.id).await?)
    }

    /// Creates a user. A password is optional (code-only accounts).
    pub async fn create_user(
        &self,
        tenant: &str,
        email: &str,
        password: Option<&Password>,
        attributes: serde_json::Map<String, serde_json::Value>,
    ) -> AdminResult<User> {
        let tenant = self.tenant(tenant).await?;
        let username = Username::parse(email)
            .ok_or_else(|| AdminError::Invalid(format!("'{email}' is not an e-mail address")))?;
        let password_hash = match password {
            Some(p) if p.expose().is_empty() => {
                return Err(AdminError::Invalid("the password is empty".into()));
            }
            Some(p) => Some(
                self.passwords
                    .hash(p)
                    .await
                    .map_err(|e| AdminError::Other(anyhow::anyhow!(e)))?,
            ),
            None => None,
        };
        let now = self.clock.unix();
        let user = User {
            id: UserId::new_random(),
            tenant_id: tenant.id,
            username: username.display().to_owned(),
            username_normalized: username.normalized().to_owned(),
            password_hash,
            disabled: false,
            attributes,
            created_at: now,
            updated_at: now,
        };
        self.store
            .create_user(&user)
            .await
            .map_err(|e| conflict(e, format!("user '{email}'")))?;
        self.audit
            .record(Entry::new(event::ADMIN_USER_CREATE).user(&user))
            .await;
        Ok(user)
    }

    /// Users of a tenant.
    pub async fn list_users(&self, tenant: &str) -> AdminResult<Vec<User>> {
        let tenant = self.tenant(tenant).await?;
        Ok(self.store.list_users(tenant.id).await?)
    }

    /// One user, by e-mail.
    pub async fn user(&self, tenant: &str, email: &str) -> AdminResult<User> {
        let tenant = self.tenant(tenant).await?;
        let norm = Username::parse(email)
            .map(|u| u.normalized().to_owned())
            .unwrap_or_default();
        self.store
            .user_by_username(tenant.id, &norm)
            .await?
            .ok_or_else(|| AdminError::UserNotFound(email.to_owned()))
    }

    /// Disables (revoking refresh tokens) or enables a user.
    pub async fn set_disabled(&self, tenant: &str, email: &str, disabled: bool) -> AdminResult<User> {
        let user = self.user(tenant, email).await?;
        self.store
            .set_user_disabled(user.tenant_id, user.id, disabled, self.clock.unix())
            .await?;
        let name = if disabled {
            event::ADMIN_USER_DISABLE
        } else {
            event::ADMIN_USER_ENABLE
        };
        self.audit.record(Entry::new(name).user(&user)).await;
        self.user(tenant, email).await
    }

    /// Sets a new password and revokes the user's refresh tokens.
    pub async fn set_password(&self, tenant: &str, email: &str, password: &Password) -> AdminResult<()> {
        let user = self.user(tenant, email).await?;
        if password.expose().is_empty() {
            return Err(AdminError::Invalid("the password is empty".into()));
        }
        let hash = self
            .passwords
            .hash(password)
            .await
            .map_err(|e| AdminError::Other(anyhow::anyhow!(e)))?;
        self.store
            .set_user_password(user.tenant_id, user.id, &hash, self.clock.unix())
            .await?;
        // A new password from an administrator also ends any smart lockout.
        self.store.clear_lockout(user.tenant_id, user.id).await?;
        self.audit
            .record(Entry::new(event::ADMIN_USER_SET_PASSWORD).user(&user))
            .await;
        Ok(())
    }

    /// Revokes every refresh token of a user. Returns how many sessions were live.
    pub async fn revoke_sessions(&self, tenant: &str, email: &str) -> AdminResult<u64> {
        let user = self.user(tenant, email).await?;
        let n = self
            .store
            .revoke_user_families(user.tenant_id, user.id, self.clock.unix(), "admin")
            .await?;
        let entry = Entry::new(event::ADMIN_USER_REVOKE_SESSIONS)
            .user(&user)
            .detail("sessions", n);
        self.audit.record(entry).await;
        Ok(n)
    }

    /// Ends a smart lockout and forgets the user's failed passwords (`openciam user unlock`).
    /// Returns whether there was anything to clear.
    pub async fn unlock(&self, tenant: &str, email: &str) -> AdminResult<bool> {
        let user = self.user(tenant, email).await?;
        let cleared = self.store.clear_lockout(user.tenant_id, user.id).await?;
        let entry = Entry::new(event::ADMIN_USER_UNLOCK)
            .user(&user)
            .detail("had_failures", cleared);
        self.audit.record(entry).await;
        Ok(cleared)
    }

    /// A user's strong-auth methods, oldest first (`openciam user mfa list`).
    pub async fn auth_methods(&self, tenant: &str, email: &str) -> AdminResult<Vec<AuthMethod>> {
        let user = self.user(tenant, email).await?;
        Ok(self.store.auth_methods(user.tenant_id, user.id).await?)
    }

    /// Removes one of a user's methods by id (`openciam user mfa remove`). `Invalid` when the
    /// user has no method with this id.
    pub async fn remove_auth_method(&self, tenant: &str, email: &str, id: AuthMethodId) -> AdminResult<()> {
        let user = self.user(tenant, email).await?;
        if !self.store.remove_auth_method(user.tenant_id, user.id, id).await? {
            return Err(AdminError::Invalid(format!("'{email}' has no MFA method {id}")));
        }
        let entry = Entry::new(event::ADMIN_MFA_REMOVE)
            .user(&user)
            .detail("method_id", id.to_string());
        self.audit.record(entry).await;
        Ok(())
    }

    /// Removes every method of a user (`openciam user mfa reset`): under a policy that requires
    /// a second factor, the user registers a new one at the next sign-in. Returns how many.
    pub async fn reset_mfa(&self, tenant: &str, email: &str) -> AdminResult<u64> {
        let user = self.user(tenant, email).await?;
        let n = self.store.remove_auth_methods(user.tenant_id, user.id).await?;
        let entry = Entry::new(event::ADMIN_MFA_RESET)
            .user(&user)
            .detail("removed", n);
        self.audit.record(entry).await;
        Ok(n)
    }

    /// The audit log, for `openciam audit`.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }
}

fn conflict(e: StoreError, what: String) -> AdminError {
    match e {
        StoreError::Conflict(_) => AdminError::AlreadyExists(what),
        other => AdminError::Store(other),
    }
}
