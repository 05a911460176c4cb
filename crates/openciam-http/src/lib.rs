//! The HTTP face of openciam: axum routes that speak the Entra native-auth API under
//! `/{tenant}/…`, plus the middleware every response passes through (correlation ids, the Entra
//! error envelope, CORS, timeouts, panic catching).
//!
//! Handlers only extract, convert wire types to core calls, and convert the outcome back.

mod admin;
mod client_ip;
mod cors;
mod ctx;
mod error;
mod explain;
mod extract;
mod flow_trace;
mod in_flight;
mod lifecycle;
pub mod metrics;
mod router;
mod routes;
mod state;

pub use admin::{AdminState, MetricsRender, OPENAPI as ADMIN_OPENAPI, admin_router};
pub use client_ip::TrustedProxy;
pub use lifecycle::Lifecycle;
pub use router::router;
pub use state::{AppState, HttpConfig};
