//! The API routes: `/v2.0/{tenant}/{environment}/api/Resco/RescoIntegrations/v2.0/…` (the Resco
//! extension) and `/v2.0/{tenant}/{environment}/api/v2.0/…` (BC's standard API). Both serve
//! companies and their entities through the same query engine; each sees only its own entities.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::model::{Api, EntitySchema, Row, Store, Table, Value};
use crate::odata::paging::{self, MAX_PAGE_SIZE, SkipToken};
use crate::odata::query::{self, RawOptions};
use crate::odata::serialize::{CollectionJson, RowJson};
use crate::odata::{ODataError, metadata};
use crate::state::AppState;

use super::target::{Target, parse_target};
use super::{batch, key, write};

pub const API_PATH: &str = "api/Resco/RescoIntegrations/v2.0";
pub const STANDARD_PATH: &str = "api/v2.0";

/// The path of `api`'s service root below `/v2.0/{tenant}/{environment}/`.
pub fn path_of(api: Api) -> &'static str {
    match api {
        Api::Resco => API_PATH,
        Api::Standard => STANDARD_PATH,
        Api::Dataverse => super::dataverse::PATH,
    }
}

const JSON_CONTENT_TYPE: &str = "application/json; odata.metadata=minimal; odata.streaming=true";

/// The absolute service root as the client addressed us (Host header), so links work through port
/// mappings; falls back to the bound address.
pub(super) fn service_root(state: &AppState, headers: &HeaderMap, api: Api) -> String {
    let origin = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| state.base_url.clone(), |h| format!("http://{h}"));
    format!(
        "{origin}/v2.0/{}/{}/{}",
        state.config.tenant,
        state.config.environment,
        path_of(api)
    )
}

/// `Prefer: odata.maxpagesize=N` → Some(N) when present.
pub(super) fn max_page_size(headers: &HeaderMap) -> Result<Option<usize>, ODataError> {
    for value in headers.get_all("prefer") {
        let Ok(value) = value.to_str() else { continue };
        for pref in value.split(',') {
            let Some(n) = pref.trim().strip_prefix("odata.maxpagesize=") else {
                continue;
            };
            let n: usize = n.trim().trim_matches('"').parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                ODataError::bad_request(format!("Invalid odata.maxpagesize preference '{n}': a positive integer is required."))
            })?;
            if n > MAX_PAGE_SIZE {
                return Err(ODataError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    format!(
                        "The requested page size {n} exceeds the maximum page size of {MAX_PAGE_SIZE} entities."
                    ),
                ));
            }
            return Ok(Some(n));
        }
    }
    Ok(None)
}

pub(super) fn json_response(body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    h.insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

fn to_body<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ODataError> {
    to_body_sized(value, 1024)
}

/// Serializes into a buffer sized up front (pages run to megabytes; regrowing copies them).
fn to_body_sized<T: serde::Serialize>(value: &T, capacity: usize) -> Result<Vec<u8>, ODataError> {
    let mut body = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut body, value)
        .map(|()| body)
        .map_err(|e| {
            ODataError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal_ServerError",
                format!("serialization failed: {e}"),
            )
        })
}

/// Options allowed when addressing one entity (no collection options).
fn single_options(options: &RawOptions) -> Result<(), ODataError> {
    match options
        .iter()
        .find(|(n, _)| n.starts_with('$') && n != "$select")
    {
        Some((n, _)) => Err(ODataError::bad_request(format!(
            "The query parameter '{n}' is not supported on a single entity."
        ))),
        None => Ok(()),
    }
}

/// A collection page: runs the query against `table` and renders the body (with next link).
pub(super) fn collection(
    table: &Table,
    schema: &'static EntitySchema,
    options: &RawOptions,
    page_size: usize,
    context: &str,
    link_base: &str,
) -> Result<Vec<u8>, ODataError> {
    let query = query::compile(options, schema)?;
    let page = paging::execute(table, &query, page_size);
    let remaining = query.top.map(|t| t.saturating_sub(page.rows.len()));
    let next_link = match page.rows.last() {
        Some(last) if page.more && remaining != Some(0) => {
            let token = SkipToken::encode(last, &query.order);
            Some(format!(
                "{link_base}?{}",
                query::next_query(options, remaining, &token)
            ))
        }
        _ => None,
    };
    let context = match &query.select {
        Some(fields) => {
            let names: Vec<&str> = fields.iter().map(|&i| schema.fields[i].name).collect();
            format!("{context}({})", names.join(","))
        }
        None => context.to_owned(),
    };
    let per_row = if query.select.is_some() { 128 } else { 512 };
    to_body_sized(
        &CollectionJson {
            context: &context,
            count: page.count,
            schema,
            rows: &page.rows,
            select: query.select.as_deref(),
            version_idx: table.version_idx,
            next_link: next_link.as_deref(),
        },
        1024 + page.rows.len() * per_row,
    )
}

