//! The one place `ferry_checkpoints` is read and written. A checkpoint is saved in the transaction of
//! the page it covers (invariant 2), together with what it measured.

use sea_orm::{ConnectionTrait, DbErr};

use super::{Checkpoint, Measured};
use crate::storage::{clock, statement};

/// An integration's committed checkpoint and what it was measured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub checkpoint: Checkpoint,
    /// `None` for a checkpoint saved before Ferry recorded it: taken as measuring the current source.
    pub measured: Option<Measured>,
    /// The checkpoint as stored (for `checkpoint_before` on runs).
    pub json: String,
}

/// The committed checkpoint of `integration`, if any. An unreadable one counts as none (a re-read
/// from the start), never as a position.
pub async fn load(db: &impl ConnectionTrait, integration: &str) -> Result<Option<Stored>, DbErr> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT value, measured FROM ferry_checkpoints WHERE integration = ?",
            [integration.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let json: String = row.try_get_by_index(0)?;
    let measured: Option<String> = row.try_get_by_index(1)?;
    let Ok(checkpoint) = Checkpoint::from_json(&json) else {
        return Ok(None);
    };
    Ok(Some(Stored {
        checkpoint,
        measured: measured.and_then(|m| serde_json::from_str(&m).ok()),
        json,
    }))
}

/// Saves `checkpoint` for `integration`, measured as `measured`. With `forward_only` (incremental
/// runs) a stored version watermark is never lowered, whoever writes: a late writer of an older page
/// changes nothing. A full re-read may lower it, since it reads everything again from the start.
pub async fn save(
    txn: &impl ConnectionTrait,
    integration: &str,
    checkpoint: &Checkpoint,
    measured: &Measured,
    forward_only: bool,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let guard = if forward_only {
        " WHERE ferry_checkpoints.position IS NULL OR EXCLUDED.position IS NULL \
         OR ferry_checkpoints.position <= EXCLUDED.position"
    } else {
        ""
    };
    let position = checkpoint.ordered_position();
    let measured = serde_json::to_string(measured).expect("measurements always serialize");
    txn.execute_raw(statement(
        backend,
        &format!(
            "INSERT INTO ferry_checkpoints (integration, value, position, measured, updated_at) \
             VALUES (?, ?, ?, ?, {now}) ON CONFLICT (integration) DO UPDATE SET \
             value = EXCLUDED.value, position = EXCLUDED.position, measured = EXCLUDED.measured, \
             updated_at = EXCLUDED.updated_at{guard}",
            now = clock::now(backend)
        ),
        [
            integration.into(),
            checkpoint.to_json().into(),
            position.into(),
            measured.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Forgets the checkpoint of `integration`, so its next run reads everything: for a target table that
/// was dropped (`ferry delete --drop-target`), whose rows a checkpoint no longer describes.
pub async fn forget(db: &impl ConnectionTrait, integration: &str) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "DELETE FROM ferry_checkpoints WHERE integration = ?",
        [integration.into()],
    ))
    .await?;
    Ok(())
}
