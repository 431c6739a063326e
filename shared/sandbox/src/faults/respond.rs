//! The responses a fault produces, in the shapes BC and its front door send.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::odata::ODataError;

/// A status fault (or a limit refusal) with BC's error body and an optional `Retry-After`.
pub fn status(code: u16, retry_after: Option<u64>, message: Option<String>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let (code, default_message) = match status.as_u16() {
        408 => ("RequestTimeout", "The operation has timed out."),
        429 => (
            "Application_TooManyRequests",
            "Too many requests reached. Please try again later.",
        ),
        502 => (
            "BadGateway",
            "The server received an invalid response upstream.",
        ),
        503 => (
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please try again later.",
        ),
        504 => ("GatewayTimeout", "The operation did not complete in time."),
        _ => ("Internal_ServerError", "An unexpected error occurred."),
    };
    let mut response = ODataError::new(
        status,
        code,
        message.unwrap_or_else(|| default_message.to_owned()),
    )
    .into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The first half of the real body, sent complete: valid HTTP, invalid JSON.
pub async fn malformed(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let cut = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(cut))
}

/// Streams the first half of the real body (or nothing, for a reset), then fails the body so the
/// server drops the connection mid-response.
pub async fn cut_off(response: Response, keep_half: bool) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let head: Bytes = if keep_half {
        bytes.slice(..bytes.len() / 2)
    } else {
        Bytes::new()
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    use futures::StreamExt;
    let sent = futures::stream::iter([Ok::<Bytes, std::io::Error>(head)]);
    let truncated = keep_half;
    let broken = futures::stream::once(async move {
        if truncated {
            // Let the head and the first half reach the client before the drop, as a connection
            // lost mid-transfer would.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: connection reset",
        ))
    });
    Response::from_parts(parts, Body::from_stream(sent.chain(broken)))
}

/// No answer at all: a body that fails on its first poll, so the server drops the connection
/// before the status line leaves its write buffer and the client sees the connection close with
/// no response (as when a gateway loses a reply in flight).
pub fn lost() -> Response {
    let broken = futures::stream::once(async {
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: reply lost",
        ))
    });
    Body::from_stream(broken).into_response()
}
