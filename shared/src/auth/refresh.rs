//! Spending a stored refresh token. Refresh tokens rotate on every use, so exactly one process may
//! spend one: the row is locked (`SELECT … FOR UPDATE`) for the whole exchange and the new refresh
//! token is stored in the same transaction. A second worker waiting on the lock then re-reads the row
//! and finds a fresh access token, instead of spending a refresh token that is already gone.

use std::time::Duration;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use super::token_endpoint::{self, EndpointError, short_description};
use super::{AuthError, account, digest};
use crate::secrets::{Credentials, SecretsError, SignIn};

/// A stored access token is re-used only with at least this much life left.
const REUSE_MARGIN: Duration = Duration::from_secs(5);
/// When a token response names no lifetime.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub(super) struct RefreshGrant {
    pub connection: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub scope: Option<String>,
    pub token_url: String,
    pub credentials: Credentials,
}

impl RefreshGrant {
    /// An access token and its remaining lifetime: the stored one when it is still good and not the one
    /// the source just rejected, else a new one bought with the refresh token.
    pub async fn access_token(
        &self,
        http: &reqwest::Client,
        rejected: Option<&[u8; 32]>,
    ) -> Result<(SecretString, Duration), AuthError> {
        let db_error = |e: sea_orm::DbErr| AuthError::Secrets(SecretsError::Database(e));
        let txn = crate::storage::begin_write(self.credentials.db())
            .await
            .map_err(db_error)?;
        let locked = self
            .credentials
            .lock_sign_in(&txn, &self.connection)
            .await?
            .ok_or_else(|| AuthError::NotSignedIn {
                connection: self.connection.clone(),
            })?;
        if let Some((token, until)) = &locked.access {
            let left = (*until - Utc::now()).to_std().unwrap_or_default();
            if left > REUSE_MARGIN && rejected != Some(&digest(token)) {
                txn.commit().await.map_err(db_error)?;
                return Ok((token.clone(), left));
            }
        }
        let mut params = vec![
            ("grant_type", "refresh_token"),
            ("client_id", self.client_id.as_str()),
            ("refresh_token", locked.refresh_token.expose_secret()),
        ];
        if let Some(scope) = &self.scope {
            params.push(("scope", scope));
        }
        if let Some(secret) = &self.client_secret {
            params.push(("client_secret", secret.expose_secret()));
        }
        let response = token_endpoint::post(http, &self.token_url, &params)
            .await
            .map_err(|e| self.classify(e))?;
        let lifetime = response.expires_in().unwrap_or(DEFAULT_LIFETIME);
        let now = Utc::now();
        let sign_in = SignIn {
            account: account::account(&[response.id_token.as_ref(), Some(&response.access_token)])
                .or(locked.account),
            expires_at: response
                .refresh_token_expires_in()
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| now + d)
                .or(locked.expires_at),
            access_expires_at: chrono::Duration::from_std(lifetime).ok().map(|d| now + d),
            access_token: Some(response.access_token.clone()),
            // A provider that does not rotate keeps the old refresh token valid.
            refresh_token: response.refresh_token.unwrap_or(locked.refresh_token),
        };
        self.credentials
            .store_refreshed(&txn, &self.connection, &sign_in)
            .await?;
        txn.commit().await.map_err(db_error)?;
        tracing::info!(connection = %self.connection, "access token refreshed; refresh token rotated");
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
