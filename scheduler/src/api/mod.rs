//! The workflow API (axum): trigger runs and read their status, list integrations and connections and
//! change their standing, queue depth and Prometheus metrics.
//! `/healthz` and `/readyz` are open; everything else needs `Authorization: Bearer <api.token>`
//! (`/metrics` also takes `api.metrics_token`), and a client that fails that too often waits (`lockout`).

mod auth;
mod cancel;
mod connections;
mod error;
mod health;
mod integrations;
pub(crate) mod lockout;
mod metrics;
mod runs;

use std::net::SocketAddr;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use crate::state::AppState;
pub use error::ApiError;

/// The routes.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/api/v1/integrations", get(integrations::list))
        .route(
            "/api/v1/integrations/{name}",
            get(integrations::get_one).delete(integrations::delete),
        )
        .route(
            "/api/v1/integrations/{name}/disable",
            post(integrations::disable),
        )
        .route(
            "/api/v1/integrations/{name}/enable",
            post(integrations::enable),
        )
        .route("/api/v1/integrations/{name}/runs", post(runs::trigger))
        .route("/api/v1/connections", get(connections::list))
        .route(
            "/api/v1/connections/{name}",
            get(connections::get_one).delete(connections::delete),
        )
        .route("/api/v1/runs/{id}", get(runs::get_one))
        .route("/api/v1/runs/{id}/cancel", post(cancel::cancel))
        .route("/api/v1/runs", get(runs::list))
        .route("/api/v1/queue", get(runs::queue))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    let metrics = Router::new()
        .route("/metrics", get(metrics::render))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_metrics_token,
        ));
    let api = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(protected)
        .merge(metrics)
        .fallback(error::not_found)
        .layer(middleware::map_response(error::as_json));
    // The console's pages answer in HTML, so they are merged after the API's JSON error layer.
    api.merge(crate::console::router(state.clone()))
        .with_state(state)
}

/// Serves until `stop` is cancelled.
pub async fn serve(listener: TcpListener, state: AppState, stop: CancellationToken) {
    // Connection info gives the lockout each client's address.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::warn!(error = %e, "API server stopped with an error");
    }
}
