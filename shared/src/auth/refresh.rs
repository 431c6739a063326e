//! Spending a stored refresh token. Refresh tokens rotate on every use, so exactly one process may
//! spend one: it first takes the connection's refresh claim (`refresh_claim`, a committed row, not a
//! lock), calls the token endpoint with no transaction open, then stores the rotated token and gives
//! the claim up in one short write. The store is a compare-and-swap on the refresh token it spent, so
//! even a claim that expired mid-call cannot overwrite a newer sign-in. A second worker meanwhile waits
//! for the claim and re-reads the row, finding a fresh access token instead of spending a refresh token
//! that is already gone.

use std::time::Duration;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use super::refresh_claim::RefreshClaim;
use super::token_endpoint::{self, EndpointError, REQUEST_TIMEOUT, short_description};
use super::{AuthError, account, digest};
use crate::secrets::{Binding, Credentials, SecretsError, SignIn, StoredSignIn};

/// A stored access token is re-used only with at least this much life left.
const REUSE_MARGIN: Duration = Duration::from_secs(5);
/// When a token response names no lifetime.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// How long a refresh claim lasts: the longest token request and some slack for the two writes
/// around it.
const CLAIM_HOLD: Duration = REQUEST_TIMEOUT.saturating_add(Duration::from_secs(15));
/// Longest pause between looks at another process's refresh.
const MAX_WAIT_STEP: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub(super) struct RefreshGrant {
    pub connection: String,
    /// The connection's endpoints as the run read them: the stored sign-in opens only for these.
    pub binding: Binding,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub scope: Option<String>,
    pub token_url: String,
    pub credentials: Credentials,
}

impl RefreshGrant {
    /// An access token and its remaining lifetime: the stored one when it is still good and not the one
    /// the source just rejected, else a new one bought with the refresh token — by this process when it
    /// gets the claim, else by the holder, whose result is read back.
    pub async fn access_token(
        &self,
        http: &reqwest::Client,
        rejected: Option<&[u8; 32]>,
    ) -> Result<(SecretString, Duration), AuthError> {
        let db_error = |e: sea_orm::DbErr| AuthError::Secrets(SecretsError::Database(e));
        let db = self.credentials.db();
        let deadline = tokio::time::Instant::now() + CLAIM_HOLD;
        let mut step = Duration::from_millis(20);
        loop {
            let stored = self.read().await?;
            if let Some(fresh) = reusable(&stored, rejected) {
                return Ok(fresh);
            }
            if let Some(claim) = RefreshClaim::take(db, &self.connection, CLAIM_HOLD)
                .await
                .map_err(db_error)?
            {
                // Read again under the claim: a refresh that ended between the read above and the
                // claim has already stored a fresh token (and spent the one read above).
                let stored = match self.read().await {
                    Ok(stored) => stored,
                    Err(e) => {
                        claim.release(db).await.ok();
                        return Err(e);
                    }
                };
                if let Some(fresh) = reusable(&stored, rejected) {
                    claim.release(db).await.map_err(db_error)?;
                    return Ok(fresh);
                }
                return self.spend(http, claim, stored).await;
            }
            // Another process is refreshing; its claim ends when it stores (or fails, or expires).
            if tokio::time::Instant::now() >= deadline {
                return Err(AuthError::Unreachable {
                    token_url: self.token_url.clone(),
                    message: format!(
                        "another process has been refreshing the sign-in of {:?} for over {}s",
                        self.connection,
                        CLAIM_HOLD.as_secs()
                    ),
                });
            }
            tokio::time::sleep(step).await;
            step = (step * 2).min(MAX_WAIT_STEP);
        }
    }

    async fn read(&self) -> Result<StoredSignIn, AuthError> {
        self.credentials
            .read_sign_in(&self.connection, &self.binding)
            .await?
            .ok_or_else(|| AuthError::NotSignedIn {
                connection: self.connection.clone(),
            })
    }

    /// Holding the claim: calls the token endpoint (no transaction open), then stores the rotated
    /// token and gives the claim up in one short write.
    async fn spend(
        &self,
        http: &reqwest::Client,
        claim: RefreshClaim,
        stored: StoredSignIn,
    ) -> Result<(SecretString, Duration), AuthError> {
        let db_error = |e: sea_orm::DbErr| AuthError::Secrets(SecretsError::Database(e));
        let db = self.credentials.db();
        let mut params = vec![
            ("grant_type", "refresh_token"),
            ("client_id", self.client_id.as_str()),
            ("refresh_token", stored.refresh_token.expose_secret()),
        ];
        if let Some(scope) = &self.scope {
            params.push(("scope", scope));
        }
        if let Some(secret) = &self.client_secret {
            params.push(("client_secret", secret.expose_secret()));
        }
        let response = match token_endpoint::post(http, &self.token_url, &params).await {
            Ok(response) => response,
            Err(e) => {
                claim.release(db).await.ok();
                return Err(self.classify(e));
            }
        };
        let lifetime = response.expires_in().unwrap_or(DEFAULT_LIFETIME);
        let now = Utc::now();
        let sign_in = SignIn {
            account: account::account(&[response.id_token.as_ref(), Some(&response.access_token)])
                .or(stored.account.clone()),
            expires_at: response
                .refresh_token_expires_in()
                .and_then(|d| chrono::Duration::from_std(super::bounded(d)).ok())
                .map(|d| now + d)
                .or(stored.expires_at),
            access_expires_at: chrono::Duration::from_std(super::bounded(lifetime))
                .ok()
                .map(|d| now + d),
            access_token: Some(response.access_token.clone()),
            // A provider that does not rotate keeps the old refresh token valid.
            refresh_token: response
                .refresh_token
                .unwrap_or_else(|| stored.refresh_token.clone()),
        };
        let txn = crate::storage::begin_write(db).await.map_err(db_error)?;
        let stored_it = self
            .credentials
            .store_refreshed(&txn, &self.connection, &self.binding, &stored, &sign_in)
            .await?;
        claim.release(&txn).await.map_err(db_error)?;
        txn.commit().await.map_err(db_error)?;
        if stored_it {
            tracing::info!(connection = %self.connection, "access token refreshed; refresh token rotated");
        } else {
            tracing::warn!(connection = %self.connection,
                "access token refreshed, but the stored sign-in changed meanwhile; the newer one is kept");
        }
        Ok((response.access_token, lifetime))
    }

    fn classify(&self, error: EndpointError) -> AuthError {
        match error {
            EndpointError::Transport(message) => AuthError::Unreachable {
                token_url: self.token_url.clone(),
                message,
            },
            EndpointError::OAuth { error, description } if error == "invalid_grant" => {
                AuthError::SignInExpired {
                    connection: self.connection.clone(),
                    message: short_description(description.as_deref()).unwrap_or(error),
                }
            }
            EndpointError::OAuth { error, description } => AuthError::Refused {
                token_url: self.token_url.clone(),
                message: match short_description(description.as_deref()) {
                    Some(d) => format!("{error}: {d}"),
                    None => error,
                },
            },
        }
    }
}

/// The stored access token and its remaining life, when it is good for a while yet and is not the one
/// the source just turned away.
fn reusable(
    stored: &StoredSignIn,
    rejected: Option<&[u8; 32]>,
) -> Option<(SecretString, Duration)> {
    let (token, until) = stored.access.as_ref()?;
    let left = (*until - Utc::now()).to_std().unwrap_or_default();
    (left > REUSE_MARGIN && rejected != Some(&digest(token))).then(|| (token.clone(), left))
}
