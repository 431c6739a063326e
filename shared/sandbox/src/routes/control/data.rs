//! `POST /_sandbox/mutate`, `POST /_sandbox/release` and `GET /_sandbox/rows/{entity}`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::model::{MutateError, MutateRequest};
use crate::odata::ODataError;
use crate::odata::serialize::plain_row;
use crate::state::AppState;

/// The mutate body: a `MutateRequest` plus the late-commit options.
#[derive(Debug, Deserialize)]
struct MutateBody {
    #[serde(flatten)]
    request: MutateRequest,
    /// Keep inserts and updates invisible until `POST /_sandbox/release {"hold_id"}`.
    #[serde(default)]
    hold: bool,
    /// Keep them invisible for this long, then commit on their own.
    #[serde(default)]
    commit_delay_ms: Option<u64>,
}

pub async fn mutate(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let body: MutateBody = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return ODataError::bad_request(format!("Invalid mutate request: {e}")).into_response();
        }
    };
    if !body.hold && body.commit_delay_ms.is_none() {
        let result = state.write().mutate(&body.request);
        return match result {
            Ok(response) => Json(response).into_response(),
            Err(e) => unknown(e),
        };
    }
    let held = match state.write().mutate_held(&body.request) {
        Ok(held) => held,
        Err(e) => return unknown(e),
    };
    if let Some(ms) = body.commit_delay_ms {
        let state = state.clone();
        let id = held.hold_id;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            state.write().release(Some(id));
        });
    }
    Json(held).into_response()
}

fn unknown(e: MutateError) -> Response {
    match e {
        MutateError::UnknownEntity(_) => ODataError::not_found(e.to_string()).into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseBody {
    #[serde(default)]
    hold_id: Option<u64>,
}

/// `POST /_sandbox/release {"hold_id"?}`: commit one held mutation, or all when no id is given.
pub async fn release(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let body: ReleaseBody = if body.is_empty() {
        ReleaseBody { hold_id: None }
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return ODataError::bad_request(format!("Invalid release request: {e}"))
                    .into_response();
            }
        }
    };
    let released = state.write().release(body.hold_id);
    Json(json!({ "released": released })).into_response()
}

/// `GET /_sandbox/rows/{entity}`: every row, by key. Dataverse tables answer to their entity set
/// name too (`accounts` as well as `account`), the name a test has at hand from the Web API URL.
pub async fn rows(State(state): State<Arc<AppState>>, Path(entity): Path<String>) -> Response {
    let store = state.read();
    let table = store.table(&entity).or_else(|| {
        crate::model::dataverse::logical_of(&entity).and_then(|logical| store.table(logical))
    });
    let Some(table) = table else {
        return ODataError::not_found(format!("unknown entity '{entity}'")).into_response();
    };
    let rows: Vec<_> = table
        .rows
        .values()
        .map(|r| plain_row(table.schema, r))
        .collect();
    drop(store);
    (StatusCode::OK, Json(rows)).into_response()
}
