//! The client credentials grant (service-to-service, the confidential client `ferry`).

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{CLIENT_ID, CLIENT_SECRET, Form, PUBLIC_CLIENT_ID, error, issue_tokens, missing};
use crate::auth::Principal;
use crate::state::AppState;

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

/// Authenticates the client (HTTP Basic or body, not both) and issues an app-only token.
pub(super) fn grant(state: &AppState, tenant: &str, headers: &HeaderMap, form: &Form) -> Response {
    let param = |name: &str| form.get(name);
    // Either HTTP Basic or body parameters authenticate the client (not both secrets at once).
    let (client_id, secret) = match basic_credentials(headers) {
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

    let principal = Principal {
        client_id: CLIENT_ID.into(),
        user: CLIENT_ID.into(),
    };
    issue_tokens(state, principal, scope, false)
}
