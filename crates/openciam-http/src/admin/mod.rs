//! The admin listener (`[http] admin_listen`): Prometheus `/metrics` and the admin REST API under
//! `/admin/v1/`. Never mounted on the public listener, and without CORS: it is for operators'
//! tools on a private network, not for browsers.
//!
//! Every `/admin/v1/` call needs `Authorization: Bearer <[admin] token>` (compared in constant
//! time); with no token configured every call is refused (403). Every call, refused ones
//! included, is written to the audit log (`admin.api.call`), and each change also records its
//! own event through the same core admin service the CLI uses.

mod apps;
mod auth;
mod error;
mod tenants;
mod users;
mod views;

use crate::metrics::{matched, track};
use axum::Router;
use axum::http::header;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::get;
use openciam_core::services::Services;
use std::sync::Arc;

/// The admin OpenAPI document (served at `/admin/v1/openapi.json`; tests keep it equal to the
/// routes).
pub const OPENAPI: &str = include_str!("../../admin-openapi.json");

/// Renders the metrics in Prometheus text format.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

/// What the admin handlers get.
#[derive(Clone)]
pub struct AdminState {
    /// Core services (the same ones the public listener uses).
    pub services: Arc<Services>,
    /// The admin token; `None` refuses every `/admin/v1/` call.
    pub token: Option<Arc<str>>,
    /// The Prometheus exporter; `None` answers `/metrics` with 404.
    pub metrics: Option<MetricsRender>,
}

/// The admin router: `/metrics` and `/admin/v1/…`.
pub fn admin_router(state: AdminState) -> Router {
    let api = Router::new()
        .route("/admin/v1/openapi.json", get(openapi))
        .route("/admin/v1/tenants", get(tenants::list))
        .route(
            "/admin/v1/tenants/{tenant}",
            get(tenants::get).patch(tenants::update),
        )
        .route(
            "/admin/v1/tenants/{tenant}/users",
            get(users::list).post(users::create),
        )
        .route(
            "/admin/v1/tenants/{tenant}/users/{user}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route(
            "/admin/v1/tenants/{tenant}/users/{user}/disable",
            axum::routing::post(users::disable),
        )
        .route(
            "/admin/v1/tenants/{tenant}/users/{user}/enable",
            axum::routing::post(users::enable),
        )
        .route(
            "/admin/v1/tenants/{tenant}/users/{user}/revoke-sessions",
            axum::routing::post(users::revoke_sessions),
        )
        .route(
            "/admin/v1/tenants/{tenant}/users/{user}/unlock",
            axum::routing::post(users::unlock),
        )
        .route(
            "/admin/v1/tenants/{tenant}/apps",
            get(apps::list).post(apps::create),
        )
        .route(
            "/admin/v1/tenants/{tenant}/apps/{client_id}",
            get(apps::get).patch(apps::update).delete(apps::delete),
        )
        .route_layer(from_fn_with_state(state.clone(), auth::require_token))
        .route_layer(from_fn(matched));
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(from_fn(matched))
        .merge(api)
        .fallback(|| async { error::AdminApiError::NoRoute.into_response() })
        .layer(from_fn(track))
        .layer(from_fn_with_state(state.clone(), auth::audit_call))
        .with_state(state)
}

async fn metrics(axum::extract::State(state): axum::extract::State<AdminState>) -> impl IntoResponse {
    let Some(render) = &state.metrics else {
        return error::AdminApiError::NoRoute.into_response();
    };
    sample_gauges(&state.services);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        render(),
    )
        .into_response()
}

/// Gauges read at scrape time: the hashing pool and the database pool.
fn sample_gauges(services: &Services) {
    let (queued, hashing) = services.passwords.load();
    openciam_core::observe::hash_pool(queued, hashing);
    let pool = services.store.pool_status();
    metrics::gauge!("openciam_db_pool_connections").set(f64::from(pool.size));
    metrics::gauge!("openciam_db_pool_idle_connections").set(f64::from(pool.idle));
    metrics::gauge!("openciam_db_pool_max_connections").set(f64::from(pool.max));
}

async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        OPENAPI,
    )
}
