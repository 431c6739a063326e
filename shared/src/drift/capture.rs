//! Whether an exporting integration's local changes are captured: its table's triggers, as
//! `capture::state` finds them. A run re-installs missing or stale ones; until then, changes to the
//! table go unlogged, so `ferry check` says so.

use sea_orm::DatabaseConnection;

use super::{Problem, ProblemKind, Severity};
use crate::definitions::IntegrationDef;
use crate::storage::CaptureState;

pub(super) async fn check_capture(
    db: &DatabaseConnection,
    def: &IntegrationDef,
) -> Result<Vec<Problem>, sea_orm::DbErr> {
    let problem = |kind, message: String| Problem {
        integration: def.name.clone(),
        severity: Severity::Error,
        kind,
        field: def.target.table.clone(),
        used_by: vec!["direction".into()],
        message,
    };
    Ok(match crate::capture::state(db, def).await? {
        None | Some(CaptureState::Current) => Vec::new(),
        Some(CaptureState::Missing) => vec![problem(
            ProblemKind::MissingCapture,
            format!(
                "table {:?} has no capture triggers: local changes are not logged for export \
                 (`ferry apply` or the next run installs them)",
                def.target.table
            ),
        )],
        Some(CaptureState::Stale) => vec![problem(
            ProblemKind::StaleCapture,
            format!(
                "table {:?} has capture triggers made for another key: local changes are logged \
                 under the wrong key (`ferry apply` or the next run replaces them)",
                def.target.table
            ),
        )],
    })
}
