//! `GET /openapi.json`: the OpenAPI 3.1 document of every public endpoint. The document is the
//! checked-in `openapi.json` of this crate, embedded at build time; the e2e test `openapi` keeps
//! it true (every route in `router.rs` is in it and vice versa, and real responses validate
//! against its schemas), and schemathesis checks it against a live server in CI.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as served.
pub(crate) const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        OPENAPI_JSON,
    )
}