pub(super) fn single(
    table: &Table,
    schema: &'static EntitySchema,
    row: &Row,
    options: &RawOptions,
    context: &str,
) -> Result<Vec<u8>, ODataError> {
    single_options(options)?;
    let select = query::compile_select(options, schema)?;
    let mut value = serde_json::to_value(RowJson {
        schema,
        row,
        select: select.as_deref(),
        version_idx: table.version_idx,
    })
    .map_err(|e| ODataError::bad_request(e.to_string()))?;
    if let Some(map) = value.as_object_mut() {
        // `@odata.context` leads, as in BC's responses.
        let mut with_context = serde_json::Map::new();
        with_context.insert("@odata.context".into(), context.into());
        with_context.append(map);
        value = serde_json::Value::Object(with_context);
    }
    to_body(&value)
}

fn service_document(root: &str, entities: &[&str]) -> Result<Vec<u8>, ODataError> {
    let mut sets =
        vec![serde_json::json!({"name": "companies", "kind": "EntitySet", "url": "companies"})];
    sets.extend(
        entities
            .iter()
            .map(|e| serde_json::json!({"name": e, "kind": "EntitySet", "url": e})),
    );
    to_body(&serde_json::json!({"@odata.context": format!("{root}/$metadata"), "value": sets}))
}

