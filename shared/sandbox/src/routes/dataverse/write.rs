//! Writes ("Perform conditional operations", "Create a table row using the Web API", "Update and
//! delete table rows using the Web API"): POST creates (a client-chosen id allowed; an existing id
//! answers 412 DuplicateRecord), PATCH is an upsert (`If-Match: *` forbids the create → 404,
//! `If-None-Match: *` forbids the update → 412, a stale ETag in `If-Match` → 412), DELETE answers
//! 404 when the row is absent. Lookups are written through `{navigation}@odata.bind`; the
//! `_x_value` form is read-only.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json};

use super::error::{self, CONCURRENCY_VERSION_MISMATCH, DUPLICATE_RECORD, INVALID_ARGUMENT};
use super::json::{self, Writer};
use super::prefer::Prefer;
use crate::model::dataverse::{self, USD, columns};
use crate::model::{Api, Row, Store, UndoLog, Value, WriteError};
use crate::odata::ODataError;

/// One write against `set` (and `id` for PATCH/DELETE).
#[derive(Debug)]
pub struct Write<'a> {
    pub root: &'a str,
    pub set: &'a str,
    pub headers: &'a HeaderMap,
    pub prefer: &'a Prefer,
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn invalid(message: impl Into<String>) -> ODataError {
    error::bad_request(INVALID_ARGUMENT, message)
}

/// The raw text of a top-level number property (`"revenue": 1234567890123456.78`), so money never
/// passes through f64. A plain scan: Dataverse bodies are flat objects.
fn raw_number<'b>(body: &'b str, name: &str) -> Option<&'b str> {
    let at = body.find(&format!("\"{name}\""))? + name.len() + 2;
    let rest = body[at..].trim_start().strip_prefix(':')?.trim_start();
    let len = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')))
        .unwrap_or(rest.len());
    (len > 0).then(|| &rest[..len])
}

/// The body as the store's writer takes it: money as exact text, `@odata.bind` lookups as their
/// `_x_value` column, read-only lookup columns refused.
fn body(store: &Store, raw: &[u8]) -> Result<Map<String, Json>, ODataError> {
    let text = std::str::from_utf8(raw).map_err(|_| invalid("The body is not UTF-8."))?;
    let mut map = match serde_json::from_str(text) {
        Ok(Json::Object(map)) => map,
        Ok(_) => return Err(invalid("The request body must be a JSON object.")),
        Err(e) => return Err(invalid(format!("The request body is not valid JSON: {e}"))),
    };
    for name in columns::MONEY {
        if let (Some(Json::Number(_)), Some(exact)) = (map.get(*name), raw_number(text, name)) {
            map.insert((*name).to_owned(), Json::String(exact.to_owned()));
        }
    }
    if let Some(name) = map
        .keys()
        .find(|k| k.starts_with('_') && k.ends_with("_value"))
    {
        return Err(invalid(format!(
            "The property '{name}' is read-only; write the lookup as '{{navigation property}}@odata.bind'."
        )));
    }
    let binds: Vec<String> = map
        .keys()
        .filter(|k| k.ends_with("@odata.bind"))
        .cloned()
        .collect();
    for key in binds {
        let value = map.remove(&key).unwrap_or(Json::Null);
        let navigation = key.trim_end_matches("@odata.bind");
        let (column, lookup) = columns::lookup_by_navigation(navigation)
            .ok_or_else(|| invalid(format!("'{navigation}' is not a navigation property.")))?;
        let target = value.as_str().unwrap_or("");
        let target_set = dataverse::entity_set_of(lookup.target).unwrap_or(lookup.target);
        let id = target
            .rsplit_once(&format!("{target_set}("))
            .and_then(|(_, rest)| rest.strip_suffix(')'))
            .and_then(|id| id.parse::<uuid::Uuid>().ok())
            .ok_or_else(|| {
                invalid(format!(
                    "'{target}' does not address a row of {target_set}."
                ))
            })?;
        let exists = store
            .table(lookup.target)
            .is_some_and(|t| t.rows.contains_key(&vec![Value::Guid(id)]));
        if !exists {
            return Err(error::not_found(lookup.target, &id.to_string()));
        }
        map.insert(column.to_owned(), Json::String(id.to_string()));
    }
    Ok(map)
}

