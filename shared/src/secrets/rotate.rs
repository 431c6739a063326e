//! `ferry keys rotate`: re-seal every stored credential under the current master key, in one
//! transaction, so afterwards the previous keys can be thrown away.

use serde::Serialize;

use super::store::{all_locked, is_bound, reseal};
use super::{Credentials, SecretsError};

/// What a rotation did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Rotation {
    pub key_id: String,
    pub resealed: usize,
    pub already_current: usize,
    /// Rows sealed before secrets were bound to their connection's endpoints: they open for nobody,
    /// so they are left as they are until their connection signs in again.
    pub unbound: usize,
}

/// Re-seals rows sealed under older keys, each with the binding it has. All or nothing: a row whose
/// key is missing aborts the rotation with that key's id.
pub async fn rotate(credentials: &Credentials) -> Result<Rotation, SecretsError> {
    let keyring = credentials.keyring()?;
    let current = keyring.current().id().to_string();
    let txn = crate::storage::begin_write(credentials.db()).await?;
    let mut rotation = Rotation {
        key_id: current.clone(),
        resealed: 0,
        already_current: 0,
        unbound: 0,
    };
    for row in all_locked(&txn).await? {
        if !is_bound(&row) {
            rotation.unbound += 1;
            continue;
        }
        if row.key_id == current {
            rotation.already_current += 1;
            continue;
        }
        reseal(&txn, keyring, row).await?;
        rotation.resealed += 1;
    }
    txn.commit().await?;
    Ok(rotation)
}