pub async fn root(
    state: State<Arc<AppState>>,
    Path((tenant, environment)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let request = Request {
        api: Api::Resco,
        tenant,
        environment,
        rest: String::new(),
        method,
        headers,
        uri,
        body,
    };
    dispatch(state, request).await
}

pub async fn data(
    state: State<Arc<AppState>>,
    Path((tenant, environment, rest)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let request = Request {
        api: Api::Resco,
        tenant,
        environment,
        rest,
        method,
        headers,
        uri,
        body,
    };
    dispatch(state, request).await
}

pub async fn standard_root(
    state: State<Arc<AppState>>,
    Path((tenant, environment)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let request = Request {
        api: Api::Standard,
        tenant,
        environment,
        rest: String::new(),
        method,
        headers,
        uri,
        body,
    };
    dispatch(state, request).await
}

pub async fn standard_data(
    state: State<Arc<AppState>>,
    Path((tenant, environment, rest)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let request = Request {
        api: Api::Standard,
        tenant,
        environment,
        rest,
        method,
        headers,
        uri,
        body,
    };
    dispatch(state, request).await
}

/// One request to an API route, whatever its method.
#[derive(Debug)]
struct Request {
    api: Api,
    tenant: String,
    environment: String,
    rest: String,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
}

/// Reads under the read lock, writes (and `$batch`) under the write lock.
async fn dispatch(State(state): State<Arc<AppState>>, r: Request) -> Response {
    if let Err(e) = check_scope(&state, &r.tenant, &r.environment) {
        return e.into_response();
    }
    if r.method == Method::POST && r.rest.trim_end_matches('/') == "$batch" {
        return batch::serve(&state, r.api, &r.headers, &r.body).await;
    }
    dispatch_one(&state, &r).unwrap_or_else(IntoResponse::into_response)
}

/// A single read or write (the lock guards never cross an await).
fn dispatch_one(state: &AppState, r: &Request) -> Result<Response, ODataError> {
    match r.method {
        Method::GET => {
            let store = state.read();
            serve_get(state, &store, r.api, &r.rest, r.uri.query(), &r.headers)
        }
        Method::POST | Method::PATCH | Method::DELETE => {
            let mut store = state.write();
            write::serve(
                state, &mut store, r.api, &r.method, &r.rest, &r.headers, &r.body,
            )
        }
        _ => Err(ODataError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest_MethodNotAllowed",
            format!("The HTTP method '{}' is not allowed here.", r.method),
        )),
    }
}

fn check_scope(state: &AppState, tenant: &str, environment: &str) -> Result<(), ODataError> {
    if tenant != state.config.tenant {
        return Err(ODataError::not_found(format!(
            "Tenant '{tenant}' was not found."
        )));
    }
    if environment != state.config.environment {
        return Err(ODataError::not_found(format!(
            "Environment '{environment}' was not found for tenant '{tenant}'."
        )));
    }
    Ok(())
}

pub(super) fn no_resource(rest: &str) -> ODataError {
    ODataError::not_found(format!(
        "No HTTP resource was found that matches the request URI '{rest}'."
    ))
}

/// The company's key, or 404 when `id` is not the company's id.
pub(super) fn company_key(state: &AppState, id: &str) -> Result<Vec<Value>, ODataError> {
    let not_found = || ODataError::not_found(format!("The company '{id}' does not exist."));
    let guid: uuid::Uuid = id.parse().map_err(|_| not_found())?;
    let key = vec![Value::Guid(guid)];
    state
        .companies
        .rows
        .contains_key(&key)
        .then_some(key)
        .ok_or_else(not_found)
}

/// A GET below the service root, against `store` (the caller holds the lock, so a `$batch` can
/// read inside its write lock).
pub(super) fn serve_get(
    state: &AppState,
    store: &Store,
    api: Api,
    rest: &str,
    query_string: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ODataError> {
    let target = parse_target(rest).ok_or_else(|| no_resource(rest))?;
    let options = query::parse_raw(query_string)?;
    let prefer = max_page_size(headers)?;
    let page_size = prefer.unwrap_or(MAX_PAGE_SIZE);
    let root = service_root(state, headers, api);
    let company_key = |id: &str| company_key(state, id);

    let body = match target {
        Target::Metadata => {
            let mut response = (StatusCode::OK, metadata::for_api(store, api)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            response
                .headers_mut()
                .insert("odata-version", HeaderValue::from_static("4.0"));
            return Ok(response);
        }
        Target::ServiceDocument => {
            let names: Vec<&str> = store
                .tables
                .iter()
                .filter(|t| t.schema.api == api)
                .map(|t| t.schema.name)
                .collect();
            service_document(&root, &names)?
        }
        Target::Companies => collection(
            &state.companies,
            state.companies.schema,
            &options,
            page_size,
            &format!("{root}/$metadata#companies"),
            &format!("{root}/companies"),
        )?,
        Target::Company(id) => {
            let key = company_key(&id)?;
            let row = state
                .companies
                .rows
                .get(&key)
                .ok_or_else(|| ODataError::not_found("company not found"))?;
            single(
                &state.companies,
                state.companies.schema,
                row,
                &options,
                &format!("{root}/$metadata#companies/$entity"),
            )?
        }
        Target::Collection { company, entity } => {
            company_key(&company)?;
            let context = format!("{root}/$metadata#companies({company})/{entity}");
            let link_base = format!("{root}/companies({company})/{entity}");
            let table = store
                .table(&entity)
                .filter(|t| t.schema.api == api)
                .ok_or_else(|| unknown_entity(&entity))?;
            // The guard is held while rows are chosen and serialized; rendering a 20,000-row page
            // takes milliseconds, and rows are shared Arcs so nothing large is copied.
            collection(
                table,
                table.schema,
                &options,
                page_size,
                &context,
                &link_base,
            )?
        }
        Target::Single {
            company,
            entity,
            key,
        } => {
            company_key(&company)?;
            let table = store
                .table(&entity)
                .filter(|t| t.schema.api == api)
                .ok_or_else(|| unknown_entity(&entity))?;
            let key = key::bind(table.schema, &key)?;
            let row = table.rows.get(&key).ok_or_else(|| {
                ODataError::not_found(format!(
                    "The {entity} '{}' does not exist.",
                    key::display(&key)
                ))
            })?;
            single(
                table,
                table.schema,
                row,
                &options,
                &format!("{root}/$metadata#companies({company})/{entity}/$entity"),
            )?
        }
    };
    let mut response = json_response(body);
    if let Some(n) = prefer
        && let Ok(v) = HeaderValue::from_str(&format!("odata.maxpagesize={n}"))
    {
        response.headers_mut().insert("preference-applied", v);
    }
    Ok(response)
}

pub(super) fn unknown_entity(entity: &str) -> ODataError {
    ODataError::not_found(format!("The entity set '{entity}' was not found."))
}
