//! `ferry auth login`: a device-code sign-in whose refresh token is sealed into the credential store.
//! Split in two steps so the caller shows the server's message between them (a CLI prints it, the
//! future web editor shows it in a page).

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::device_code::{self, DeviceAuthorization};
use super::{
    AuthError, account, binding, client_secret, device_authorization_url, device_scope, token_url,
};
use crate::definitions::{AuthFlow, ConnectionDef};
use crate::secrets::{Binding, Credentials, SignIn};

/// A device code waiting for the user.
#[derive(Debug)]
pub struct PendingLogin {
    connection: String,
    /// The endpoints this sign-in is made at: the stored sign-in opens only for them.
    binding: Binding,
    authorization: DeviceAuthorization,
    token_url: String,
    client_id: String,
    client_secret: Option<SecretString>,
}

/// The result of a sign-in, without any token.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub connection: String,
    pub account: Option<String>,
    /// When the refresh token expires, when the provider said.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Requests a device code for `connection` (which must use `flow = "device_code"`). Fails before the
/// user does anything when no master key is configured, since the result could not be stored.
pub async fn begin_login(
    connection: &ConnectionDef,
    credentials: &Credentials,
    http: &reqwest::Client,
) -> Result<PendingLogin, AuthError> {
    let name = &connection.name;
    let config = |message: &str| AuthError::Config {
        connection: name.clone(),
        message: message.to_string(),
    };
    let auth = &connection.auth;
    if auth.flow != AuthFlow::DeviceCode {
        return Err(config(
            "auth.flow is not device_code; only device-code connections sign in interactively",
        ));
    }
    credentials.keyring()?;
    let client_id = auth
        .client_id
        .clone()
        .ok_or_else(|| config("auth.client_id is required"))?;
    let device_url = device_authorization_url(auth)
        .ok_or_else(|| config("auth.tenant or auth.device_authorization_url is required"))?;
    let token_url =
        token_url(auth).ok_or_else(|| config("auth.tenant or auth.token_url is required"))?;
    let scope = device_scope(auth).ok_or_else(|| config("auth.scope is required"))?;
    let authorization = device_code::request(http, &device_url, &client_id, &scope).await?;
    Ok(PendingLogin {
        connection: name.clone(),
        binding: binding(connection),
        authorization,
        token_url,
        client_id,
        client_secret: client_secret(connection, credentials).await?,
    })
}

impl PendingLogin {
    /// The server's instruction, verbatim (it names the page and the code).
    pub fn message(&self) -> &str {
        &self.authorization.message
    }

    pub fn user_code(&self) -> &str {
        &self.authorization.user_code
    }

    pub fn verification_uri(&self) -> &str {
        &self.authorization.verification_uri
    }

    /// Polls until the user approves, then seals and stores the refresh token.
    pub async fn finish(
        self,
        http: &reqwest::Client,
        credentials: &Credentials,
    ) -> Result<SignedIn, AuthError> {
        let tokens = device_code::poll_token_endpoint(
            http,
            &self.token_url,
            &self.client_id,
            self.client_secret.as_ref(),
            &self.authorization,
        )
        .await?;
        let refresh_token = tokens.refresh_token.clone().ok_or_else(|| AuthError::Config {
            connection: self.connection.clone(),
            message: "the identity provider issued no refresh token; add offline_access to auth.scope"
                .into(),
        })?;
        let now = Utc::now();
        let to_chrono = |d| {
            chrono::Duration::from_std(super::bounded(d))
                .ok()
                .map(|d| now + d)
        };
        let sign_in = SignIn {
            account: account::account(&[tokens.id_token.as_ref(), Some(&tokens.access_token)]),
            expires_at: tokens.refresh_token_expires_in().and_then(to_chrono),
            access_expires_at: tokens.expires_in().and_then(to_chrono),
            access_token: Some(tokens.access_token),
            refresh_token,
        };
        credentials
            .save_sign_in(&self.connection, &self.binding, &sign_in)
            .await?;
        Ok(SignedIn {
            connection: self.connection,
            account: sign_in.account,
            expires_at: sign_in.expires_at,
        })
    }
}
