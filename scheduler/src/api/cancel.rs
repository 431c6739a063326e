//! `POST /api/v1/runs/{id}/cancel`: the API's door to `runs::cancel`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferry_shared::runs::{self, CancelError, Cancelled};
use serde_json::{Value, json};

use super::ApiError;
use crate::state::AppState;

/// 202 `{"run_id", "status": "cancelled" | "cancelling"}`; 404 for an unknown run, 409 for one that
/// already ended.
pub async fn cancel(
    State(state): State<AppState>,
    Path(run_id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    match runs::cancel(&state.db, run_id, "api").await {
        Ok(done) => {
            let status = match done {
                Cancelled::Now => "cancelled",
                Cancelled::AtNextPage => "cancelling",
            };
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "run_id": run_id, "status": status })),
            ))
        }
        Err(e @ CancelError::Unknown(_)) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, e.to_string()))
        }
        Err(e @ CancelError::Finished { .. }) => {
            Err(ApiError::new(StatusCode::CONFLICT, e.to_string()))
        }
        Err(e) => Err(ApiError::internal(e)),
    }
}
