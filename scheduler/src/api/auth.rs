//! Bearer-token checks for the protected routes, in constant time so response timing leaks nothing of
//! a token. `/api/v1/*` takes the API token only; `/metrics` also takes the metrics token, which opens
//! nothing else. A client that fails too often is answered 429 for a while (`lockout`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::ApiError;
use crate::state::AppState;

/// `/api/v1/*`: the API token.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let tokens = [state.settings.api.token.as_ref()];
    guard(&state, &tokens, request, next).await
}

/// `/metrics`: the API token or the metrics token.
pub async fn require_metrics_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let api = &state.settings.api;
    let tokens = [api.token.as_ref(), api.metrics_token.as_ref()];
    guard(&state, &tokens, request, next).await
}

/// Lets `request` through when it carries one of `tokens`; else 401, or 429 once its client failed
/// too often.
async fn guard(
    state: &AppState,
    tokens: &[Option<&SecretString>],
    request: Request,
    next: Next,
) -> Response {
    if tokens.iter().all(Option::is_none) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the API is locked: set api.token (FERRY__API__TOKEN) to use it",
        )
        .into_response();
    }
    // Without connection info (a router driven in-process) every caller counts as one client.
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if let Some(wait) = state.lockout.locked(client) {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins from this address; try again later",
        )
        .into_response();
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        return response;
    }
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .unwrap_or("");
    // Every configured token is compared, so the time taken says nothing about which one matched.
    let matches = tokens.iter().flatten().fold(false, |found, expected| {
        let equal: bool = given
            .as_bytes()
            .ct_eq(expected.expose_secret().as_bytes())
            .into();
        found | equal
    });
    if !matches {
        state.lockout.fail(client);
        return ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token")
            .into_response();
    }
    next.run(request).await
}

/// The credentials of an `Authorization: Bearer <token>` value. The scheme is case-insensitive (RFC
/// 7235 §2.1), and one or more spaces separate it from the token.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "Bearer   abc"] {
            assert_eq!(bearer(value), Some("abc"), "{value}");
        }
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearerabc"), None);
    }
}
