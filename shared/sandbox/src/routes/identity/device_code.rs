//! The device authorization grant (RFC 8628) as Microsoft runs it: `POST …/devicecode` starts a
//! sign-in, the device polls the token endpoint until the user approved, declined, or the code
//! expired.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{
    Form, PUBLIC_CLIENT_ID, USER, error, issue_tokens, missing, parse_request,
    require_public_client,
};
use crate::auth::{Poll, Principal};
use crate::state::AppState;

/// `POST /{tenant}/oauth2/v2.0/devicecode` with `client_id` and `scope`.
pub async fn devicecode(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match parse_request(&state, &tenant, &headers, &body) {
        Ok(f) => f,
        Err(response) => return *response,
    };
    if let Err(response) = require_public_client(form.get("client_id"), &tenant) {
        return *response;
    }
    let Some(scope) = form.get("scope").filter(|s| !s.trim().is_empty()) else {
        return missing("scope");
    };
    let lifetime = state.config.device_code_lifetime;
    let auth = state.devices.start(
        PUBLIC_CLIENT_ID,
        scope,
        lifetime,
        Duration::from_secs(state.config.device_code_interval),
    );
    let verification_uri = format!("{}/devicelogin", state.base_url);
    let message = format!(
        "To sign in, use a web browser to open the page {verification_uri} and enter the code {} to authenticate.",
        auth.user_code
    );
    axum::Json(json!({
        "user_code": auth.user_code,
        "device_code": auth.device_code,
        "verification_uri": verification_uri,
        "expires_in": lifetime.as_secs(),
        "interval": state.config.device_code_interval,
        "message": message,
    }))
    .into_response()
}

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code`: one poll.
pub(super) fn grant(state: &AppState, tenant: &str, form: &Form) -> Response {
    if let Err(response) = require_public_client(form.get("client_id"), tenant) {
        return *response;
    }
    let Some(device_code) = form.get("device_code") else {
        return missing("device_code");
    };
    let bad = |name: &str, code: u32, text: &str| error(StatusCode::BAD_REQUEST, name, code, text);
    match state.devices.poll(device_code, PUBLIC_CLIENT_ID) {
        Poll::Granted { client_id, scope } => {
            let principal = Principal {
                client_id: client_id.into(),
                user: USER.into(),
            };
            issue_tokens(state, principal, &scope, true)
        }
        Poll::Pending => bad(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        ),
        Poll::SlowDown => bad(
            "slow_down",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Polling too frequently: increase the interval by 5 seconds.",
        ),
        Poll::Declined => bad(
            "authorization_declined",
            70020,
            "The end user denied the authorization request.",
        ),
        Poll::Expired => bad(
            "expired_token",
            70019,
            "Verification code expired. Start a new device code sign-in.",
        ),
        Poll::BadCode => bad(
            "bad_verification_code",
            70018,
            "The device_code sent to the token endpoint was not recognized.",
        ),
        Poll::Redeemed => bad(
            "invalid_grant",
            54005,
            "OAuth2 device code was already redeemed, please retry with a new valid code.",
        ),
    }
}
