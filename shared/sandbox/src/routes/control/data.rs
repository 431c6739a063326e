//! `POST /_sandbox/mutate` and `GET /_sandbox/rows/{entity}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::model::{MutateError, MutateRequest};
use crate::odata::ODataError;
use crate::odata::serialize::plain_row;
use crate::state::AppState;

pub async fn mutate(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let request: MutateRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return ODataError::bad_request(format!("Invalid mutate request: {e}")).into_response();
        }
    };
    let result = state.write().mutate(&request);
    match result {
        Ok(response) => Json(response).into_response(),
        Err(e @ MutateError::UnknownEntity(_)) => {
            ODataError::not_found(e.to_string()).into_response()
        }
    }
}

pub async fn rows(State(state): State<Arc<AppState>>, Path(entity): Path<String>) -> Response {
    let store = state.read();
    let Some(table) = store.table(&entity) else {
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
