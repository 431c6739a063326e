//! Lookups cannot start a storm, and deferral ends (issue 20): a run woken by a lookup records the chain
//! of integrations that woke it, so none wakes one that started its chain; a parked record keeps when it
//! was first parked, so past `lookups.max_defer_hours` it becomes a failed record.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("ferry_runs")
                    // The integrations whose runs woke this one, first first, as a JSON array.
                    .add_column(text_null("woken_by"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("ferry_deferred")
                    // Null for records parked before this migration: their last parking counts.
                    .add_column(timestamp_with_time_zone_null("first_parked_at"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
