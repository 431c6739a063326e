//! Signing in to a source. Access tokens are cached per connection until shortly before they expire,
//! and dropped on a 401 so the next request signs in again.
//!
//! Three grants: none, client credentials (a secret from the environment or the credential store) and
//! a stored device-code sign-in whose refresh token rotates on every use (`refresh`).

mod account;
mod binding;
mod client_credentials;
pub mod device_code;
mod endpoints;
mod login;
mod refresh;
mod refresh_claim;
mod token_endpoint;

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::definitions::{AuthFlow, ConnectionDef};
use crate::secrets::{Credentials, SecretsError};

pub use binding::{binding, rebinding_changes};
pub use endpoints::{MICROSOFT_AUTHORITY, device_authorization_url, device_scope, token_url};
pub use login::{PendingLogin, SignedIn, begin_login};

/// Why a token could not be had. Never carries a secret: only names and the server's own error.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "environment variable {var} (client_secret_env of connection {connection:?}) is not set"
    )]
    MissingSecret { connection: String, var: String },
    #[error("client_secret_env of connection {connection:?}: {refusal}")]
    ForbiddenSecretEnv { connection: String, refusal: String },
    #[error(
        "connection {connection:?} has no client secret: set auth.client_secret_env, or store one \
         with `ferry connection set-secret {connection}`"
    )]
    NoStoredSecret { connection: String },
    #[error(
        "connection {connection:?} is not signed in: run `ferry auth login {connection}` first"
    )]
    NotSignedIn { connection: String },
    #[error(
        "the sign-in of connection {connection:?} is no longer valid ({message}): run \
         `ferry auth login {connection}` again"
    )]
    SignInExpired { connection: String, message: String },
    #[error("sign-in was declined by the user; nothing was stored")]
    Declined,
    #[error("the device code expired before it was approved; run `ferry auth login` again")]
    CodeExpired,
    #[error(
        "the device code was not recognised by the identity provider; run `ferry auth login` again"
    )]
    BadCode,
    #[error("connection {connection:?}: {message}")]
    Config { connection: String, message: String },
    #[error("sign-in refused by {token_url}: {message}")]
    Refused { token_url: String, message: String },
    #[error("token endpoint {token_url} unreachable: {message}")]
    Unreachable { token_url: String, message: String },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
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
    cached: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    token: Option<(SecretString, Instant)>,
    /// Digest of the last token the source answered 401 to, so a re-read of the stored access token
    /// does not hand the same dead token back.
    rejected: Option<[u8; 32]>,
}

#[derive(Debug)]
enum Grant {
    None,
    ClientCredentials(client_credentials::ClientCredentials),
    Refresh(refresh::RefreshGrant),
}

/// A token is renewed this long before it expires (a quarter of its life, at most a minute), so a
/// request never carries one that dies in flight.
fn renew_at(lifetime: Duration) -> Instant {
    let lifetime = bounded(lifetime);
    Instant::now() + lifetime - (lifetime / 4).min(Duration::from_secs(60))
}

/// The longest lifetime Ferry believes of anything an identity provider hands out (a token, a refresh
/// token, a device code). A stated `expires_in` beyond it (`u64::MAX`) is taken as this, so no clock
/// arithmetic on it can overflow.
pub const MAX_LIFETIME: Duration = Duration::from_secs(366 * 86_400);

/// `lifetime`, at most `MAX_LIFETIME`.
pub fn bounded(lifetime: Duration) -> Duration {
    lifetime.min(MAX_LIFETIME)
}

fn digest(token: &SecretString) -> [u8; 32] {
    Sha256::digest(token.expose_secret().as_bytes()).into()
}

impl TokenSource {
    /// Prepares sign-in for `connection`. Secrets are read now (environment or credential store), so
    /// a missing one fails the run at its start with a clear message.
    pub async fn for_connection(
        connection: &ConnectionDef,
        credentials: &Credentials,
    ) -> Result<TokenSource, AuthError> {
        let name = &connection.name;
        let auth = &connection.auth;
        let config = |message: &str| AuthError::Config {
            connection: name.clone(),
            message: message.to_string(),
        };
        let client_id = || {
            auth.client_id
                .clone()
                .ok_or_else(|| config("auth.client_id is required"))
        };
        let token_url =
            || token_url(auth).ok_or_else(|| config("auth.tenant or auth.token_url is required"));
        let grant = match auth.flow {
            AuthFlow::None => Grant::None,
            AuthFlow::ClientCredentials => {
                let secret = client_secret(connection, credentials)
                    .await?
                    .ok_or_else(|| AuthError::NoStoredSecret {
                        connection: name.clone(),
                    })?;
                Grant::ClientCredentials(client_credentials::ClientCredentials {
                    client_id: client_id()?,
                    secret,
                    scope: auth.scope.clone(),
                    token_url: token_url()?,
                })
            }
            AuthFlow::DeviceCode => {
                if !credentials.has_sign_in(name).await? {
                    return Err(AuthError::NotSignedIn {
                        connection: name.clone(),
                    });
                }
                Grant::Refresh(refresh::RefreshGrant {
                    connection: name.clone(),
                    binding: binding(connection),
                    client_id: client_id()?,
                    client_secret: client_secret(connection, credentials).await?,
                    scope: device_scope(auth),
                    token_url: token_url()?,
                    credentials: credentials.clone(),
                })
            }
        };
        Ok(TokenSource {
            grant,
            cached: Mutex::new(Cache::default()),
        })
    }

    /// A source that needs no sign-in.
    pub fn anonymous() -> TokenSource {
        TokenSource {
            grant: Grant::None,
            cached: Mutex::new(Cache::default()),
        }
    }

    /// A bearer token, or `None` for a connection without sign-in.
    pub async fn bearer(&self, http: &reqwest::Client) -> Result<Option<SecretString>, AuthError> {
        if matches!(self.grant, Grant::None) {
            return Ok(None);
        }
        let mut cache = self.cached.lock().await;
        if let Some((token, renew)) = cache.token.as_ref()
            && Instant::now() < *renew
        {
            return Ok(Some(token.clone()));
        }
        let (token, lifetime) = match &self.grant {
            Grant::None => return Ok(None),
            Grant::ClientCredentials(grant) => grant.token(http).await?,
            Grant::Refresh(grant) => grant.access_token(http, cache.rejected.as_ref()).await?,
        };
        cache.token = Some((token.clone(), renew_at(lifetime)));
        Ok(Some(token))
    }

    /// Forgets `token` after the source rejected it (401), so the next call signs in again.
    pub async fn reject(&self, token: &SecretString) {
        let mut cache = self.cached.lock().await;
        cache.token = None;
        cache.rejected = Some(digest(token));
    }
}

/// The client secret: from `client_secret_env` when the definition names one (it must be set), else
/// from the credential store when one was stored, which opens only for the endpoints it was stored for
/// (`binding`).
async fn client_secret(
    connection: &ConnectionDef,
    credentials: &Credentials,
) -> Result<Option<SecretString>, AuthError> {
    if let Some(var) = &connection.auth.client_secret_env {
        // A definition changed in the database after `apply` checked it is checked again here.
        if let Some(refusal) = crate::definitions::secret_env_refusal(var, credentials.env_prefix())
        {
            return Err(AuthError::ForbiddenSecretEnv {
                connection: connection.name.clone(),
                refusal,
            });
        }
        let value = std::env::var(var).map_err(|_| AuthError::MissingSecret {
            connection: connection.name.clone(),
            var: var.clone(),
        })?;
        return Ok(Some(SecretString::from(value)));
    }
    Ok(credentials
        .client_secret(&connection.name, &binding(connection))
        .await?)
}
