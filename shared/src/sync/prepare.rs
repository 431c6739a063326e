//! What the mapper needs from the database, read by the stage before it maps a page (ARCHITECTURE.md,
//! "The sync path"): the existing target table's column types and NOT NULL constraints, and the types
//! each lookup matches on and selects. The mapper itself stays pure.

use sea_orm::ConnectionTrait;

use super::error::SyncError;
use crate::mapping::{Mapping, Origin};
use crate::sink::existing_columns;

/// Types `mapping` against the database as it is now.
pub(crate) async fn type_columns(
    db: &impl ConnectionTrait,
    mapping: &mut Mapping,
) -> Result<(), SyncError> {
    // A lookup's column takes the selected column's type; before the referenced table exists nothing
    // resolves.
    for column in &mut mapping.columns {
        if let Origin::Lookup(n) = column.origin {
            column.ty = crate::lookup::prepare(db, &mut mapping.lookups[n])
                .await
                .map_err(SyncError::Table)?;
        }
    }
    let existing = existing_columns(db, &mapping.table)
        .await
        .map_err(SyncError::Table)?;
    mapping.adopt_columns(&existing);
    Ok(())
}
