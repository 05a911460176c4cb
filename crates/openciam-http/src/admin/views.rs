//! The JSON shapes of the admin API (documented in `admin-openapi.json`).

use openciam_core::model::{App, Tenant, User};
use serde_json::{Value, json};

/// A user, without the password hash.
pub(crate) fn user(u: &User) -> Value {
    json!({
        "id": u.id.to_string(),
        "tenant_id": u.tenant_id.to_string(),
        "email": u.username,
        "disabled": u.disabled,
        "has_password": u.password_hash.is_some(),
        "attributes": u.attributes,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
    })
}

/// An app.
pub(crate) fn app(a: &App) -> Value {
    json!({
        "client_id": a.client_id.to_string(),
        "tenant_id": a.tenant_id.to_string(),
        "display_name": a.display_name,
        "method": a.method,
        "native_auth": a.native_auth,
        "cors_origins": a.cors_origins,
        "identifier_uri": a.identifier_uri,
        "scopes": a.scopes,
        "created_at": a.created_at,
    })
}

/// A tenant with its security settings.
pub(crate) fn tenant(t: &Tenant) -> Value {
    json!({
        "id": t.id.to_string(),
        "name": t.name,
        "domain": t.domain,
        "security": t.security,
        "created_at": t.created_at,
    })
}
