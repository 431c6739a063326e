//! Microsoft identity platform endpoints under `{authority}/{tenant}/oauth2/v2.0/`: the token
//! endpoint (client credentials, device code, refresh token grants), the device authorization
//! endpoint, and the sign-in page a person uses to approve a device code.

mod client_credentials;
mod device_code;
pub mod devicelogin;
mod refresh;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::form_urlencoded;

use crate::auth::{Audience, Principal, RefreshGrant};
use crate::state::AppState;

pub use device_code::devicecode;

/// The confidential client (client credentials).
pub const CLIENT_ID: &str = "ferry";
pub const CLIENT_SECRET: &str = "ferry-secret";
/// The public (device code) client: it has no secret, so it cannot use client credentials.
pub const PUBLIC_CLIENT_ID: &str = "ferry-cli";
/// The user a device-code sign-in acts as.
pub const USER: &str = "admin@sandbox.onmicrosoft.com";

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// An error in Microsoft's shape (RFC 6749 §5.2 plus AADSTS codes and trace ids).
pub(crate) fn error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
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

pub(crate) fn missing(param: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{param}'."),
    )
}

/// A parsed `application/x-www-form-urlencoded` request body.
#[derive(Debug)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Checks the tenant and the content type (Microsoft rejects JSON bodies) and parses the form.
pub(crate) fn parse_request(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Form, Box<Response>> {
    if tenant != state.config.tenant {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        )));
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
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must be application/x-www-form-urlencoded and contain the following parameter: 'grant_type'.",
        )));
    }
    Ok(Form(form_urlencoded::parse(body).into_owned().collect()))
}

/// Checks that `client_id` names the public client, in Microsoft's words when it does not.
pub(crate) fn require_public_client(
    client_id: Option<&str>,
    tenant: &str,
) -> Result<(), Box<Response>> {
    match client_id {
        None => Err(Box::new(missing("client_id"))),
        Some(PUBLIC_CLIENT_ID) => Ok(()),
        Some(CLIENT_ID) => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ))),
        Some(other) => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{other}' was not found in the directory '{tenant}'."
            ),
        ))),
    }
}

/// Scopes that ask for sign-in features rather than an API; Microsoft does not echo them back.
const OIDC_SCOPES: &[&str] = &["offline_access", "openid", "profile", "email"];

/// Issues an access token and renders the success body. A `delegated` (user) sign-in also reports
/// the granted scope and gets a refresh token when `offline_access` was asked; app-only tokens
/// never carry a refresh token.
pub(crate) fn issue_tokens(
    state: &AppState,
    principal: Principal,
    scope: &str,
    delegated: bool,
) -> Response {
    let lifetime = state.tokens.lifetime().as_secs().saturating_sub(1);
    let audience = Audience::of_scope(scope, &state.base_url);
    let access_token = state.tokens.issue_for(principal.clone(), audience);
    let resource_scopes: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| !OIDC_SCOPES.contains(s))
        .collect();
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    });
    if delegated {
        body["scope"] = resource_scopes.join(" ").into();
    }
    if delegated && scope.split_whitespace().any(|s| s == "offline_access") {
        body["refresh_token"] = state
            .tokens
            .issue_refresh(RefreshGrant {
                principal,
                scope: scope.to_owned(),
            })
            .into();
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match parse_request(&state, &tenant, &headers, &body) {
        Ok(f) => f,
        Err(response) => return *response,
    };
    match form.get("grant_type") {
        None => missing("grant_type"),
        Some("client_credentials") => client_credentials::grant(&state, &tenant, &headers, &form),
        Some(DEVICE_CODE_GRANT) => device_code::grant(&state, &tenant, &form),
        Some("refresh_token") => refresh::grant(&state, &tenant, &form),
        Some(other) => error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}
