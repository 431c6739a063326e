//! `apply`'s word on stored secrets: a connection whose endpoints changed (`auth::rebinding_changes`)
//! keeps its sealed client secret or sign-in, but they no longer open (invariant 6), so the operator
//! learns here, not from a failed run, that they must be stored again.

use sea_orm::{ConnectionTrait, DbErr};

use super::model::ConnectionDef;
use crate::secrets::{CredentialKind, stored_kinds};

/// A note for the applied connection when a secret stored for `before` will not open for `after`.
pub(super) async fn stored_secret_note(
    db: &impl ConnectionTrait,
    before: &ConnectionDef,
    after: &ConnectionDef,
) -> Result<Option<String>, DbErr> {
    let changed = crate::auth::rebinding_changes(before, after);
    if changed.is_empty() {
        return Ok(None);
    }
    let name = &after.name;
    let shut: Vec<String> = stored_kinds(db, name)
        .await?
        .into_iter()
        .map(|kind| match kind {
            CredentialKind::ClientSecret => format!(
                "the stored client secret will not open until it is set again with `ferry \
                 connection set-secret {name}`"
            ),
            CredentialKind::RefreshToken => format!(
                "the stored sign-in will not open until `ferry auth login {name}` signs in again"
            ),
        })
        .collect();
    if shut.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "{} changed, and a stored secret goes only to the endpoints it was stored for: {}",
        changed.join(", "),
        shut.join("; ")
    )))
}
