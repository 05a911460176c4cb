//! Request metrics through the `metrics` facade: one counter and one latency histogram per
//! request, labelled by the route *template* (axum's [`MatchedPath`], e.g.
//! `/{tenant}/oauth2/v2.0/token`, never the raw path, so tenant names and ids in paths cannot
//! blow up the label set), the tenant's GUID once a handler resolved it, the status and the
//! Entra `error`.

use crate::error::ErrorSpec;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use openciam_core::ids::TenantId;
use std::time::Instant;

/// Requests served, by `route`, `method`, `tenant`, `status` and `error`.
pub(crate) const REQUESTS: &str = "openciam_http_requests_total";
/// Seconds from request to response, by `route` and `method`.
pub(crate) const DURATION: &str = "openciam_http_request_duration_seconds";

/// The label of requests that matched no route (404 from the fallback).
const UNMATCHED: &str = "unmatched";

/// The route template of a matched request, carried out in the response.
#[derive(Debug, Clone)]
struct Route(String);

/// The tenant a handler resolved, carried out in the response (see `routes::for_app`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TenantLabel(pub(crate) TenantId);

/// The route template a response was made by, if it matched one.
pub(crate) fn route_of(response: &Response) -> Option<String> {
    response.extensions().get::<Route>().map(|r| r.0.clone())
}

/// Inside the router (a route layer): copies the matched template into the response.
pub(crate) async fn matched(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(Route(route));
    }
    response
}

/// Around the router, inside the error envelope (which still finds the [`ErrorSpec`]): counts
/// and times the request.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let elapsed = start.elapsed().as_secs_f64();
    let ext = response.extensions();
    let route = ext
        .get::<Route>()
        .map_or_else(|| UNMATCHED.to_owned(), |r| r.0.clone());
    let tenant = ext
        .get::<TenantLabel>()
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    let error = ext.get::<ErrorSpec>().map_or("", |s| s.entry.error);
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS,
        "route" => route.clone(), "method" => method.clone(), "tenant" => tenant,
        "status" => status, "error" => error)
    .increment(1);
    metrics::histogram!(DURATION, "route" => route, "method" => method).record(elapsed);
    response
}
