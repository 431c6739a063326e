//! `POST/GET/DELETE /_sandbox/faults`, `GET/POST /_sandbox/limits` and `GET/DELETE
//! /_sandbox/limits/counts`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::faults::{FaultSpec, Limits, RateLimiter};
use crate::odata::ODataError;
use crate::state::AppState;

/// Adds one rule (`{"route"?, "status"?, "retry_after"?, "latency_ms"?, "kind"?, "rate"?,
/// "count"?}`, `"times"` standing for `"count"`) or a list of them. `FaultSpec` says what each
/// field does; `Kind::LostReply` is the one that lets a write happen and loses its answer.
pub async fn add(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let specs: Vec<FaultSpec> = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Array(items)) => {
            match items.into_iter().map(serde_json::from_value).collect() {
                Ok(specs) => specs,
                Err(e) => return invalid(e),
            }
        }
        Ok(one) => match serde_json::from_value(one) {
            Ok(spec) => vec![spec],
            Err(e) => return invalid(e),
        },
        Err(e) => return invalid(e),
    };
    if let Some(problem) = specs.iter().find_map(|s| s.validate().err()) {
        return ODataError::bad_request(format!("Invalid fault: {problem}")).into_response();
    }
    let mut active = 0;
    for spec in specs {
        active = state.faults.add(spec);
    }
    Json(json!({ "active": active })).into_response()
}

fn invalid(e: impl std::fmt::Display) -> Response {
    ODataError::bad_request(format!("Invalid fault: {e}")).into_response()
}

pub async fn list(State(state): State<Arc<AppState>>) -> Response {
    Json(state.faults.list()).into_response()
}

pub async fn clear(State(state): State<Arc<AppState>>) -> Response {
    state.faults.clear();
    Json(json!({ "active": 0 })).into_response()
}

pub async fn limits(State(state): State<Arc<AppState>>) -> Response {
    Json(state.limiter.limits()).into_response()
}

/// What BC's limiter let through and refused so far (`CountsSnapshot`).
pub async fn counts(State(state): State<Arc<AppState>>) -> Response {
    Json(state.limiter.counts()).into_response()
}

/// Starts BC's counts afresh.
pub async fn reset_counts(State(state): State<Arc<AppState>>) -> Response {
    state.limiter.reset_counts();
    Json(state.limiter.counts()).into_response()
}

/// Partial update: `{"requests_per_window"?, "window_secs"?, "max_concurrent"?,
/// "queue_timeout_ms"?}`.
pub async fn set_limits(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    patch_limits(&state.limiter, &body)
}

/// Applies a partial limits body to `limiter` (BC's or Dataverse's).
pub(super) fn patch_limits(limiter: &RateLimiter, body: &[u8]) -> Response {
    let mut current = serde_json::to_value(limiter.limits()).unwrap_or_default();
    let patch: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(body) {
        Ok(p) => p,
        Err(e) => return ODataError::bad_request(format!("Invalid limits: {e}")).into_response(),
    };
    for (k, v) in patch {
        if current.get(&k).is_none() {
            return ODataError::bad_request(format!("Unknown limit '{k}'")).into_response();
        }
        current[k] = v;
    }
    match serde_json::from_value::<Limits>(current) {
        Ok(limits) => {
            limiter.set_limits(limits);
            Json(limits).into_response()
        }
        Err(e) => ODataError::bad_request(format!("Invalid limits: {e}")).into_response(),
    }
}
