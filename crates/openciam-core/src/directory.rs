//! Resolving who is calling: the tenant from the path, the app from `client_id`, and the
//! resource and scopes a token request asks for.

use crate::error::{FlowError, FlowResult};
use crate::ids::{ClientId, TenantId};
use crate::model::{App, Tenant};
use crate::ports::Store;
use std::sync::Arc;
use uuid::Uuid;

/// Scopes every sign-in grants; they name no resource.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The tenant and app a request acts for.
#[derive(Debug, Clone)]
pub struct ClientContext {
    /// The tenant of the path.
    pub tenant: Tenant,
    /// The calling app.
    pub app: App,
}

/// What a token is for: the resource app (if any) and the scopes granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedScopes {
    /// The resource app's client id, when non-OIDC scopes were asked for.
    pub resource: Option<ClientId>,
    /// Short names of the resource's scopes (`scp` claim).
    pub resource_scopes: Vec<String>,
    /// Full scope strings as granted, for the `scope` member of the response.
    pub granted: Vec<String>,
}

/// Tenant and app look-ups.
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
}

impl Directory {
    /// Over a store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The tenant named by a path segment: GUID, short name or domain (any case).
    pub async fn tenant(&self, segment: &str) -> FlowResult<Tenant> {
        let found = match Uuid::parse_str(segment) {
            Ok(id) => self.store.tenant_by_id(TenantId(id)).await?,
            Err(_) => self.store.tenant_by_name(&segment.to_ascii_lowercase()).await?,
        };
        found.ok_or_else(|| FlowError::TenantNotFound(segment.to_owned()))
    }

    /// The calling app, which must belong to `tenant` and allow native auth.
    pub async fn client(&self, tenant: &Tenant, client_id: &str) -> FlowResult<ClientContext> {
        let id = ClientId::parse(client_id).ok_or(FlowError::InvalidClientId)?;
        let app = self.store.app_by_client_id(&id).await?;
        let app = match app {
            Some(app) if app.tenant_id == tenant.id => app,
            other => {
                return Err(FlowError::UnknownClient {
                    client_id: client_id.to_owned(),
                    tenant: tenant.name.clone(),
                    other_tenant: other.is_some(),
                });
            }
        };
        if !app.public_client || !app.native_auth {
            return Err(FlowError::NativeAuthDisabled(client_id.to_owned()));
        }
        Ok(ClientContext {
            tenant: tenant.clone(),
            app,
        })
    }

    /// Every app of a tenant (CORS allow-lists, scope resolution).
    pub async fn apps(&self, tenant: TenantId) -> FlowResult<Vec<App>> {
        Ok(self.store.apps_of_tenant(tenant).await?)
    }

    /// Resolves requested scopes. OIDC scopes are always granted; any other scope must be exposed
    /// by one app of the tenant (`{identifier_uri}/{scope}`, `{client_id}/{scope}`, or `/.default`
    /// for all of an app's scopes), and all of them by the same app.
    pub async fn scopes(&self, ctx: &ClientContext, requested: &[String]) -> FlowResult<GrantedScopes> {
        let resource_requests: Vec<&String> = requested
            .iter()
            .filter(|s| !OIDC_SCOPES.contains(&s.to_ascii_lowercase().as_str()))
            .collect();
        let mut granted: Vec<String> = OIDC_SCOPES.iter().map(|s| (*s).to_owned()).collect();
        if resource_requests.is_empty() {
            return Ok(GrantedScopes {
                resource: None,
                resource_scopes: vec![],
                granted,
            });
        }
        let apps = self.apps(ctx.tenant.id).await?;
        let mut resource: Option<&App> = None;
        let mut short = Vec::new();
        for scope in resource_requests {
            let (app, name) = find_scope(&apps, scope).ok_or_else(|| {
                FlowError::InvalidScope(format!("No app of this tenant exposes the scope '{scope}'."))
            })?;
            if resource.is_some_and(|r| r.client_id != app.client_id) {
                return Err(FlowError::InvalidScope(
                    "The scopes name more than one resource; request one resource's scopes per token.".into(),
                ));
            }
            resource = Some(app);
            let names: Vec<String> = if name == ".default" {
                app.scopes.clone()
            } else {
                vec![name]
            };
            for n in names {
                if !short.contains(&n) {
                    short.push(n);
                }
            }
        }
        let app = resource.ok_or_else(|| FlowError::InvalidScope("no resource".into()))?;
        let prefix = app
            .identifier_uri
            .clone()
            .unwrap_or_else(|| app.client_id.to_string());
        granted.extend(short.iter().map(|s| format!("{prefix}/{s}")));
        Ok(GrantedScopes {
            resource: Some(app.client_id.clone()),
            resource_scopes: short,
            granted,
        })
    }
}

/// Finds the app exposing `scope` and the scope's short name.
fn find_scope<'a>(apps: &'a [App], scope: &str) -> Option<(&'a App, String)> {
    let (prefix, name) = scope.rsplit_once('/')?;
    apps.iter().find_map(|app| {
        let by_uri = app
            .identifier_uri
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(prefix));
        let by_id = ClientId::parse(prefix).is_some_and(|id| id == app.client_id);
        if !(by_uri || by_id) {
            return None;
        }
        if name == ".default" && !app.scopes.is_empty() {
            return Some((app, name.to_owned()));
        }
        app.scopes
            .iter()
            .find(|s| s.as_str() == name)
            .map(|s| (app, s.clone()))
    })
}
