//! The ODataV4 route: `/v2.0/{tenant}/{environment}/ODataV4/Company('{name}')/{page}`, serving
//! published pages (views over the same rows as the Resco pages) with BC's page field names,
//! namespace `NAV`, and the same query options and paging. Read-only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::api::{collection, json_response, max_page_size, no_resource, single, unknown_entity};
use super::key;
use super::target::{KeyLiteral, key_literal, split_call};
use crate::model::odatav4::{self, COMPANY};
use crate::model::{EntitySchema, Store, Value};
use crate::odata::paging::MAX_PAGE_SIZE;
use crate::odata::{ODataError, metadata, query};
use crate::state::AppState;

pub const PATH: &str = "ODataV4";

pub async fn root(
    state: State<Arc<AppState>>,
    Path((tenant, environment)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    handle(&state, &tenant, &environment, "", &method, &headers, &uri)
}

pub async fn data(
    state: State<Arc<AppState>>,
    Path((tenant, environment, rest)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    handle(
        &state,
        &tenant,
        &environment,
        &rest,
        &method,
        &headers,
        &uri,
    )
}

fn handle(
    state: &AppState,
    tenant: &str,
    environment: &str,
    rest: &str,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
) -> Response {
    if tenant != state.config.tenant || environment != state.config.environment {
        return ODataError::not_found(format!(
            "Tenant '{tenant}' or environment '{environment}' was not found."
        ))
        .into_response();
    }
    if method != Method::GET {
        return ODataError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest_MethodNotAllowed",
            "The sandbox's ODataV4 pages are read-only; write through the API routes.",
        )
        .into_response();
    }
    let store = state.read();
    serve(state, &store, rest, uri.query(), headers).unwrap_or_else(IntoResponse::into_response)
}

fn root_url(state: &AppState, headers: &HeaderMap) -> String {
    let origin = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| state.base_url.clone(), |h| format!("http://{h}"));
    format!(
        "{origin}/v2.0/{}/{}/{PATH}",
        state.config.tenant, state.config.environment
    )
}

fn serve(
    state: &AppState,
    store: &Store,
    rest: &str,
    query_string: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ODataError> {
    let options = query::parse_raw(query_string)?;
    let prefer = max_page_size(headers)?;
    let page_size = prefer.unwrap_or(MAX_PAGE_SIZE);
    let root = root_url(state, headers);
    let rest = rest.trim_end_matches('/');
    if rest == "$metadata" {
        let pages: Vec<&EntitySchema> = odatav4::PAGES
            .iter()
            .filter(|p| store.table(p.base).is_some())
            .map(|p| p.schema)
            .collect();
        let mut response = (
            StatusCode::OK,
            metadata::document(metadata::ODATA_V4, &COMPANY, &pages),
        )
            .into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        return Ok(response);
    }
    if rest.is_empty() {
        let mut sets =
            vec![serde_json::json!({"name": "Company", "kind": "EntitySet", "url": "Company"})];
        sets.extend(odatav4::PAGES.iter().map(|p| {
            serde_json::json!({"name": p.schema.name, "kind": "EntitySet", "url": p.schema.name})
        }));
        let body = serde_json::to_vec(&serde_json::json!({
            "@odata.context": format!("{root}/$metadata"),
            "value": sets,
        }))
        .unwrap_or_default();
        return Ok(json_response(body));
    }
    let mut segments = rest.split('/');
    let (name, company_arg) = segments
        .next()
        .and_then(split_call)
        .ok_or_else(|| no_resource(rest))?;
    if name != "Company" {
        return Err(no_resource(rest));
    }
    let companies = &state.companies;
    let Some(company_arg) = company_arg else {
        if segments.next().is_some() {
            return Err(no_resource(rest));
        }
        let context = format!("{root}/$metadata#Company");
        let body = collection(
            companies,
            &COMPANY,
            &options,
            page_size,
            &context,
            &format!("{root}/Company"),
        )?;
        return Ok(json_response(body));
    };
    let wanted = match key_literal(company_arg).as_deref() {
        Some([(_, KeyLiteral::Text(name))]) => name.clone(),
        _ => return Err(no_resource(rest)),
    };
    let company_row = companies
        .rows
        .values()
        .find(|r| {
            COMPANY
                .index_of("Name")
                .is_some_and(|i| r[i] == Value::str(wanted.as_str()))
        })
        .ok_or_else(|| {
            ODataError::not_found(format!(
                "Cannot process the request because the company '{wanted}' does not exist."
            ))
        })?;
    let company_url = format!(
        "Company('{}')",
        utf8_percent_encode(&wanted.replace('\'', "''"), NON_ALPHANUMERIC)
    );
    let Some(page_segment) = segments.next() else {
        let context = format!("{root}/$metadata#Company/$entity");
        return Ok(json_response(single(
            companies,
            &COMPANY,
            company_row,
            &options,
            &context,
        )?));
    };
    if segments.next().is_some() {
        return Err(no_resource(rest));
    }
    let (page_name, page_key) = split_call(page_segment).ok_or_else(|| no_resource(rest))?;
    let page = odatav4::page(page_name).ok_or_else(|| unknown_entity(page_name))?;
    let table = store
        .table(page.base)
        .ok_or_else(|| unknown_entity(page_name))?;
    let body = match page_key {
        None => {
            let context = format!("{root}/$metadata#{}", page.schema.name);
            let link_base = format!("{root}/{company_url}/{}", page.schema.name);
            collection(
                table,
                page.schema,
                &options,
                page_size,
                &context,
                &link_base,
            )?
        }
        Some(k) => {
            let predicate = key_literal(k).ok_or_else(|| no_resource(rest))?;
            let key = key::bind(page.schema, &predicate)?;
            let row = table.rows.get(&key).ok_or_else(|| {
                ODataError::not_found(format!(
                    "The {} '{}' does not exist.",
                    page.schema.name,
                    key::display(&key)
                ))
            })?;
            let context = format!("{root}/$metadata#{}/$entity", page.schema.name);
            single(table, page.schema, row, &options, &context)?
        }
    };
    Ok(json_response(body))
}