/// `e` in Dataverse's shape: the hex code each failure has there, and its wording.
fn write_error(e: WriteError, set: &str, logical: &str, id: &str) -> ODataError {
    match e {
        WriteError::NotFound => error::not_found(logical, id),
        WriteError::Exists(_) | WriteError::SystemIdExists { .. } => duplicate(),
        WriteError::Stale => stale(),
        WriteError::TooLong { field, max, .. } => error::too_long(logical, field, max),
        WriteError::WrongType { edm, literal, .. } => error::payload(
            set,
            &format!("Cannot convert the literal '{literal}' to the expected type '{edm}'."),
        ),
        WriteError::UnknownProperty(p) => error::payload(
            set,
            &format!(
                "The property '{p}' does not exist on type 'Microsoft.Dynamics.CRM.{logical}'. Make sure to only use property names that are defined by the type or mark the type as open type."
            ),
        ),
        WriteError::Invalid(m) => invalid(m),
        WriteError::UnknownEntity => error::no_resource(logical),
    }
}

/// `DuplicateRecord` ("Perform conditional operations": a create whose id exists, or an upsert
/// with `If-None-Match: *` that found the row).
fn duplicate() -> ODataError {
    error::new(
        StatusCode::PRECONDITION_FAILED,
        DUPLICATE_RECORD,
        "A record with matching key values already exists.",
    )
}

fn stale() -> ODataError {
    error::new(
        StatusCode::PRECONDITION_FAILED,
        CONCURRENCY_VERSION_MISMATCH,
        "The version of the existing record doesn't match the RowVersion property provided.",
    )
}

