//! `ferry_credentials`: sealed client secrets and device-code sign-ins, one row per connection and kind.
//! Only this module turns rows into secrets and back; everything above it sees `SecretString`s and
//! non-secret status.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::seal::{Label, open, seal, stated_binding};
use super::{Binding, Keyring, SecretsError};
use crate::settings::SecretsSettings;
use crate::storage::entities::credential;

/// What a credential row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A confidential client's secret, set with `ferry connection set-secret`.
    ClientSecret,
    /// The refresh token of a device-code sign-in (plus the last access token it bought).
    RefreshToken,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ClientSecret => "client_secret",
            CredentialKind::RefreshToken => "refresh_token",
        }
    }
}

/// The outcome of a sign-in or refresh, ready to be sealed and stored.
#[derive(Debug)]
pub struct SignIn {
    pub refresh_token: SecretString,
    pub access_token: Option<SecretString>,
    pub access_expires_at: Option<DateTime<Utc>>,
    /// Who signed in, when known.
    pub account: Option<String>,
    /// When the refresh token expires, when the provider said.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored sign-in, opened for a refresh.
#[derive(Debug)]
pub struct StoredSignIn {
    pub refresh_token: SecretString,
    pub access: Option<(SecretString, DateTime<Utc>)>,
    pub account: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What `ferry auth status` shows: who, where, until when. Never a secret.
#[derive(Debug, Clone, Serialize)]
pub struct CredentialStatus {
    pub connection: String,
    pub kind: String,
    pub account: Option<String>,
    pub expires_at: Option<DateTime<FixedOffset>>,
    pub access_expires_at: Option<DateTime<FixedOffset>>,
    pub key_id: String,
    pub updated_at: DateTime<FixedOffset>,
}

/// Sealed credentials in the database, and the keys to open them.
#[derive(Debug, Clone)]
pub struct Credentials {
    db: DatabaseConnection,
    /// `None` when no key is configured: status still works, anything touching a secret says how to
    /// create a key.
    keyring: Option<Arc<Keyring>>,
    /// `secrets.env_prefix`: what every `client_secret_env` must start with, when set.
    env_prefix: Option<String>,
}

fn label<'a>(connection: &'a str, what: &'a str, binding: &'a Binding) -> Label<'a> {
    Label {
        connection,
        what,
        binding,
    }
}

const ACCESS_TOKEN: &str = "access_token";

impl Credentials {
    /// Loads the keyring from settings or the environment; a missing key is not an error yet (only
    /// using a secret is), a malformed one is.
    pub fn new(
        db: DatabaseConnection,
        settings: &SecretsSettings,
    ) -> Result<Credentials, SecretsError> {
        let keyring = match Keyring::load(settings) {
            Ok(k) => Some(Arc::new(k)),
            Err(SecretsError::NoKey) => None,
            Err(e) => return Err(e),
        };
        Ok(Credentials {
            db,
            keyring,
            env_prefix: settings.env_prefix.clone(),
        })
    }

    pub fn with_keyring(db: DatabaseConnection, keyring: Arc<Keyring>) -> Credentials {
        Credentials {
            db,
            keyring: Some(keyring),
            env_prefix: None,
        }
    }

