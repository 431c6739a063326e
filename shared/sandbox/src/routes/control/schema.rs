//! `POST /_sandbox/schema`: drop or rename a field, or drop an entity, at run time.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::model::{SchemaChange, SchemaChangeBody};
use crate::odata::ODataError;
use crate::state::AppState;

pub async fn change(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let change: SchemaChange = match serde_json::from_slice::<SchemaChangeBody>(&body)
        .map_err(|e| e.to_string())
        .and_then(SchemaChange::try_from)
    {
        Ok(c) => c,
        Err(e) => {
            return ODataError::bad_request(format!("Invalid schema change: {e}")).into_response();
        }
    };
    let mut store = state.write();
    if let Err(e) = store.change_schema(&change) {
        return ODataError::bad_request(format!("Invalid schema change: {e}")).into_response();
    }
    let entities: Vec<serde_json::Value> = store
        .tables
        .iter()
        .map(|t| {
            let fields: Vec<&str> = t
                .schema
                .fields
                .iter()
                .filter(|f| !f.hidden)
                .map(|f| f.name)
                .collect();
            json!({"entity": t.schema.name, "fields": fields})
        })
        .collect();
    Json(json!({ "entities": entities })).into_response()
}
