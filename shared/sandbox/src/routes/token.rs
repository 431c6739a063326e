//! `POST /{tenant}/oauth2/v2.0/token`: Microsoft identity's token endpoint, client credentials only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use url::form_urlencoded;

use crate::state::AppState;

pub const CLIENT_ID: &str = "ferry";
pub const CLIENT_SECRET: &str = "ferry-secret";
/// The public (device code) client: it has no secret, so it cannot use client credentials.
pub const PUBLIC_CLIENT_ID: &str = "ferry-cli";

/// An error in Microsoft's shape (RFC 6749 §5.2 plus AADSTS codes and trace ids).
fn error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let trace_id = uuid::Uuid::new_v4();
    let correlation_id = uuid::Uuid::new_v4();
    let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {description} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    });
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

fn missing(param: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{param}'."),
    )
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let parsed = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let unescape = |p: &str| {
                percent_encoding::percent_decode_str(&p.replace('+', " "))
                    .decode_utf8()
                    .ok()
                    .map(|s| s.into_owned())
            };
            Some((unescape(id)?, unescape(secret)?))
        });
    Some(parsed.ok_or(()))
}

pub async fn token(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if tenant != state.config.tenant {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must be application/x-www-form-urlencoded and contain the following parameter: 'grant_type'.",
        );
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let param = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    let Some(grant_type) = param("grant_type") else {
        return missing("grant_type");
    };
    if grant_type != "client_credentials" {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{grant_type}'."),
        );
    }

    // Either HTTP Basic or body parameters authenticate the client (not both secrets at once).
    let (client_id, secret) = match basic_credentials(&headers) {
        Some(Err(())) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided.",
            );
        }
        Some(Ok((id, secret))) => {
            if param("client_secret").is_some() || param("client_id").is_some_and(|b| b != id) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    90014,
                    "The client must authenticate with only one method (HTTP Basic or request body).",
                );
            }
            (id, Some(secret))
        }
        None => {
            let Some(id) = param("client_id") else {
                return missing("client_id");
            };
            (id.to_owned(), param("client_secret").map(str::to_owned))
        }
    };

    match (client_id.as_str(), secret.as_deref()) {
        (CLIENT_ID, Some(CLIENT_SECRET)) => {}
        (CLIENT_ID | PUBLIC_CLIENT_ID, None) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
        (CLIENT_ID | PUBLIC_CLIENT_ID, Some(_)) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            );
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                700016,
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
                ),
            );
        }
    }

    let Some(scope) = param("scope") else {
        return missing("scope");
    };
    if !scope.split_whitespace().all(|s| s.ends_with("/.default")) || scope.trim().is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }

    let access_token = state.tokens.issue();
    let body = json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": access_token,
    });
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}
