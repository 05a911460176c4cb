//! CORS as spec §2.5 "openciam decision".
//!
//! * A preflight carries no `client_id`, so it is allowed when `Origin` is in the union of the
//!   allow-lists of the tenant's apps (any origin in dev mode).
//! * An actual response carries `Access-Control-Allow-Origin` only when `Origin` is in the calling
//!   app's list. Handlers record the calling app's list in the response ([`CallingApp`]); responses
//!   made before the app is known (bad tenant, bad form, middleware errors) use the tenant's
//!   union, so MSAL.js can still read their JSON body.
//! * Every response gets `Vary: Origin`.

use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// The calling app's CORS allow-list, left in a response by its handler.
#[derive(Debug, Clone)]
pub(crate) struct CallingApp(pub(crate) Vec<String>);

const ALLOWED_HEADERS: [&str; 10] = [
    "content-type",
    "client-request-id",
    "return-client-request-id",
    "x-client-sku",
    "x-client-ver",
    "x-client-os",
    "x-client-cpu",
    "x-client-current-telemetry",
    "x-client-last-telemetry",
    "accept",
];
const EXPOSED: &str = "x-ms-request-id, client-request-id, retry-after";

fn origin_matches(list: &[String], origin: &str) -> bool {
    list.iter()
        .any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

async fn tenant_union(app: &AppState, path: &str) -> Vec<String> {
    let Some(segment) = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
    else {
        return vec![];
    };
    let Ok(tenant) = app.services.directory.tenant(segment).await else {
        return vec![];
    };
    let apps = app.services.directory.apps(tenant.id).await.unwrap_or_default();
    apps.into_iter().flat_map(|a| a.cors_origins).collect()
}

/// The CORS middleware.
pub(crate) async fn cors(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_owned();
    let is_preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        let allowed = app.config.cors_any_origin || origin_matches(&tenant_union(&app, &path).await, &origin);
        return preflight(&origin, allowed, req.headers());
    }
    let mut response = next.run(req).await;
    let allowed = if app.config.cors_any_origin {
        true
    } else if let Some(CallingApp(list)) = response.extensions().get::<CallingApp>() {
        origin_matches(list, &origin)
    } else {
        origin_matches(&tenant_union(&app, &path).await, &origin)
    };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if allowed && let Ok(v) = HeaderValue::from_str(&origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
    response
}

fn preflight(origin: &str, allowed: bool, request_headers: &HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if !allowed {
        return response;
    }
    // Echo the requested headers that we accept: the fixed list plus any app-defined `x-` header.
    let requested = request_headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut allow: Vec<String> = ALLOWED_HEADERS.iter().map(|s| (*s).to_owned()).collect();
    for h in requested
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
    {
        if h.starts_with("x-") && !allow.contains(&h) {
            allow.push(h);
        }
    }
    if let Ok(v) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET, OPTIONS"),
    );
    if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED),
    );
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}