    /// `secrets.env_prefix`, checked where a secret is read from the environment.
    pub fn env_prefix(&self) -> Option<&str> {
        self.env_prefix.as_deref()
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn keyring(&self) -> Result<&Keyring, SecretsError> {
        self.keyring.as_deref().ok_or(SecretsError::NoKey)
    }

    /// Stores (or replaces) a connection's client secret, bound to `binding` (`auth::binding`).
    pub async fn set_client_secret(
        &self,
        connection: &str,
        binding: &Binding,
        secret: &SecretString,
    ) -> Result<(), SecretsError> {
        let key = self.keyring()?.current();
        let kind = CredentialKind::ClientSecret;
        let sealed = seal(key, label(connection, kind.as_str(), binding), secret);
        upsert(
            &self.db,
            connection,
            kind,
            sealed,
            key.id(),
            None,
            None,
            None,
            None,
        )
        .await
    }

    /// The stored client secret of a connection, if one was set. It opens only for the `binding` it
    /// was stored with (`SecretsError::SignInAgain` otherwise).
    pub async fn client_secret(
        &self,
        connection: &str,
        binding: &Binding,
    ) -> Result<Option<SecretString>, SecretsError> {
        let kind = CredentialKind::ClientSecret;
        let Some(row) = find(&self.db, connection, kind, false).await? else {
            return Ok(None);
        };
        let secret = open(
            self.keyring()?,
            label(connection, kind.as_str(), binding),
            &row.ciphertext,
        )?;
        Ok(Some(secret))
    }

    /// Stores a fresh sign-in (replacing any earlier one), bound to `binding`.
    pub async fn save_sign_in(
        &self,
        connection: &str,
        binding: &Binding,
        sign_in: &SignIn,
    ) -> Result<(), SecretsError> {
        save_sign_in(&self.db, self.keyring()?, connection, binding, sign_in).await
    }

    /// Whether a sign-in is stored, without opening it.
    pub async fn has_sign_in(&self, connection: &str) -> Result<bool, SecretsError> {
        Ok(
            find(&self.db, connection, CredentialKind::RefreshToken, false)
                .await?
                .is_some(),
        )
    }

    /// Status of every stored credential (of one connection when given), never a secret.
    pub async fn status(
        &self,
        connection: Option<&str>,
    ) -> Result<Vec<CredentialStatus>, SecretsError> {
        let mut query = credential::Entity::find()
            .order_by_asc(credential::Column::Connection)
            .order_by_asc(credential::Column::Kind);
        if let Some(connection) = connection {
            query = query.filter(credential::Column::Connection.eq(connection));
        }
        Ok(query
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| CredentialStatus {
                connection: row.connection,
                kind: row.kind,
                account: row.account,
                expires_at: row.expires_at,
                access_expires_at: row.access_expires_at,
                key_id: row.key_id,
                updated_at: row.updated_at,
            })
            .collect())
    }

    /// Opens the sign-in of `connection`, without a lock or a transaction: who may spend its refresh
    /// token is decided by the refresh claim (`auth::refresh`), not by a lock held across the call.
    /// It opens only for the `binding` it was stored with.
    pub async fn read_sign_in(
        &self,
        connection: &str,
        binding: &Binding,
    ) -> Result<Option<StoredSignIn>, SecretsError> {
        let Some(row) = find(&self.db, connection, CredentialKind::RefreshToken, false).await?
        else {
            return Ok(None);
        };
        let keyring = self.keyring()?;
        let refresh_token = open(
            keyring,
            label(connection, CredentialKind::RefreshToken.as_str(), binding),
            &row.ciphertext,
        )?;
        let access = match (&row.access_ciphertext, row.access_expires_at) {
            (Some(sealed), Some(until)) => Some((
                open(keyring, label(connection, ACCESS_TOKEN, binding), sealed)?,
                until.with_timezone(&Utc),
            )),
            _ => None,
        };
        Ok(Some(StoredSignIn {
            refresh_token,
            access,
            account: row.account,
            expires_at: row.expires_at.map(|t| t.with_timezone(&Utc)),
        }))
    }

    /// Replaces the sign-in `spent` with its refreshed successor — only while `spent`'s refresh token
    /// is still the stored one (compare-and-swap on the opened token, so a `ferry keys rotate` in
    /// between does not count as a change), so the old token and the new one are never both "current"
    /// and a late answer never overwrites a newer sign-in. Run it in a write transaction: the read and
    /// the write must see the same row. False when it was not stored.
    pub async fn store_refreshed(
        &self,
        txn: &impl ConnectionTrait,
        connection: &str,
        binding: &Binding,
        spent: &StoredSignIn,
        sign_in: &SignIn,
    ) -> Result<bool, SecretsError> {
        let kind = CredentialKind::RefreshToken;
        let Some(row) = find(txn, connection, kind, true).await? else {
            return Ok(false);
        };
        let current = open(
            self.keyring()?,
            label(connection, kind.as_str(), binding),
            &row.ciphertext,
        )?;
        if current.expose_secret() != spent.refresh_token.expose_secret() {
            return Ok(false);
        }
        save_sign_in(txn, self.keyring()?, connection, binding, sign_in).await?;
        Ok(true)
    }

