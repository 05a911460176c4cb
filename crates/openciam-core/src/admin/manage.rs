//! Administration beyond creating things: one page of users, look-ups by id or e-mail, attribute
//! updates, deletion, and app updates. The admin REST API and the CLI both call these.

use super::{AdminError, AdminResult, AdminService};
use crate::audit::{Entry, event};
use crate::ids::{ClientId, UserId};
use crate::model::{App, User};
use crate::ports::UserQuery;

/// Largest page of users one call returns.
pub const MAX_PAGE: i64 = 200;

/// One page of users and the cursor of the next (`None` on the last page).
#[derive(Debug, Clone)]
pub struct UserPage {
    /// The users, by normalised username.
    pub users: Vec<User>,
    /// Pass as `after` to get the next page.
    pub next: Option<String>,
}

/// Which of an app's settings to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct AppUpdate {
    /// Display name.
    pub display_name: Option<String>,
    /// Native auth on or off.
    pub native_auth: Option<bool>,
    /// CORS origins (replaces the list).
    pub cors_origins: Option<Vec<String>>,
    /// Exposed scopes (replaces the list).
    pub scopes: Option<Vec<String>>,
}

impl AdminService {
    /// Up to `limit` users of a tenant after `after` (a normalised username; the previous page's
    /// cursor), optionally only those whose address contains `email_contains`.
    pub async fn users_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        email_contains: Option<&str>,
        limit: i64,
    ) -> AdminResult<UserPage> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AdminError::Invalid(format!("limit must be 1 to {MAX_PAGE}")));
        }
        let tenant = self.tenant(tenant).await?;
        let query = UserQuery {
            after: after.map(str::to_owned),
            email_contains: email_contains
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty()),
            // One more than asked tells whether another page follows.
            limit: limit + 1,
        };
        let mut users = self.store.users_page(tenant.id, &query).await?;
        let more = users.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        users.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = more
            .then(|| users.last().map(|u| u.username_normalized.clone()))
            .flatten();
        Ok(UserPage { users, next })
    }

    /// One user, by object id (a GUID) or e-mail address.
    pub async fn find_user(&self, tenant: &str, id_or_email: &str) -> AdminResult<User> {
        let Ok(id) = uuid::Uuid::parse_str(id_or_email) else {
            return self.user(tenant, id_or_email).await;
        };
        let t = self.tenant(tenant).await?;
        self.store
            .user_by_id(t.id, UserId(id))
            .await?
            .ok_or_else(|| AdminError::UserNotFound(id_or_email.to_owned()))
    }

    /// Sets (or, with a JSON `null`, removes) some of a user's attributes; the others are kept.
    pub async fn update_attributes(
        &self,
        tenant: &str,
        id_or_email: &str,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> AdminResult<User> {
        let user = self.find_user(tenant, id_or_email).await?;
        let mut attributes = user.attributes.clone();
        for (name, value) in &changes {
            if name.trim().is_empty() {
                return Err(AdminError::Invalid("an attribute name is empty".into()));
            }
            if value.is_null() {
                attributes.remove(name);
            } else {
                attributes.insert(name.clone(), value.clone());
            }
        }
        self.store
            .set_user_attributes(user.tenant_id, user.id, &attributes, self.clock.unix())
            .await?;
        let names: Vec<String> = changes.keys().cloned().collect();
        let entry = Entry::new(event::ADMIN_USER_UPDATE)
            .user(&user)
            .detail("attributes", names);
        self.audit.record(entry).await;
        self.find_user(tenant, &user.id.to_string()).await
    }

    /// Deletes a user, with the user's sessions, open flows and lockout state.
    pub async fn delete_user(&self, tenant: &str, id_or_email: &str) -> AdminResult<User> {
        let user = self.find_user(tenant, id_or_email).await?;
        if !self.store.delete_user(user.tenant_id, user.id).await? {
            return Err(AdminError::UserNotFound(id_or_email.to_owned()));
        }
        self.audit
            .record(Entry::new(event::ADMIN_USER_DELETE).user(&user))
            .await;
        Ok(user)
    }

    /// One app of a tenant.
    pub async fn app(&self, tenant: &str, client_id: &str) -> AdminResult<App> {
        let t = self.tenant(tenant).await?;
        let not_found = || AdminError::AppNotFound(client_id.to_owned());
        let id = ClientId::parse(client_id).ok_or_else(not_found)?;
        match self.store.app_by_client_id(&id).await? {
            Some(app) if app.tenant_id == t.id => Ok(app),
            _ => Err(not_found()),
        }
    }

    /// Changes some of an app's settings.
    pub async fn update_app(&self, tenant: &str, client_id: &str, update: AppUpdate) -> AdminResult<App> {
        let mut app = self.app(tenant, client_id).await?;
        if let Some(name) = update.display_name {
            app.display_name = name;
        }
        if let Some(on) = update.native_auth {
            app.native_auth = on;
        }
        if let Some(origins) = update.cors_origins {
            app.cors_origins = origins;
        }
        if let Some(scopes) = update.scopes {
            app.scopes = scopes;
        }
        self.store.update_app(&app).await?;
        let entry = Entry::new(event::ADMIN_APP_UPDATE)
            .tenant(app.tenant_id)
            .detail("client_id", app.client_id.to_string());
        self.audit.record(entry).await;
        Ok(app)
    }

    /// Deletes an app with its open flows and sessions.
    pub async fn delete_app(&self, tenant: &str, client_id: &str) -> AdminResult<App> {
        let app = self.app(tenant, client_id).await?;
        if !self.store.delete_app(&app.client_id).await? {
            return Err(AdminError::AppNotFound(client_id.to_owned()));
        }
        let entry = Entry::new(event::ADMIN_APP_DELETE)
            .tenant(app.tenant_id)
            .detail("client_id", app.client_id.to_string());
        self.audit.record(entry).await;
        Ok(app)
    }
}
