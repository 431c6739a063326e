//! JSON `$batch` (OData 4.01 JSON format, which BC accepts): up to 100 operations, run in order.
//! With `Isolation: snapshot` the batch is atomic: the first failure undoes every earlier change
//! and every operation reports it.

use axum::Json;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use super::api::{path_of, serve_get};
use super::write;
use crate::model::{Api, Store, UndoLog};
use crate::odata::ODataError;
use crate::state::AppState;

/// BC's limit on operations in one batch.
pub const MAX_OPERATIONS: usize = 100;

#[derive(Debug, Deserialize)]
struct Batch {
    requests: Vec<Operation>,
}

#[derive(Debug, Deserialize)]
struct Operation {
    id: JsonValue,
    method: String,
    url: String,
    #[serde(default)]
    headers: serde_json::Map<String, JsonValue>,
    #[serde(default)]
    body: Option<JsonValue>,
}

/// The operation's path below the service root (URLs may be absolute, root-relative or
/// relative to the service root).
fn relative(url: &str, api: Api) -> (String, Option<String>) {
    let marker = format!("/{}/", path_of(api));
    let path = match url.find(&marker) {
        Some(i) => &url[i + marker.len()..],
        None => url.trim_start_matches('/'),
    };
    match path.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (path.to_owned(), None),
    }
}

/// Runs one operation.
fn run(
    state: &AppState,
    store: &mut Store,
    api: Api,
    outer: &HeaderMap,
    op: &Operation,
    undo: &mut UndoLog,
) -> Response {
    let mut headers = HeaderMap::new();
    if let Some(host) = outer.get("host") {
        headers.insert("host", host.clone());
    }
    for (k, v) in &op.headers {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(k.as_bytes()),
            v.as_str().map(HeaderValue::from_str),
        ) {
            headers.insert(name, value);
        }
    }
    let (path, query) = relative(&op.url, api);
    let body = op
        .body
        .as_ref()
        .map(|b| b.to_string().into_bytes())
        .unwrap_or_default();
    let method = match op.method.to_ascii_uppercase().as_str() {
        "GET" => None,
        "POST" => Some(Method::POST),
        "PATCH" => Some(Method::PATCH),
        "DELETE" => Some(Method::DELETE),
        other => {
            return ODataError::bad_request(format!(
                "The method '{other}' is not supported in a batch."
            ))
            .into_response();
        }
    };
    let result = match method {
        None => serve_get(state, store, api, &path, query.as_deref(), &headers),
        Some(m) => write::execute(state, store, api, &m, &path, &headers, &body, undo),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Runs every operation under one write lock (so a snapshot batch sees no other writer).
fn run_all(
    state: &AppState,
    api: Api,
    headers: &HeaderMap,
    ops: &[Operation],
    atomic: bool,
) -> Vec<Option<Response>> {
    let mut store = state.write();
    let mut undo = UndoLog::default();
    let mut out: Vec<Option<Response>> = Vec::with_capacity(ops.len());
    for op in ops {
        let response = run(state, &mut store, api, headers, op, &mut undo);
        let failed = !response.status().is_success();
        out.push(Some(response));
        if atomic && failed {
            store.undo(undo);
            // Operations that succeeded were rolled back; later ones never ran.
            let failed_at = out.len() - 1;
            for (i, slot) in out.iter_mut().enumerate() {
                if i != failed_at {
                    *slot = None;
                }
            }
            out.resize_with(ops.len(), || None);
            return out;
        }
    }
    out
}

async fn body_json(response: Response) -> JsonValue {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    if bytes.is_empty() {
        JsonValue::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(JsonValue::Null)
    }
}

/// `POST {service root}/$batch`.
pub(super) async fn serve(
    state: &AppState,
    api: Api,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let batch: Batch = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => {
            return ODataError::bad_request(format!("The batch request body is invalid: {e}"))
                .into_response();
        }
    };
    if batch.requests.len() > MAX_OPERATIONS {
        return ODataError::bad_request(format!(
            "The batch contains {} operations; the maximum is {MAX_OPERATIONS}.",
            batch.requests.len()
        ))
        .into_response();
    }
    let atomic = headers
        .get("isolation")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("snapshot"));
    let responses = run_all(state, api, headers, &batch.requests, atomic);
    let mut items = Vec::with_capacity(responses.len());
    for (op, response) in batch.requests.iter().zip(responses) {
        let item = match response {
            Some(response) => {
                let status = response.status().as_u16();
                let mut item_headers = serde_json::Map::new();
                for name in ["etag", "location"] {
                    if let Some(v) = response.headers().get(name).and_then(|v| v.to_str().ok()) {
                        item_headers.insert(name.into(), v.into());
                    }
                }
                let body = body_json(response).await;
                json!({"id": op.id, "status": status, "headers": item_headers, "body": body})
            }
            None => json!({
                "id": op.id,
                "status": StatusCode::FAILED_DEPENDENCY.as_u16(),
                "body": {"error": {
                    "code": "BadRequest_BatchRolledBack",
                    "message": "The operation was not applied because another operation in the snapshot batch failed.",
                }},
            }),
        };
        items.push(item);
    }
    Json(json!({ "responses": items })).into_response()
}