    /// Forgets a connection's sign-in (e.g. after the provider revoked it).
    pub async fn sign_out(&self, connection: &str) -> Result<bool, SecretsError> {
        let result = credential::Entity::delete_many()
            .filter(credential::Column::Connection.eq(connection))
            .filter(credential::Column::Kind.eq(CredentialKind::RefreshToken.as_str()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }
}

async fn save_sign_in(
    db: &impl ConnectionTrait,
    keyring: &Keyring,
    connection: &str,
    binding: &Binding,
    sign_in: &SignIn,
) -> Result<(), SecretsError> {
    let key = keyring.current();
    let kind = CredentialKind::RefreshToken;
    let sealed = seal(
        key,
        label(connection, kind.as_str(), binding),
        &sign_in.refresh_token,
    );
    let access = sign_in
        .access_token
        .as_ref()
        .map(|t| seal(key, label(connection, ACCESS_TOKEN, binding), t));
    upsert(
        db,
        connection,
        kind,
        sealed,
        key.id(),
        access,
        sign_in.access_expires_at,
        sign_in.account.clone(),
        sign_in.expires_at,
    )
    .await
}

async fn find(
    db: &impl ConnectionTrait,
    connection: &str,
    kind: CredentialKind,
    lock: bool,
) -> Result<Option<credential::Model>, sea_orm::DbErr> {
    let mut query = credential::Entity::find()
        .filter(credential::Column::Connection.eq(connection))
        .filter(credential::Column::Kind.eq(kind.as_str()));
    if lock {
        query = query.lock_exclusive();
    }
    query.one(db).await
}

#[allow(clippy::too_many_arguments)]
async fn upsert(
    db: &impl ConnectionTrait,
    connection: &str,
    kind: CredentialKind,
    ciphertext: String,
    key_id: &str,
    access_ciphertext: Option<String>,
    access_expires_at: Option<DateTime<Utc>>,
    account: Option<String>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), SecretsError> {
    use credential::Column as C;
    let now = Utc::now().fixed_offset();
    let row = credential::ActiveModel {
        connection: Set(connection.to_string()),
        kind: Set(kind.as_str().to_string()),
        ciphertext: Set(ciphertext),
        key_id: Set(key_id.to_string()),
        access_ciphertext: Set(access_ciphertext),
        access_expires_at: Set(access_expires_at.map(|t| t.fixed_offset())),
        account: Set(account),
        expires_at: Set(expires_at.map(|t| t.fixed_offset())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    credential::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([C::Connection, C::Kind])
                .update_columns([
                    C::Ciphertext,
                    C::KeyId,
                    C::AccessCiphertext,
                    C::AccessExpiresAt,
                    C::Account,
                    C::ExpiresAt,
                    C::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Rows for `rotate`, locked.
pub(super) async fn all_locked(
    db: &impl ConnectionTrait,
) -> Result<Vec<credential::Model>, sea_orm::DbErr> {
    credential::Entity::find().lock_exclusive().all(db).await
}

/// The kinds of credential stored for `connection`, without opening any (for `apply`'s note that a
/// changed endpoint leaves them shut).
pub async fn stored_kinds(
    db: &impl ConnectionTrait,
    connection: &str,
) -> Result<Vec<CredentialKind>, sea_orm::DbErr> {
    let rows = credential::Entity::find()
        .filter(credential::Column::Connection.eq(connection))
        .order_by_asc(credential::Column::Kind)
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| match row.kind.as_str() {
            "client_secret" => Some(CredentialKind::ClientSecret),
            "refresh_token" => Some(CredentialKind::RefreshToken),
            _ => None,
        })
        .collect())
}

/// Whether a row was sealed bound to its connection's endpoints (format `v2`); older rows open for
/// nobody and wait for a new sign-in.
pub(super) fn is_bound(row: &credential::Model) -> bool {
    stated_binding(&row.ciphertext).is_some()
}

/// Re-seals one row's secrets under the keyring's current key, with the binding each was sealed with
/// (the tag proves it), so a rotation never binds a secret to endpoints it was not stored for.
pub(super) async fn reseal(
    db: &impl ConnectionTrait,
    keyring: &Keyring,
    row: credential::Model,
) -> Result<(), SecretsError> {
    let binding = stated_binding(&row.ciphertext).ok_or(SecretsError::Malformed)?;
    let key = keyring.current();
    let main = label(&row.connection, &row.kind, &binding);
    let secret = open(keyring, main, &row.ciphertext)?;
    let access = match &row.access_ciphertext {
        Some(sealed) => {
            let access = label(&row.connection, ACCESS_TOKEN, &binding);
            Some(seal(key, access, &open(keyring, access, sealed)?))
        }
        None => None,
    };
    let ciphertext = seal(key, main, &secret);
    let mut active: credential::ActiveModel = row.into();
    active.ciphertext = Set(ciphertext);
    active.access_ciphertext = Set(access);
    active.key_id = Set(key.id().to_string());
    active.updated_at = Set(Utc::now().fixed_offset());
    active.update(db).await?;
    Ok(())
}
