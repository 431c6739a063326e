//! Triggering runs and reading them: the workflow half of the API.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use ferry_shared::callback;
use ferry_shared::dispatch::dispatch;
use ferry_shared::runs::{self, Mode, NewRun, RunError, RunSummary, Trigger};
use ferry_shared::storage::statement;
use sea_orm::ConnectionTrait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::depth;
use crate::state::AppState;

/// Longest accepted `Idempotency-Key`.
const MAX_KEY_LEN: usize = 200;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    #[serde(default)]
    mode: Option<Mode>,
    #[serde(default)]
    callback_url: Option<String>,
}

/// `POST /api/v1/integrations/{name}/runs` → 202 `{"run_id": …}`. The same `Idempotency-Key` always
/// answers with the same run.
pub async fn trigger(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body: TriggerBody = if body.iter().all(u8::is_ascii_whitespace) {
        TriggerBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?
    };
    if let Some(url) = &body.callback_url {
        let url = url::Url::parse(url)
            .map_err(|_| ApiError::bad_request("callback_url must be an http(s) URL"))?;
        if let Some(refusal) =
            callback::refusal(&url, state.settings.api.allow_private_callbacks).await
        {
            return Err(ApiError::bad_request(refusal));
        }
        // Refused here, not discovered when the run ends: a callback is always signed, and never
        // with the API token.
        if state.settings.api.callback_secret.is_none() {
            return Err(ApiError::bad_request(
                "callback_url needs api.callback_secret (FERRY__API__CALLBACK_SECRET) to sign the \
                 callback: set one on the scheduler and the workers, e.g. `openssl rand -hex 32`",
            ));
        }
    }
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
                    ))
                })?;
            Some(key.to_string())
        }
    };
    let mode = body.mode.unwrap_or(Mode::Incremental);
    if let Some(key) = &key
        && let Some(run_id) = remembered(&state, key, &name, mode).await?
    {
        return Ok((StatusCode::ACCEPTED, Json(json!({ "run_id": run_id }))));
    }
    let new = NewRun {
        trigger: Trigger::Api,
        callback_url: body.callback_url,
        ..NewRun::manual(&name, mode)
    };
    let mut queue = state.queue.clone();
    let dispatched = dispatch(&state.db, &mut queue, &new)
        .await
        .map_err(|e| match e {
            RunError::UnknownIntegration(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            RunError::Deleted { .. } => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            RunError::ModeConflict { .. } | RunError::Disabled { .. } => {
                ApiError::new(StatusCode::CONFLICT, e.to_string())
            }
            other => ApiError::internal(other),
        })?;
    let run_id = match &key {
        Some(key) => remember(&state, key, &name, mode, dispatched.run_id).await?,
        None => dispatched.run_id,
    };
    // The run is recorded either way; with the queue down its job follows once the queue answers.
    let dispatch = match dispatched.pending {
        Some(_) => "pending",
        None => "queued",
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "run_id": run_id, "dispatch": dispatch })),
    ))
}

/// The run an idempotency key already stands for. The key stands for one trigger: reusing it for
/// another integration or another mode is a 422, not that trigger's run.
async fn remembered(
    state: &AppState,
    key: &str,
    integration: &str,
    mode: Mode,
) -> Result<Option<i64>, ApiError> {
    let row = state
        .db
        .query_one_raw(statement(
            state.db.get_database_backend(),
            "SELECT run_id, integration, mode FROM ferry_idempotency_keys WHERE key = ?",
            [key.into()],
        ))
        .await
        .map_err(ApiError::internal)?;
    let Some(row) = row else { return Ok(None) };
    let stored: String = row.try_get_by_index(1).map_err(ApiError::internal)?;
    if stored != integration {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Idempotency-Key already used for integration {stored:?}"),
        ));
    }
    let stored_mode: Option<String> = row.try_get_by_index(2).map_err(ApiError::internal)?;
    if let Some(stored_mode) = stored_mode
        && stored_mode != mode.as_str()
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Idempotency-Key already used for a {stored_mode} run of {integration:?}"),
        ));
    }
    Ok(Some(row.try_get_by_index(0).map_err(ApiError::internal)?))
}

/// Stores key → run; when a concurrent request stored the key first, its run wins.
async fn remember(
    state: &AppState,
    key: &str,
    integration: &str,
    mode: Mode,
    run_id: i64,
) -> Result<i64, ApiError> {
    state
        .db
        .execute_raw(statement(
            state.db.get_database_backend(),
            "INSERT INTO ferry_idempotency_keys (key, integration, run_id, created_at, mode) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            [
                key.into(),
                integration.into(),
                run_id.into(),
                Utc::now().fixed_offset().into(),
                mode.as_str().into(),
            ],
        ))
        .await
        .map_err(ApiError::internal)?;
    Ok(remembered(state, key, integration, mode)
        .await?
        .unwrap_or(run_id))
}

/// `GET /api/v1/runs/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunSummary>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request("run id must be a number"))?;
    match runs::get(&state.db, id).await.map_err(ApiError::internal)? {
        Some(run) => Ok(Json(run.into())),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no run {id}"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    integration: Option<String>,
    limit: Option<u64>,
}

/// `GET /api/v1/runs?integration=…&limit=…`, newest first.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<RunSummary>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(50).min(1000);
    let runs = runs::list(&state.db, query.integration.as_deref(), limit)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(runs.into_iter().map(RunSummary::from).collect()))
}

/// `GET /api/v1/queue`.
pub async fn queue(State(state): State<AppState>) -> Result<Json<depth::QueueDepth>, ApiError> {
    let mut queue = state.queue.clone();
    let depth = depth::read(&state.db, &mut queue, state.settings.worker.lease())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(depth))
}
