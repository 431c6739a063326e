//! Secrets at rest (invariant 6): client secrets and refresh tokens are sealed with AES-256-GCM under a
//! master key that never touches the database. Each sealed value names its key, so keys can rotate.
//!
//! `keyring` finds the keys, `binding` is what a value is bound to besides its row (the connection's
//! endpoints), `seal` encrypts and decrypts one value, `store` keeps sealed credentials in
//! `ferry_credentials`, `rotate` re-seals them under the current key.

mod binding;
mod keyring;
mod rotate;
mod seal;
mod store;

pub use binding::Binding;
pub use keyring::{Keyring, MasterKey, generate_key};
pub use rotate::{Rotation, rotate};
pub use store::{
    CredentialKind, CredentialStatus, Credentials, SignIn, StoredSignIn, stored_kinds,
};

/// Why a secret could not be sealed, opened or stored. Never carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "no master key for stored secrets: set FERRY_MASTER_KEY to 32 random bytes in base64 \
         (create one with `openssl rand -base64 32` or `ferry keys generate`), or point \
         secrets.key_file at a file holding one"
    )]
    NoKey,
    #[error("{source_name} is not a master key: {reason}")]
    BadKey {
        source_name: String,
        reason: &'static str,
    },
    #[error("cannot read key file {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error(
        "a stored secret was sealed with key {key_id}, which is not configured; add it to \
         FERRY_PREVIOUS_MASTER_KEYS (or secrets.previous_keys) until `ferry keys rotate` has run"
    )]
    UnknownKey { key_id: String },
    /// The value was sealed for other endpoints of its connection (someone changed its token,
    /// authority or device endpoint, service origin, tenant, client id or scope since), or before
    /// values were bound at all (`unbound`). It is not opened, so it cannot go anywhere new.
    #[error(
        "the stored {what} of connection {connection:?} {}; Ferry will not send it anywhere \
         else: sign in again with `{again}`",
        if *unbound {
            "was stored before secrets were bound to their connection's endpoints"
        } else {
            "was stored for other sign-in settings (the service origin, the token, authority or \
             device endpoint, tenant, client id or scope changed since)"
        }
    )]
    SignInAgain {
        connection: String,
        what: &'static str,
        again: String,
        unbound: bool,
    },
    #[error("a stored secret failed authentication (corrupted, or moved to another row)")]
    Tampered,
    #[error("a stored secret is not in Ferry's sealed format")]
    Malformed,
    #[error("failed to access stored credentials: {0}")]
    Database(#[from] sea_orm::DbErr),
}
