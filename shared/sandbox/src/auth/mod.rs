//! Issued tokens, pending device sign-ins, and the bearer check every data request passes.

pub mod device;
pub mod tokens;

pub use device::{DeviceCodes, Poll};
pub use tokens::{Audience, Issued, Principal, RefreshGrant, TokenStore};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;
use std::sync::Arc;

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Middleware: 401 in BC's shape unless the request carries a live BC token we issued.
pub async fn require_token(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    require(state, req, next, Audience::BusinessCentral).await
}

/// Middleware for the Dataverse routes: a live token issued for the Dataverse scope.
pub async fn require_dataverse_token(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    require(state, req, next, Audience::Dataverse).await
}

async fn require(
    state: Arc<AppState>,
    mut req: Request,
    next: Next,
    audience: Audience,
) -> Response {
    if let Some(principal) = bearer(&req).and_then(|t| state.tokens.validate_for(t, audience)) {
        // Later layers (rate limits) count requests per principal.
        req.extensions_mut().insert(principal);
        return next.run(req).await;
    }
    let challenge = format!(
        r#"Bearer authorization_uri="{}/{}/oauth2/v2.0/authorize", error="invalid_token""#,
        state.base_url, state.config.tenant
    );
    let body = json!({"error": {
        "code": "Authentication_InvalidCredentials",
        "message": "The server has rejected the client credentials."
    }});
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}
