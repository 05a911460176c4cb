//! Correlation ids and the error envelope.
//!
//! Every response echoes `client-request-id` (header, else query parameter, else a new UUID) and
//! sets `x-ms-request-id` to the same value, because MSAL.js sends the latter back as the next
//! call's `client-request-id` (spec §2.4). Error responses leave an [`ErrorSpec`] in their
//! extensions; this middleware turns it into the Entra envelope with the request's ids, and logs
//! 5xx causes once.

use crate::client_ip::{TrustedProxy, client_ip};
use crate::error::ErrorSpec;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use openciam_core::request::{RequestMeta, clean_user_agent};
use openciam_wire::ErrorBody;
use openciam_wire::error::Correlation;
use std::net::SocketAddr;
use time::macros::format_description;
use uuid::Uuid;

const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");
const X_MS_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");

/// Longest `client-request-id` echoed; longer values are replaced by a new id.
const MAX_ID_LEN: usize = 128;

fn client_request_id(req: &Request) -> String {
    let from_header = req
        .headers()
        .get(&CLIENT_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_query = || {
        req.uri().query().and_then(|q| {
            form_pairs(q)
                .find(|(k, _)| k.eq_ignore_ascii_case("client-request-id"))
                .map(|(_, v)| v)
        })
    };
    from_header
        .or_else(from_query)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= MAX_ID_LEN && v.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| Uuid::new_v4().to_string())
}

fn form_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    q.split('&').filter_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        Some((k.to_owned(), v.to_owned()))
    })
}

/// The facts about the caller that the core's controls read (client IP, user agent, ids).
fn request_meta(req: &Request, correlation_id: &str, proxy: Option<&TrustedProxy>) -> RequestMeta {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let ip = client_ip(proxy, req.headers(), peer);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(clean_user_agent);
    RequestMeta {
        ip,
        user_agent,
        correlation_id: Some(correlation_id.to_owned()),
    }
}

/// The ids of one request, left in the response's extensions for the layers outside.
#[derive(Debug, Clone)]
pub(crate) struct RequestIds {
    /// This request's trace id (also in error bodies).
    pub(crate) trace_id: String,
    /// The caller's `client-request-id` (or a new UUID).
    pub(crate) correlation_id: String,
}

/// The outermost middleware: ids, timeout, envelope rendering and error logging.
pub(crate) async fn envelope(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let correlation_id = client_request_id(&req);
    let trace_id = Uuid::new_v4().to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let timeout = app.config.request_timeout;
    let meta = request_meta(&req, &correlation_id, app.config.trusted_proxy.as_ref());
    // Every line logged while the request runs carries its ids (and no body or secret).
    let span = tracing::info_span!("request", %method, %path, %trace_id, %correlation_id);
    let work = meta.scope(tokio::time::timeout(timeout, next.run(req)));
    let mut response = match tracing::Instrument::instrument(work, span).await {
        Ok(r) => r,
        Err(_) => crate::error::ApiError::Timeout.into_response(),
    };
    if let Some(spec) = response.extensions_mut().remove::<ErrorSpec>() {
        let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
        let timestamp = app.services.clock.now().format(&fmt).unwrap_or_default();
        let corr = Correlation {
            trace_id: trace_id.clone(),
            correlation_id: correlation_id.clone(),
            timestamp,
        };
        if let Some(cause) = &spec.cause {
            tracing::error!(%method, %path, trace_id, correlation_id, status = response.status().as_u16(), cause, "request failed");
        } else {
            tracing::info!(%method, %path, trace_id, correlation_id, error = spec.entry.error, code = spec.entry.code, "protocol error");
        }
        let body: ErrorBody = spec.into_body(&corr);
        let json = serde_json::to_vec(&body).unwrap_or_default();
        *response.body_mut() = Body::from(json);
        response.headers_mut().remove(header::CONTENT_LENGTH);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    } else {
        tracing::info!(%method, %path, trace_id, correlation_id, status = response.status().as_u16(), "request served");
        // axum's Json says `application/json`; the clients expect the charset spelled out (spec §2.2).
        let is_json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v == "application/json");
        if is_json {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
        }
    }
    if let Ok(v) = HeaderValue::from_str(&correlation_id) {
        response.headers_mut().insert(CLIENT_REQUEST_ID, v.clone());
        response.headers_mut().insert(X_MS_REQUEST_ID, v);
    }
    // For the dev flow trace, which sits outside this middleware.
    response.extensions_mut().insert(RequestIds {
        trace_id,
        correlation_id,
    });
    // Draining for a shutdown: the client's next request goes over a new connection, to a node
    // that is still ready.
    if app.lifecycle.is_draining() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
