//! Signing in to a source. Access tokens are cached per connection until shortly before they expire,
//! and dropped on a 401 so the next request signs in again.

use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::definitions::{AuthDef, AuthFlow};

/// Microsoft's identity platform, the default authority.
const MICROSOFT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Tokens are renewed this long before they expire, so a request never carries one that dies in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Why a token could not be had. Never carries a secret: only names and the server's own error.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "environment variable {var} (client_secret_env of connection {connection:?}) is not set"
    )]
    MissingSecret { connection: String, var: String },
    #[error("connection {connection:?}: {message}")]
    Config { connection: String, message: String },
    #[error("sign-in refused by {token_url}: {message}")]
    Refused { token_url: String, message: String },
    #[error("token endpoint {token_url} unreachable: {message}")]
    Unreachable { token_url: String, message: String },
}

impl AuthError {
    /// Worth retrying later: the endpoint did not answer, rather than saying no.
    pub fn is_retriable(&self) -> bool {
        matches!(self, AuthError::Unreachable { .. })
    }
}

/// Where bearer tokens for one connection come from.
#[derive(Debug)]
pub struct TokenSource {
    grant: Grant,
    cached: Mutex<Option<(SecretString, Instant)>>,
}

#[derive(Debug)]
enum Grant {
    None,
    ClientCredentials {
        client_id: String,
        secret: SecretString,
        scope: Option<String>,
        token_url: String,
    },
}

/// The token endpoint for `auth`: `token_url` when set, else Microsoft's layout under the authority.
pub fn token_url(auth: &AuthDef) -> Option<String> {
    if let Some(url) = &auth.token_url {
        return Some(url.clone());
    }
    let tenant = auth.tenant.as_deref()?;
    let authority = auth.authority.as_deref().unwrap_or(MICROSOFT_AUTHORITY);
    Some(format!(
        "{}/{tenant}/oauth2/v2.0/token",
        authority.trim_end_matches('/')
    ))
}

impl TokenSource {
    /// Prepares sign-in for `connection`; reads the client secret from its environment variable now, so a
    /// missing secret fails the run at its start with a clear message.
    pub fn new(connection: &str, auth: &AuthDef) -> Result<TokenSource, AuthError> {
        let config = |message: &str| AuthError::Config {
            connection: connection.to_string(),
            message: message.to_string(),
        };
        let grant = match auth.flow {
            AuthFlow::None => Grant::None,
            AuthFlow::ClientCredentials => {
                let var = auth
                    .client_secret_env
                    .clone()
                    .ok_or_else(|| config("client_secret_env is required"))?;
                let secret = std::env::var(&var).map_err(|_| AuthError::MissingSecret {
                    connection: connection.to_string(),
                    var: var.clone(),
                })?;
                Grant::ClientCredentials {
                    client_id: auth
                        .client_id
                        .clone()
                        .ok_or_else(|| config("client_id is required"))?,
                    secret: SecretString::from(secret),
                    scope: auth.scope.clone(),
                    token_url: token_url(auth)
                        .ok_or_else(|| config("tenant or token_url is required"))?,
                }
            }
            AuthFlow::DeviceCode => return Err(config("device_code sign-in is not supported yet")),
        };
        Ok(TokenSource {
            grant,
            cached: Mutex::new(None),
        })
    }

    /// A bearer token, or `None` for a connection without sign-in.
    pub async fn bearer(&self, http: &reqwest::Client) -> Result<Option<SecretString>, AuthError> {
        let Grant::ClientCredentials {
            client_id,
            secret,
            scope,
            token_url,
        } = &self.grant
        else {
            return Ok(None);
        };
        let mut cached = self.cached.lock().await;
        if let Some((token, valid_until)) = cached.as_ref()
            && Instant::now() < *valid_until
        {
            return Ok(Some(token.clone()));
        }
        let client = BasicClient::new(ClientId::new(client_id.clone()))
            .set_client_secret(ClientSecret::new(secret.expose_secret().to_string()))
            .set_token_uri(
                TokenUrl::new(token_url.clone()).map_err(|_| AuthError::Config {
                    connection: client_id.clone(),
                    message: format!("token URL {token_url:?} is not a URL"),
                })?,
            );
        let mut request = client.exchange_client_credentials();
        if let Some(scope) = scope {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let response = request
            .request_async(http)
            .await
            .map_err(|e| classify(token_url, e))?;
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(300));
        let token = SecretString::from(response.access_token().secret().to_string());
        let valid_until = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        *cached = Some((token.clone(), valid_until));
        Ok(Some(token))
    }

    /// Forgets the cached token after the source rejected it (401), so the next call signs in again.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

type TokenError = oauth2::RequestTokenError<
    oauth2::HttpClientError<reqwest::Error>,
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
