//! Dataverse's error bodies: `{"error":{"code":"0x…","message":"…"}}` with the platform's hex
//! codes ("Web API error codes"), built as `ODataError`s so every route renders them one way.

use axum::http::StatusCode;

use crate::odata::ODataError;

/// `ExpiredVersionStamp`: a change-tracking token older than the retention period ("Use change
/// tracking to synchronize data with external systems").
pub const EXPIRED_VERSION_STAMP: &str = "0x80044352";
/// `DuplicateRecord` ("Perform conditional operations": a create with an existing id).
pub const DUPLICATE_RECORD: &str = "0x80040237";
/// `StringLengthTooLong`: a validation error, a text longer than its column's maximum length.
pub const STRING_TOO_LONG: &str = "0x80044331";
/// "Error identified in Payload provided by the user": the OData reader refused the body (an
/// unknown property, a value of the wrong type).
pub const PAYLOAD_ERROR: &str = "0x80048d19";
/// `ObjectDoesNotExist`.
pub const DOES_NOT_EXIST: &str = "0x80040217";
/// A query option the platform refuses (`$skip`; a change-tracking query with `$filter` …).
pub const QUERY_NOT_SUPPORTED: &str = "0x80060888";
/// An argument the platform cannot read (a damaged `$skiptoken` or `$deltatoken`).
pub const INVALID_ARGUMENT: &str = "0x80040203";
/// A stale `If-Match` ETag, or `If-None-Match: *` on an existing row ("Perform conditional
/// operations": 412 Precondition Failed).
pub const CONCURRENCY_VERSION_MISMATCH: &str = "0x80060882";
/// Service protection: requests per window, concurrent requests ("Service protection API limits").
pub const TOO_MANY_REQUESTS: &str = "0x80072322";
pub const TOO_MANY_CONCURRENT: &str = "0x80072326";

pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ODataError {
    ODataError::new(status, code, message)
}

pub fn bad_request(code: &'static str, message: impl Into<String>) -> ODataError {
    new(StatusCode::BAD_REQUEST, code, message)
}

/// `$skip` is refused: Dataverse pages only by the next link's paging cookie ("Page results").
pub fn skip_not_supported() -> ODataError {
    bad_request(
        QUERY_NOT_SUPPORTED,
        "The query parameter $skip is not supported. Use the @odata.nextLink of the previous page.",
    )
}

/// A query option that change tracking does not allow ("Use change tracking …": `$filter`,
/// `$orderby`, `$top` and `$expand` are not supported with `odata.track-changes`).
pub fn not_with_tracking(option: &str) -> ODataError {
    bad_request(
        QUERY_NOT_SUPPORTED,
        format!(
            "The query parameter {option} is not supported when change tracking is requested (Prefer: odata.track-changes)."
        ),
    )
}

pub fn expired_token() -> ODataError {
    bad_request(
        EXPIRED_VERSION_STAMP,
        "Version stamp associated with the client has expired. Please perform a full sync.",
    )
}

pub fn not_found(logical: &str, id: &str) -> ODataError {
    new(
        StatusCode::NOT_FOUND,
        DOES_NOT_EXIST,
        format!("{logical} With Id = {id} Does Not Exist"),
    )
}

pub fn no_resource(path: &str) -> ODataError {
    new(
        StatusCode::NOT_FOUND,
        "0x8006088a",
        format!("Resource not found for the segment '{path}'."),
    )
}

/// A text longer than the column allows, as Dataverse words the validation error.
pub fn too_long(logical: &str, field: &str, max: u32) -> ODataError {
    bad_request(
        STRING_TOO_LONG,
        format!(
            "A validation error occurred. The length of the '{field}' attribute of the '{logical}' entity exceeded the maximum allowed length of '{max}'."
        ),
    )
}

/// A body the OData reader refused: Dataverse wraps the reader's message (`inner`) in its own.
pub fn payload(set: &str, inner: &str) -> ODataError {
    bad_request(
        PAYLOAD_ERROR,
        format!(
            "Error identified in Payload provided by the user for Entity :'{set}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : Microsoft.OData.ODataException: {inner}"
        ),
    )
}
