//! Capturing local changes for export (ARCHITECTURE.md, "Export"): row triggers on an exporting
//! integration's local table append each insert, update and delete to `ferry_changes`, except the
//! writes Ferry itself makes (`storage::begin_own_writes`), so nothing Ferry imported is sent back.
//! `apply` installs them; a run re-installs them when they are missing or stale (a table replaced
//! outside Ferry); `ferry check` reports them.

mod log;

pub use log::{Change, Operation, done, newest, pending, queue_all, requeue};

use sea_orm::{ConnectionTrait, DbErr};

use crate::definitions::{Direction, IntegrationDef};
use crate::storage::{Capture, CaptureState, Dialect};

/// The capture an integration needs: `None` when it only imports.
pub fn of(def: &IntegrationDef) -> Option<Capture<'_>> {
    (def.direction != Direction::Import).then_some(Capture {
        integration: &def.name,
        table: &def.target.table,
        key_columns: &def.target.key,
    })
}

/// What installing found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adopted {
    /// The triggers are in place (they were, or are now).
    Installed,
    /// The local table does not exist yet: nothing to capture until it does.
    NoTable,
}

/// Installs the integration's capture triggers unless they are current; idempotent. An integration
/// that only imports has none: triggers left from when it exported are released.
pub async fn adopt(conn: &impl ConnectionTrait, def: &IntegrationDef) -> Result<Adopted, DbErr> {
    let Some(capture) = of(def) else {
        release(conn, def).await?;
        return Ok(Adopted::Installed);
    };
    if Dialect::columns(conn, capture.table).await?.is_empty() {
        return Ok(Adopted::NoTable);
    }
    if Dialect::capture_state(conn, &capture).await? != CaptureState::Current {
        Dialect::install_capture(conn, &capture).await?;
    }
    Ok(Adopted::Installed)
}

/// The integration's triggers as installed: `None` when it does not export or its table is missing.
pub async fn state(
    conn: &impl ConnectionTrait,
    def: &IntegrationDef,
) -> Result<Option<CaptureState>, DbErr> {
    let Some(capture) = of(def) else {
        return Ok(None);
    };
    if Dialect::columns(conn, capture.table).await?.is_empty() {
        return Ok(None);
    }
    Dialect::capture_state(conn, &capture).await.map(Some)
}

/// Stops capturing for `def` (deleted, or importing only now): its triggers go, and so do the changes
/// it had not exported yet. Applying an exporting definition again captures from then on (`ferry run
/// NAME --full` compares every row with the remote side).
pub async fn release(conn: &impl ConnectionTrait, def: &IntegrationDef) -> Result<(), DbErr> {
    let capture = Capture {
        integration: &def.name,
        table: &def.target.table,
        key_columns: &def.target.key,
    };
    if !Dialect::columns(conn, capture.table).await?.is_empty()
        && Dialect::capture_state(conn, &capture).await? != CaptureState::Missing
    {
        Dialect::remove_capture(conn, &capture).await?;
    }
    let dialect = Dialect::of(conn);
    conn.execute_raw(dialect.statement(
        "DELETE FROM ferry_changes WHERE integration = ?",
        [def.name.clone().into()],
    ))
    .await?;
    Ok(())
}
