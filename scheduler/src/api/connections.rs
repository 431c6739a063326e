//! Connections: `GET /api/v1/connections`, `GET` and `DELETE /api/v1/connections/{name}`. No secret is
//! ever in an answer: a definition holds none, and credentials are named by kind only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::ApiError;
use crate::cli::connections::{self, ConnectionError, ConnectionSummary};
use crate::state::AppState;

/// `GET /api/v1/connections`, in name order.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<ConnectionSummary>>, ApiError> {
    Ok(Json(
        connections::list(&state.db)
            .await
            .map_err(ApiError::internal)?,
    ))
}

/// `GET /api/v1/connections/{name}`.
pub async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ConnectionSummary>, ApiError> {
    connections::summary(&state.db, &name)
        .await
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no connection named {name:?} has been applied"),
            )
        })
}

/// `DELETE /api/v1/connections/{name}` → 200; 404 when unknown, 409 while an integration uses it.
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match connections::delete(&state.db, &name).await {
        Ok(()) => Ok(Json(json!({ "name": name, "deleted": true }))),
        Err(e @ ConnectionError::Unknown(_)) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, e.to_string()))
        }
        Err(e @ ConnectionError::InUse { .. }) => {
            Err(ApiError::new(StatusCode::CONFLICT, e.to_string()))
        }
        Err(ConnectionError::Other(e)) => Err(ApiError::internal(e)),
    }
}
