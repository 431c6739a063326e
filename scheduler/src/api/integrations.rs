//! Integrations and their standing: `GET /api/v1/integrations`, `GET` and `DELETE
//! /api/v1/integrations/{name}`, `POST /api/v1/integrations/{name}/disable` and `…/enable`. The same
//! library functions as `ferry integrations`, `show`, `disable`, `enable` and `delete`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::cli::integrations::{self, IntegrationSummary};
use crate::cli::lifecycle::{self, LifecycleError};
use crate::state::AppState;

/// How long a `DELETE …?drop_target=true` waits for a running run to stop before it answers 409.
const DROP_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `GET /api/v1/integrations`: every integration not deleted, in name order.
pub async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<IntegrationSummary>>, ApiError> {
    Ok(Json(
        integrations::list(&state.db)
            .await
            .map_err(ApiError::internal)?,
    ))
}

/// `GET /api/v1/integrations/{name}`: the summary, with the stored definition (`definition`, as JSON,
/// and `toml`, what `ferry show` prints).
pub async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let summary = integrations::summary(&state.db, &name)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| unknown(&name))?;
    let (_, def) = integrations::stored(&state.db, &name, Some(summary.version))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| unknown(&name))?;
    let mut body = serde_json::to_value(&summary).map_err(ApiError::internal)?;
    body["definition"] = serde_json::to_value(&def).map_err(ApiError::internal)?;
    body["toml"] = integrations::to_toml(&def)
        .map_err(ApiError::internal)?
        .into();
    Ok(Json(body))
}

/// `POST /api/v1/integrations/{name}/disable` → 200 `{"name", "state": "disabled", "changed"}`.
pub async fn disable(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(&state, &name, false).await
}

/// `POST /api/v1/integrations/{name}/enable` → 200 `{"name", "state": "enabled", "changed"}`.
pub async fn enable(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(&state, &name, true).await
}

async fn set_enabled(state: &AppState, name: &str, enabled: bool) -> Result<Json<Value>, ApiError> {
    let changed = lifecycle::set_enabled(&state.db, name, enabled, "api")
        .await
        .map_err(refused)?;
    let now = if enabled { "enabled" } else { "disabled" };
    Ok(Json(
        json!({ "name": name, "state": now, "changed": changed }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    #[serde(default)]
    drop_target: bool,
}

/// `DELETE /api/v1/integrations/{name}[?drop_target=true]` → 200 `{"name", "state": "deleted",
/// "cancelled", "stopping", "dropped"}`.
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let deleted = lifecycle::delete(&state.db, &name, query.drop_target, "api", DROP_WAIT)
        .await
        .map_err(refused)?;
    let mut body = serde_json::to_value(&deleted).map_err(ApiError::internal)?;
    body["name"] = name.into();
    body["state"] = "deleted".into();
    Ok(Json(body))
}

fn unknown(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no integration named {name:?} has been applied"),
    )
}

/// 404 for an integration that is unknown or deleted, 409 for a change its state refuses.
fn refused(e: LifecycleError) -> ApiError {
    match e {
        LifecycleError::Unknown(_) | LifecycleError::Deleted(_) => {
            ApiError::new(StatusCode::NOT_FOUND, e.to_string())
        }
        LifecycleError::TargetShared { .. } | LifecycleError::StillRunning { .. } => {
            ApiError::new(StatusCode::CONFLICT, e.to_string())
        }
        other => ApiError::internal(other),
    }
}
