//! POST, PATCH and DELETE on the API routes. PATCH and DELETE need `If-Match` (an ETag or `*`):
//! BC refuses them without one and answers 412 when the row changed since the client read it.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::api::{company_key, json_response, no_resource, service_root, single, unknown_entity};
use super::target::{Target, parse_target};
use super::{key, write_error};
use crate::model::{Api, IfMatch, Store, UndoLog, Value};
use crate::odata::ODataError;
use crate::odata::serialize::etag;
use crate::state::AppState;

/// One write outside a batch.
pub(super) fn serve(
    state: &AppState,
    store: &mut Store,
    api: Api,
    method: &Method,
    rest: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ODataError> {
    execute(
        state,
        store,
        api,
        method,
        rest,
        headers,
        body,
        &mut UndoLog::default(),
    )
}

fn if_match(headers: &HeaderMap) -> Result<IfMatch, ODataError> {
    let value = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ODataError::bad_request(
                "Could not validate the client concurrency token required by the service. Please provide a valid token in the client request (If-Match: <@odata.etag> or *).",
            )
        })?;
    Ok(if value == "*" {
        IfMatch::Any
    } else {
        IfMatch::Tag(value.to_owned())
    })
}

fn json_object(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ODataError> {
    match serde_json::from_slice(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(ODataError::bad_request(
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ODataError::bad_request(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// Runs one write, recording what it changed in `undo` (a `$batch` shares one log).
#[allow(clippy::too_many_arguments)]
pub(super) fn execute(
    state: &AppState,
    store: &mut Store,
    api: Api,
    method: &Method,
    rest: &str,
    headers: &HeaderMap,
    body: &[u8],
    undo: &mut UndoLog,
) -> Result<Response, ODataError> {
    let target = parse_target(rest).ok_or_else(|| no_resource(rest))?;
    let root = service_root(state, headers, api);
    let (company, entity, key_predicate) = match (method, target) {
        (&Method::POST, Target::Collection { company, entity }) => (company, entity, None),
        (
            &Method::PATCH | &Method::DELETE,
            Target::Single {
                company,
                entity,
                key,
            },
        ) => (company, entity, Some(key)),
        _ => {
            return Err(ODataError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "BadRequest_MethodNotAllowed",
                format!("'{method}' is not allowed on '{rest}'."),
            ));
        }
    };
    company_key(state, &company)?;
    let t = store
        .table_index(&entity)
        .filter(|&t| store.tables[t].schema.api == api)
        .ok_or_else(|| unknown_entity(&entity))?;
    let key = match &key_predicate {
        Some(k) => key::bind(store.tables[t].schema, k)?,
        None => Vec::new(),
    };
    let result = match *method {
        Method::POST => store
            .insert_json(&entity, &json_object(body)?, undo)
            .map(Some),
        Method::PATCH => {
            let expected = if_match(headers)?;
            store
                .patch_json(&entity, &key, &expected, &json_object(body)?, undo)
                .map(Some)
        }
        _ => {
            let expected = if_match(headers)?;
            store
                .delete_json(&entity, &key, &expected, undo)
                .map(|()| None)
        }
    };
    let table = &store.tables[t];
    let row = match result {
        Ok(Some(row)) => row,
        Ok(None) => return Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) => return Err(write_error::render(e, table, &key)),
    };
    let context = format!("{root}/$metadata#companies({company})/{entity}/$entity");
    let body = single(table, table.schema, &row, &Vec::new(), &context)?;
    let mut response = json_response(body);
    if let Some(v) = table.version_of(&row)
        && let Ok(value) = HeaderValue::from_str(&etag(v))
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    if *method == Method::POST {
        *response.status_mut() = StatusCode::CREATED;
        let keys: Vec<String> = table
            .key_idx
            .iter()
            .map(|&i| match &row[i] {
                Value::Str(s) => format!("'{}'", s.replace('\'', "''")),
                other => serde_json::Value::from(other)
                    .to_string()
                    .trim_matches('"')
                    .to_owned(),
            })
            .collect();
        let location = format!("{root}/companies({company})/{entity}({})", keys.join(","));
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
    }
    Ok(response)
}
