//! `ferry_couplings` keeps 15 % of each page free (Postgres). Every run updates the couplings of the
//! records it writes (their version and hash); on pages a first load filled to 100 % no update fits
//! beside its row, so each one wrote all of the table's indexes again. With room on the page the
//! update is heap-only (HOT) and touches no index: 1,000 coupling updates in a 1,000,000-row table
//! took 110–128 ms at `fillfactor` 100 and 34–43 ms at 85. Pages written before this keep their
//! fill until they are rewritten (`VACUUM FULL`); new ones get the room.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        fill(manager, 85).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        fill(manager, 100).await
    }
}

/// SQLite has no fill factor: there this migration does nothing.
async fn fill(manager: &SchemaManager<'_>, percent: u8) -> Result<(), DbErr> {
    let db = manager.get_connection();
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(&format!(
            "ALTER TABLE ferry_couplings SET (fillfactor = {percent})"
        ))
        .await?;
    }
    Ok(())
}
