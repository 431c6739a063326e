//! The refresh token grant. Microsoft rotates refresh tokens: every redemption returns a new one,
//! and the sandbox makes the old one invalid at once, so a client that keeps or races an old
//! token gets `invalid_grant` (Ferry must store the new token atomically).

use axum::http::StatusCode;
use axum::response::Response;

use super::{Form, PUBLIC_CLIENT_ID, error, issue_tokens, missing, require_public_client};
use crate::state::AppState;

pub(super) fn grant(state: &AppState, tenant: &str, form: &Form) -> Response {
    if let Err(response) = require_public_client(form.get("client_id"), tenant) {
        return *response;
    }
    let Some(token) = form.get("refresh_token") else {
        return missing("refresh_token");
    };
    let Some(grant) = state.tokens.redeem_refresh(token, PUBLIC_CLIENT_ID) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "The provided value for the input parameter 'refresh_token' is not valid. The refresh token was already redeemed, revoked or never issued.",
        );
    };
    // A narrower scope may be asked on refresh; offline_access carries over from the sign-in.
    let scope = match form.get("scope").filter(|s| !s.trim().is_empty()) {
        Some(asked) if !asked.split_whitespace().any(|s| s == "offline_access") => {
            format!("{asked} offline_access")
        }
        Some(asked) => asked.to_owned(),
        None => grant.scope.clone(),
    };
    issue_tokens(state, grant.principal, &scope, true)
}
