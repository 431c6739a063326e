//! The client credentials grant (BC service-to-service), through the `oauth2` crate.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use secrecy::{ExposeSecret, SecretString};

use super::AuthError;

#[derive(Debug)]
pub(super) struct ClientCredentials {
    pub client_id: String,
    pub secret: SecretString,
    pub scope: Option<String>,
    pub token_url: String,
}

impl ClientCredentials {
    /// A fresh access token and its lifetime.
    pub async fn token(
        &self,
        http: &reqwest::Client,
    ) -> Result<(SecretString, Duration), AuthError> {
        let token_url = &self.token_url;
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.secret.expose_secret().to_string()))
            .set_token_uri(
                TokenUrl::new(token_url.clone()).map_err(|_| AuthError::Config {
                    connection: self.client_id.clone(),
                    message: format!("token URL {token_url:?} is not a URL"),
                })?,
            );
        let mut request = client.exchange_client_credentials();
        if let Some(scope) = &self.scope {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let response = request
            .request_async(&Guarded(http))
            .await
            .map_err(|e| classify(token_url, e))?;
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(300));
        let token = SecretString::from(response.access_token().secret().to_string());
        Ok((token, lifetime))
    }
}

/// How the token request failed below OAuth. The `oauth2` crate reads every non-200 answer as the
/// server's verdict, so a 503 from a busy token endpoint would fail a run for good; a 429 or 5xx is the
/// endpoint being unavailable (RFC 6749 §5.2 verdicts are 400/401), which is worth a retry.
#[derive(Debug, thiserror::Error)]
enum Transport {
    #[error("HTTP {0}")]
    Unavailable(u16),
    /// The answer could not be read, or passed `limits.token_bytes`.
    #[error("{0}")]
    Body(String),
}

/// reqwest, with a busy endpoint's 429 or 5xx turned into a [`Transport`] error, and the answer read
/// up to `limits.token_bytes` (the `oauth2` crate's own client reads any answer whole).
struct Guarded<'a>(&'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Guarded<'_> {
    type Error = Transport;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, Transport>> + Send + Sync + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| Transport::Body(e.without_url().to_string()))?;
            let status = response.status();
            if status.as_u16() == 429 || status.is_server_error() {
                return Err(Transport::Unavailable(status.as_u16()));
            }
            let headers = response.headers().clone();
            let body = super::token_endpoint::read_token_body(response)
                .await
                .map_err(Transport::Body)?;
            let mut answer = oauth2::HttpResponse::new(body);
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}

type TokenError = oauth2::RequestTokenError<
    Transport,
    oauth2::StandardErrorResponse<oauth2::basic::BasicErrorResponseType>,
>;

/// Separates "the server said no" (fatal) from "the server could not be reached" (retriable).
fn classify(token_url: &str, error: TokenError) -> AuthError {
    use oauth2::RequestTokenError as E;
    let token_url = token_url.to_string();
    match error {
        E::ServerResponse(response) => {
            let mut message = response.error().to_string();
            if let Some(description) = response.error_description() {
                message = format!("{message}: {description}");
            }
            AuthError::Refused { token_url, message }
        }
        E::Request(e) => AuthError::Unreachable {
            token_url,
            message: e.to_string(),
        },
        E::Parse(e, _) => AuthError::Refused {
            token_url,
            message: format!("unreadable token response: {e}"),
        },
        E::Other(message) => AuthError::Refused { token_url, message },
    }
}
