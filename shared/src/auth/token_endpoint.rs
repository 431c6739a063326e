//! One request to an RFC 6749 token endpoint (refresh and device-code grants): form-encoded POST,
//! a JSON token (§5.1) or a JSON error (§5.2). Responses are decoded straight into secret types.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

/// A successful token response. Lifetimes may arrive as numbers or strings (older Microsoft endpoints
/// sent strings), so they are read leniently.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: SecretString,
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    #[serde(default)]
    pub id_token: Option<SecretString>,
    #[serde(default)]
    expires_in: Option<Value>,
    /// Microsoft's extension for some clients; RFC 6749 has no refresh token lifetime.
    #[serde(default)]
    refresh_token_expires_in: Option<Value>,
}

impl TokenResponse {
    pub fn expires_in(&self) -> Option<Duration> {
        seconds(self.expires_in.as_ref())
    }
    pub fn refresh_token_expires_in(&self) -> Option<Duration> {
        seconds(self.refresh_token_expires_in.as_ref())
    }
}

fn seconds(value: Option<&Value>) -> Option<Duration> {
    let n = match value? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Some(Duration::from_secs(n))
}

/// What went wrong at the token endpoint.
#[derive(Debug)]
pub enum EndpointError {
    /// The server answered with an OAuth error (`error` code and, perhaps, its description).
    OAuth {
        error: String,
        description: Option<String>,
    },
    /// The server could not be reached, or answered something that is not OAuth.
    Transport(String),
}

/// The longest one token request may take. A refresh claim outlives it (`refresh_claim`), so a claim
/// never expires while its holder is still waiting for the endpoint.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// POSTs `params` and reads the answer. The request body carries secrets, so nothing here logs it.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    params: &[(&str, &str)],
) -> Result<TokenResponse, EndpointError> {
    let response = http
        .post(url)
        .header("Accept", "application/json")
        .timeout(REQUEST_TIMEOUT)
        .form(params)
        .send()
        .await
        .map_err(|e| EndpointError::Transport(e.without_url().to_string()))?;
    let status = response.status();
    let body = read_token_body(response)
        .await
        .map_err(EndpointError::Transport)?;
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map_err(|e| EndpointError::Transport(format!("unreadable token response: {e}")));
    }
    // A busy or failing endpoint is not a verdict on the grant, whatever its body says (Microsoft sends
    // `temporarily_unavailable` with a 503): retry it like an unreachable one.
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(EndpointError::Transport(format!("HTTP {status}")));
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(e) => Err(EndpointError::OAuth {
            error: e.error,
            description: e.error_description,
        }),
        Err(_) => Err(EndpointError::Transport(format!(
            "HTTP {status} without an OAuth error body"
        ))),
    }
}

/// A token endpoint's answer, read up to `limits.token_bytes`: a token is a few KB, and an endless
/// answer must not exhaust the process.
pub(super) async fn read_token_body(response: reqwest::Response) -> Result<Vec<u8>, String> {
    use crate::limits::{Body, ReadError, read};
    read(response, Body::Token).await.map_err(|e| match e {
        ReadError::Transport(e) => e.without_url().to_string(),
        too_large => too_large.to_string(),
    })
}

/// The first line of an error description: Microsoft appends trace and correlation ids that only
/// clutter a message meant for an operator.
pub fn short_description(description: Option<&str>) -> Option<String> {
    let text = description?.trim();
    let cut = text.find(" Trace ID:").unwrap_or(text.len());
    Some(crate::printable::printable(text[..cut].trim())).filter(|s| !s.is_empty())
}
