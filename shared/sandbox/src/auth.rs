//! Issued access tokens and the bearer check every data request passes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;
use std::sync::Arc;

/// Microsoft's access tokens live about an hour.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Opaque tokens and their expiry, in memory.
#[derive(Debug, Default)]
pub struct TokenStore {
    tokens: Mutex<HashMap<String, Instant>>,
}

impl TokenStore {
    /// Issues a new random token; expired ones are forgotten on the way.
    pub fn issue(&self) -> String {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let now = Instant::now();
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.retain(|_, exp| *exp > now);
        tokens.insert(token.clone(), now + TOKEN_LIFETIME);
        token
    }

    pub fn is_valid(&self, token: &str) -> bool {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.get(token).is_some_and(|exp| *exp > Instant::now())
    }
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Middleware: 401 in BC's shape unless the request carries a live token we issued.
pub async fn require_token(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    if bearer(&req).is_some_and(|t| state.tokens.is_valid(t)) {
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
