//! The HTTP surface: token endpoint, authenticated data routes, control endpoints.

pub mod api;
pub mod control;
pub mod identity;
mod target;

use std::sync::Arc;

use axum::Router;
use axum::http::Uri;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::auth;
use crate::odata::ODataError;
use crate::state::AppState;

pub fn router(state: Arc<AppState>) -> Router {
    let data = Router::new()
        .route(
            &format!("/v2.0/{{tenant}}/{{environment}}/{}", api::API_PATH),
            get(api::root),
        )
        .route(
            &format!("/v2.0/{{tenant}}/{{environment}}/{}/", api::API_PATH),
            get(api::root),
        )
        .route(
            &format!(
                "/v2.0/{{tenant}}/{{environment}}/{}/{{*rest}}",
                api::API_PATH
            ),
            get(api::data),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .merge(data)
        .route("/{tenant}/oauth2/v2.0/token", post(identity::token))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(identity::devicecode),
        )
        .route(
            "/devicelogin",
            get(identity::devicelogin::page).post(identity::devicelogin::submit),
        )
        .route("/_sandbox/mutate", post(control::mutate))
        .route("/_sandbox/rows/{entity}", get(control::rows))
        .route(
            "/_sandbox/devicecode/approve",
            post(control::identity::approve),
        )
        .route(
            "/_sandbox/devicecode/decline",
            post(control::identity::decline),
        )
        .route("/_sandbox/tokens", post(control::identity::tokens))
        .route("/_sandbox/issued", get(control::identity::issued))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    ODataError::not_found(format!(
        "No HTTP resource was found that matches the request URI '{uri}'."
    ))
}
