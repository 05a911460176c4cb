//! Every route, in one place (paths mirror Entra under `/{tenant}`), and the middleware stack.

use crate::routes::{discovery, health, not_found, signin, token};
use crate::state::AppState;
use crate::{cors, ctx};
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

/// Builds the application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
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
        .layer(from_fn_with_state(state.clone(), cors::cors))
        .layer(from_fn_with_state(state.clone(), ctx::envelope))
        .with_state(state)
}
