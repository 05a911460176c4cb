//! Every route, in one place (paths mirror Entra under `/{tenant}`), and the middleware stack.

use crate::routes::{dev, discovery, health, not_found, openapi, reset, signin, signup, token};
use crate::state::AppState;
use crate::{cors, ctx};
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

/// Builds the application router.
pub fn router(state: AppState) -> Router {
    let mut routes = Router::new();
    if state.mailbox.is_some() {
        routes = routes
            .route("/_dev/mailbox", get(dev::mailbox))
            .route("/_dev/mailbox/latest-code", get(dev::latest_code));
    }
    routes
        .route("/healthz", get(health::healthz))
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
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::jwks))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(CatchPanicLayer::custom(|_| {
            crate::error::ApiError::Panic.into_response()
        }))
        // The envelope (ids, timeout, error bodies) sits inside CORS, so every response it makes
        // — a timeout included — still gets the CORS headers MSAL.js needs to read the body.
        .layer(from_fn_with_state(state.clone(), ctx::envelope))
        .layer(from_fn_with_state(state.clone(), cors::cors))
        .with_state(state)
}
