//! Refused writes in BC's error shape, `{"error":{"code":"…","message":"…"}}`, with the codes and
//! wording BC uses ("Troubleshooting REST API/OData calls", error codes): a client that classifies
//! by code (`Internal_EntityWithSameKeyExists` means "already created") meets them here first.

use axum::http::StatusCode;

use super::api::unknown_entity;
use super::key;
use crate::model::{Table, Value, WriteError};
use crate::odata::ODataError;

/// `field='value'` pairs, as BC lists a record's identification fields.
fn identification(names: &[&str], values: &[Value]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(name, value)| format!("{name}='{}'", key::display(std::slice::from_ref(value))))
        .collect::<Vec<_>>()
        .join(",")
}

/// `NavCSideDuplicateKeyException` in BC: 400, `Internal_EntityWithSameKeyExists`.
fn duplicate(table: &Table, fields: &str) -> ODataError {
    ODataError::new(
        StatusCode::BAD_REQUEST,
        "Internal_EntityWithSameKeyExists",
        format!(
            "The record in table {} already exists. Identification fields and values: {fields}",
            table.schema.name
        ),
    )
}

/// The response for `e`, a write refused on `table` (`key`: the addressed row, if any).
pub(super) fn render(e: WriteError, table: &Table, key: &[Value]) -> ODataError {
    let schema = table.schema;
    match e {
        WriteError::UnknownEntity => unknown_entity(schema.name),
        WriteError::NotFound => ODataError::not_found(format!(
            "The {} '{}' does not exist.",
            schema.name,
            key::display(key)
        )),
        WriteError::Exists(values) => duplicate(table, &identification(schema.key, &values)),
        WriteError::SystemIdExists { field, id } => duplicate(table, &format!("{field}='{id}'")),
        // NavNCLStringLengthExceededException.
        WriteError::TooLong {
            length, max, value, ..
        } => ODataError::new(
            StatusCode::BAD_REQUEST,
            "Application_StringExceededLength",
            format!(
                "The length of the string is {length}, but it must be less than or equal to {max} characters. Value: {value}"
            ),
        ),
        // OData's reader refuses the payload before BC's code sees it.
        WriteError::WrongType { edm, .. } => ODataError::bad_request(format!(
            "Cannot convert a primitive value to the expected type '{edm}'. See the inner exception for more details."
        )),
        WriteError::UnknownProperty(name) => ODataError::bad_request(format!(
            "The property '{name}' does not exist on type '{}'. Make sure to only use property names that are defined by the type.",
            schema.type_name()
        )),
        WriteError::Invalid(message) => ODataError::bad_request(message),
        WriteError::Stale => ODataError::new(
            StatusCode::PRECONDITION_FAILED,
            "Request_EntityChanged",
            "Another user has already changed the record.",
        ),
    }
}
