//! Sign-in controls: approve or decline a device code as the user would, change or cut short
//! access-token lifetimes, and list every secret the sandbox issued (for leak tests).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::odata::ODataError;
use crate::routes::identity::CLIENT_SECRET;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct UserCode {
    user_code: String,
}

fn decide(state: &AppState, body: &[u8], approve: bool) -> Response {
    let request: UserCode = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return ODataError::bad_request(format!("Invalid request: {e}")).into_response(),
    };
    if state.devices.decide(&request.user_code, approve) {
        Json(json!({"user_code": request.user_code, "approved": approve})).into_response()
    } else {
        ODataError::not_found(format!(
            "No pending device code sign-in has the user code '{}'.",
            request.user_code
        ))
        .into_response()
    }
}

/// `POST /_sandbox/devicecode/approve {"user_code"}`.
pub async fn approve(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    decide(&state, &body, true)
}

/// `POST /_sandbox/devicecode/decline {"user_code"}`.
pub async fn decline(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    decide(&state, &body, false)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenControl {
    /// Lifetime of access tokens issued from now on.
    #[serde(default)]
    access_token_lifetime_secs: Option<u64>,
    /// Invalidate every access token issued so far (refresh tokens stay valid).
    #[serde(default)]
    expire_access_tokens: bool,
}

/// `POST /_sandbox/tokens {"access_token_lifetime_secs"?: n, "expire_access_tokens"?: bool}`.
pub async fn tokens(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let request: TokenControl = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return ODataError::bad_request(format!("Invalid request: {e}")).into_response(),
    };
    if let Some(secs) = request.access_token_lifetime_secs {
        state.tokens.set_lifetime(Duration::from_secs(secs));
    }
    if request.expire_access_tokens {
        state.tokens.expire_access_tokens();
    }
    Json(json!({"access_token_lifetime_secs": state.tokens.lifetime().as_secs()})).into_response()
}

/// `GET /_sandbox/issued`: every access and refresh token issued, the client secrets the sandbox
/// accepts, and the device codes handed out.
pub async fn issued(State(state): State<Arc<AppState>>) -> Response {
    let issued = state.tokens.issued();
    Json(json!({
        "access_tokens": issued.access_tokens,
        "refresh_tokens": issued.refresh_tokens,
        "client_secrets": [CLIENT_SECRET],
        "device_codes": state.devices.device_codes(),
    }))
    .into_response()
}
