//! `POST /_sandbox/dataverse/expire_tokens`, `GET|POST /_sandbox/dataverse/limits` and `GET
//! /_sandbox/dataverse/limits/counts`: what a connector test needs to meet an expired
//! change-tracking token and Dataverse's service protection without waiting days or sending
//! thousands of requests.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::faults::patch_limits;
use crate::state::AppState;

/// Every delta token issued so far answers ExpiredVersionStamp from now on.
pub async fn expire_tokens(State(state): State<Arc<AppState>>) -> Response {
    state.write().expire_delta_tokens();
    Json(json!({"expired": true})).into_response()
}

pub async fn limits(State(state): State<Arc<AppState>>) -> Response {
    Json(state.dataverse_limiter.limits()).into_response()
}

/// What Dataverse's limiter let through and refused so far, as `GET /_sandbox/limits/counts`.
pub async fn counts(State(state): State<Arc<AppState>>) -> Response {
    Json(state.dataverse_limiter.counts()).into_response()
}

/// Partial update, as `POST /_sandbox/limits`.
pub async fn set_limits(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    patch_limits(&state.dataverse_limiter, &body)
}
