//! The HTTP surface: identity endpoints, authenticated data routes, control endpoints.

pub mod api;
pub mod batch;
pub mod control;
pub mod dataverse;
pub mod identity;
mod key;
pub mod odatav4;
mod target;
pub mod write;
mod write_error;

use std::sync::Arc;

use axum::Router;
use axum::http::Uri;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{any, get, post};

use crate::odata::ODataError;
use crate::state::AppState;
use crate::{auth, faults};

pub fn router(state: Arc<AppState>) -> Router {
    let resco = format!("/v2.0/{{tenant}}/{{environment}}/{}", api::API_PATH);
    let odata_v4 = format!("/v2.0/{{tenant}}/{{environment}}/{}", odatav4::PATH);
    let standard = format!("/v2.0/{{tenant}}/{{environment}}/{}", api::STANDARD_PATH);
    let data = Router::new()
        .route(&resco, any(api::root))
        .route(&format!("{resco}/"), any(api::root))
        .route(&format!("{resco}/{{*rest}}"), any(api::data))
        .route(&standard, any(api::standard_root))
        .route(&format!("{standard}/"), any(api::standard_root))
        .route(&format!("{standard}/{{*rest}}"), any(api::standard_data))
        .route(&odata_v4, any(odatav4::root))
        .route(&format!("{odata_v4}/"), any(odatav4::root))
        .route(&format!("{odata_v4}/{{*rest}}"), any(odatav4::data))
        // Layers added later run first: authenticate, then count against the user's limits,
        // then inject faults (so injected latency holds a concurrency slot, as a slow BC call
        // would), then record the request and charge an unindexed sort.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            faults::sort_cost::charge,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::request_log::record,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            faults::middleware::inject,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            faults::middleware::limit,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    // Dataverse: its own token audience and its own service protection limits (429, no queue).
    let dv_root = format!("/{}", dataverse::PATH);
    let dataverse_routes = Router::new()
        .route(&dv_root, any(dataverse::root))
        .route(&format!("{dv_root}/"), any(dataverse::root))
        .route(&format!("{dv_root}/{{*rest}}"), any(dataverse::data))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            faults::middleware::inject,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            faults::middleware::limit_dataverse,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_dataverse_token,
        ));
    let sign_in = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(identity::token))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(identity::devicecode),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            faults::middleware::inject,
        ));
    Router::new()
        .merge(data)
        .merge(dataverse_routes)
        .merge(sign_in)
        .route(
            "/devicelogin",
            get(identity::devicelogin::page).post(identity::devicelogin::submit),
        )
        .merge(control::router())
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    ODataError::not_found(format!(
        "No HTTP resource was found that matches the request URI '{uri}'."
    ))
}