impl Write<'_> {
    fn logical(&self, store: &Store) -> Result<&'static str, ODataError> {
        dataverse::logical_of(self.set)
            .filter(|l| {
                store
                    .table(l)
                    .is_some_and(|t| t.schema.api == Api::Dataverse)
            })
            .ok_or_else(|| error::no_resource(self.set))
    }

    /// 204 with `OData-EntityId`, or the row with `Prefer: return=representation`.
    fn done(&self, store: &Store, logical: &str, row: &Row, created: bool) -> Response {
        let table = store.table(logical);
        let id = row.first().map(json::value_json).unwrap_or_default();
        let entity_id = format!("{}{}({})", self.root, self.set, id.trim_matches('"'));
        let mut response = match (self.prefer.return_representation, table) {
            (true, Some(table)) => {
                let columns = json::columns(table.schema, None);
                let writer = Writer {
                    store,
                    schema: table.schema,
                    columns: &columns,
                    prefer: self.prefer,
                };
                let context = format!("{}$metadata#{}/$entity", self.root, self.set);
                let extra = format!("\"@odata.context\":{},", Json::from(context));
                let mut out = String::new();
                writer.row(&mut out, row, table.version_of(row), &extra);
                let status = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                let mut r = (status, out).into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; odata.metadata=minimal"),
                );
                r.headers_mut().insert(
                    "preference-applied",
                    HeaderValue::from_static("return=representation"),
                );
                r
            }
            _ => StatusCode::NO_CONTENT.into_response(),
        };
        if let Ok(v) = HeaderValue::from_str(&entity_id) {
            response.headers_mut().insert("odata-entityid", v);
        }
        response
    }

    /// POST `accounts`.
    pub fn create(
        &self,
        store: &mut Store,
        raw: &[u8],
        undo: &mut UndoLog,
    ) -> Result<Response, ODataError> {
        let logical = self.logical(store)?;
        let mut map = body(store, raw)?;
        self.with_currency(store, logical, &mut map);
        let id = map
            .get(store.table(logical).map_or("", |t| t.schema.key[0]))
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_owned();
        let row = store
            .insert_json(logical, &map, undo)
            .map_err(|e| write_error(e, self.set, logical, &id))?;
        Ok(self.done(store, logical, &row, true))
    }

    /// Money columns carry the organization's currency.
    fn with_currency(&self, store: &Store, logical: &str, map: &mut Map<String, Json>) {
        let has_currency = store
            .table(logical)
            .is_some_and(|t| t.schema.index_of(columns::CURRENCY).is_some());
        if has_currency && columns::MONEY.iter().any(|m| map.contains_key(*m)) {
            map.insert(columns::CURRENCY.into(), Json::String(USD.to_string()));
        }
    }

    /// PATCH `accounts(<id>)`: an upsert, narrowed by `If-Match` / `If-None-Match`.
    pub fn upsert(
        &self,
        store: &mut Store,
        id: &str,
        raw: &[u8],
        undo: &mut UndoLog,
    ) -> Result<Response, ODataError> {
        let logical = self.logical(store)?;
        let guid: uuid::Uuid = id.parse().map_err(|_| error::not_found(logical, id))?;
        let key = vec![Value::Guid(guid)];
        let mut map = body(store, raw)?;
        self.with_currency(store, logical, &mut map);
        let if_match = header(self.headers, header::IF_MATCH);
        let if_none_match = header(self.headers, header::IF_NONE_MATCH);
        let (current, key_name) = {
            let table = store
                .table(logical)
                .ok_or_else(|| error::no_resource(self.set))?;
            (
                table.rows.get(&key).map(|r| table.version_of(r)),
                table.schema.key[0],
            )
        };
        match current {
            None if if_match.is_some() => Err(error::not_found(logical, id)),
            None => {
                map.insert(key_name.to_owned(), Json::String(guid.to_string()));
                let row = store
                    .insert_json(logical, &map, undo)
                    .map_err(|e| write_error(e, self.set, logical, id))?;
                Ok(self.done(store, logical, &row, true))
            }
            Some(_) if if_none_match == Some("*") => Err(duplicate()),
            Some(version) => {
                if let Some(tag) = if_match
                    && tag != "*"
                    && Some(tag.to_owned()) != version.map(json::etag)
                {
                    return Err(stale());
                }
                let row = store
                    .patch_json(logical, &key, &crate::model::IfMatch::Any, &map, undo)
                    .map_err(|e| write_error(e, self.set, logical, id))?;
                Ok(self.done(store, logical, &row, false))
            }
        }
    }

    /// DELETE `accounts(<id>)`.
    pub fn delete(
        &self,
        store: &mut Store,
        id: &str,
        undo: &mut UndoLog,
    ) -> Result<Response, ODataError> {
        let logical = self.logical(store)?;
        let guid: uuid::Uuid = id.parse().map_err(|_| error::not_found(logical, id))?;
        let key = vec![Value::Guid(guid)];
        if let Some(tag) = header(self.headers, header::IF_MATCH).filter(|t| *t != "*") {
            let table = store
                .table(logical)
                .ok_or_else(|| error::no_resource(self.set))?;
            let version = table.rows.get(&key).and_then(|r| table.version_of(r));
            if version.is_some() && version.map(json::etag).as_deref() != Some(tag) {
                return Err(stale());
            }
        }
        store
            .delete_json(logical, &key, &crate::model::IfMatch::Any, undo)
            .map_err(|e| write_error(e, self.set, logical, id))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_numbers_keep_their_digits() {
        let body = r#"{"name":"x", "revenue" : 1234567890123456.78, "n": 1}"#;
        assert_eq!(raw_number(body, "revenue"), Some("1234567890123456.78"));
        assert_eq!(raw_number(body, "missing"), None);
    }
}
