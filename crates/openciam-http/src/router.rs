//! Every route, in one place (paths mirror Entra under `/{tenant}`), and the middleware stack.

use crate::flow_trace::{self, FlowTrace, MAX_FLOWS};
use crate::routes::{
    dev, dev_console, discovery, health, mfa, not_found, openapi, reset, signin, signup, token,
};
use crate::state::AppState;
use crate::{cors, ctx};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Router};
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;

/// Builds the application router.
pub fn router(state: AppState) -> Router {
    let mut routes = Router::new();
    // Dev mode (`openciam dev`) only: the mailbox, the console and the flow trace.
    let mut trace = None;
    if state.mailbox.is_some() {
        let recorder = Arc::new(FlowTrace::new(
            MAX_FLOWS,
            state.services.clock.clone(),
            state.config.body_limit,
        ));
        routes = routes
            .route("/_dev/mailbox", get(dev::mailbox))
            .route("/_dev/mailbox/latest-code", get(dev::latest_code))
            .merge(
                Router::new()
                    .route("/_dev/", get(dev_console::console))
                    .route("/_dev/flows", get(dev_console::flows))
                    .layer(Extension(recorder.clone())),
            );
        trace = Some(recorder);
    }
    let routes = routes
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi::openapi))
        .route("/{tenant}/signup/v1.0/start", post(signup::signup_start))
        .route("/{tenant}/signup/v1.0/challenge", post(signup::signup_challenge))
        .route("/{tenant}/signup/v1.0/continue", post(signup::signup_continue))
        .route("/{tenant}/resetpassword/v1.0/start", post(reset::reset_start))
        .route(
            "/{tenant}/resetpassword/v1.0/challenge",
            post(reset::reset_challenge),
        )
        .route(
            "/{tenant}/resetpassword/v1.0/continue",
            post(reset::reset_continue),
        )
        .route("/{tenant}/resetpassword/v1.0/submit", post(reset::reset_submit))
        .route(
            "/{tenant}/resetpassword/v1.0/poll_completion",
            post(reset::reset_poll_completion),
        )
        .route("/{tenant}/oauth2/v2.0/initiate", post(signin::signin_initiate))
        .route("/{tenant}/oauth2/v2.0/challenge", post(signin::signin_challenge))
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route("/{tenant}/oauth2/v2.0/introspect", post(mfa::signin_introspect))
        .route(
            "/{tenant}/register/v1.0/introspect",
            post(mfa::register_introspect),
        )
        .route("/{tenant}/register/v1.0/challenge", post(mfa::register_challenge))
        .route("/{tenant}/register/v1.0/continue", post(mfa::register_continue))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::jwks))
        .route_layer(from_fn(crate::metrics::matched))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(CatchPanicLayer::custom(|_| {
            crate::error::ApiError::Panic.into_response()
        }))
        // Past the cap a request is refused before any work, still counted and enveloped.
        .layer(from_fn_with_state(
            crate::in_flight::InFlight::new(state.config.max_in_flight),
            crate::in_flight::admit,
        ))
        // Metrics sit inside the envelope, where error responses still carry their spec.
        .layer(from_fn(crate::metrics::track))
        // The envelope (ids, timeout, error bodies) sits inside CORS, so every response it makes
        // — a timeout included — still gets the CORS headers MSAL.js needs to read the body.
        .layer(from_fn_with_state(state.clone(), ctx::envelope));
    // The trace sits outside the envelope, so it records the error bodies as sent.
    let routes = match trace {
        Some(recorder) => routes.layer(from_fn_with_state(recorder, flow_trace::record)),
        None => routes,
    };
    routes
        .layer(from_fn_with_state(state.clone(), cors::cors))
        .with_state(state)
}
