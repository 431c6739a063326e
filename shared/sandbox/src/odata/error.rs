//! OData error responses in BC's shape: `{"error":{"code":"…","message":"…"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ODataError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ODataError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// Malformed request syntax: bad expression, literal or option.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "BadRequest_NotFound", message)
    }

    pub fn property_not_found(property: &str, type_name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest_PropertyNotFound",
            format!("Could not find a property named '{property}' on type '{type_name}'."),
        )
    }
}

impl std::fmt::Display for ODataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ODataError {}

impl IntoResponse for ODataError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, axum::Json(body)).into_response()
    }
}
