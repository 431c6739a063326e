//! Dataverse's Web API at `{environment URL}/api/data/v9.2/` (the sandbox is its own environment):
//! `accounts` and `contacts` with `$select`/`$filter`/`$orderby`/`$top`/`$count`, paging by a
//! paging cookie, change tracking with delta links, formatted values, `$metadata` in Dataverse's
//! shape, and writes. Tokens must be issued for the scope `{environment URL}/.default`.

mod batch;
mod cookie;
mod delta;
pub mod error;
mod json;
mod metadata;
pub mod prefer;
mod read;
mod write;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::model::{Store, UndoLog, dataverse};
use crate::odata::ODataError;
use crate::odata::query;
use crate::state::AppState;
use prefer::Prefer;

/// The service root's path below the environment URL.
pub const PATH: &str = "api/data/v9.2";

/// The query options the Dataverse routes read beyond BC's.
const EXTRA_OPTIONS: &[&str] = &["$deltatoken", "$expand"];

const JSON_CONTENT_TYPE: &str = "application/json; odata.metadata=minimal";

/// The service root as the client addressed us (`http://host:port/api/data/v9.2/`, with the
/// trailing slash Dataverse's contexts and links carry).
fn service_root(state: &AppState, headers: &HeaderMap) -> String {
    let origin = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| state.base_url.clone(), |h| format!("http://{h}"));
    format!("{origin}/{PATH}/")
}

/// What a request addresses below the service root.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    ServiceDocument,
    Metadata,
    Collection(&'a str),
    Single(&'a str, &'a str),
}

fn target(rest: &str) -> Option<Target<'_>> {
    let rest = rest.trim_end_matches('/');
    Some(match rest {
        "" => Target::ServiceDocument,
        "$metadata" => Target::Metadata,
        _ => match rest.find('(') {
            None => Target::Collection(rest),
            Some(i) => Target::Single(&rest[..i], rest[i + 1..].strip_suffix(')')?),
        },
    })
}

fn json_response(body: Vec<u8>, applied: Option<String>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    h.insert("odata-version", HeaderValue::from_static("4.0"));
    if let Some(v) = applied.and_then(|a| HeaderValue::from_str(&a).ok()) {
        h.insert("preference-applied", v);
    }
    response
}

pub async fn root(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    serve(&state, "", &method, &headers, &uri, &body).await
}

pub async fn data(
    State(state): State<Arc<AppState>>,
    Path(rest): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    serve(&state, &rest, &method, &headers, &uri, &body).await
}

async fn serve(
    state: &AppState,
    rest: &str,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Response {
    if *method == Method::POST && rest.trim_end_matches('/') == "$batch" {
        return batch::serve(state, headers, body)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    let result = match *method {
        Method::GET => get(state, &state.read(), rest, uri.query(), headers),
        Method::POST | Method::PATCH | Method::DELETE => write(
            state,
            &mut state.write(),
            rest,
            method,
            headers,
            body,
            &mut UndoLog::default(),
        ),
        _ => Err(ODataError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "0x80060888",
            format!("The HTTP method '{method}' is not allowed here."),
        )),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A POST, PATCH or DELETE against `store` (the caller holds the write lock, so a `$batch` can run
/// many under one).
fn write(
    state: &AppState,
    store: &mut Store,
    rest: &str,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
    undo: &mut UndoLog,
) -> Result<Response, ODataError> {
    let root = service_root(state, headers);
    let prefer = Prefer::parse(headers);
    let target = target(rest).ok_or_else(|| error::no_resource(rest))?;
    let (set, id) = match target {
        Target::Collection(set) => (set, None),
        Target::Single(set, id) => (set, Some(id)),
        _ => return Err(error::no_resource(rest)),
    };
    let write = write::Write {
        root: &root,
        set,
        headers,
        prefer: &prefer,
    };
    match (method, id) {
        (&Method::POST, None) => write.create(store, body, undo),
        (&Method::PATCH, Some(id)) => write.upsert(store, id, body, undo),
        (&Method::DELETE, Some(id)) => write.delete(store, id, undo),
        _ => Err(ODataError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            error::QUERY_NOT_SUPPORTED,
            format!("The HTTP method '{method}' is not allowed on '{rest}'."),
        )),
    }
}

/// A GET against `store` (the caller holds a lock on it).
fn get(
    state: &AppState,
    store: &Store,
    rest: &str,
    query_string: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ODataError> {
    let target = target(rest).ok_or_else(|| error::no_resource(rest))?;
    let options = query::parse_raw_with(query_string, EXTRA_OPTIONS)?;
    let root = service_root(state, headers);
    let prefer = Prefer::parse(headers);
    match target {
        Target::Metadata => {
            let mut response = (StatusCode::OK, metadata::document(store)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            Ok(response)
        }
        Target::ServiceDocument => {
            let sets: Vec<serde_json::Value> = dataverse::ENTITY_SETS
                .iter()
                .filter(|(_, s)| store.table(s.name).is_some())
                .map(|(set, _)| serde_json::json!({"name": set, "kind": "EntitySet", "url": set}))
                .collect();
            let body =
                serde_json::json!({"@odata.context": format!("{root}$metadata"), "value": sets});
            Ok(json_response(body.to_string().into_bytes(), None))
        }
        Target::Collection(set) => {
            let read = read::Read {
                state,
                store,
                root: &root,
                set,
                prefer: &prefer,
            };
            let (body, applied) = read.collection(&options)?;
            Ok(json_response(body, applied))
        }
        Target::Single(set, id) => {
            let read = read::Read {
                state,
                store,
                root: &root,
                set,
                prefer: &prefer,
            };
            let body = read.single(id, &options)?;
            Ok(json_response(body, prefer.applied(false, false)))
        }
    }
}
