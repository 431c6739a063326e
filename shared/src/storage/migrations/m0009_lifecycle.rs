//! Definitions have a lifecycle: an integration can be disabled (not scheduled, triggers refused),
//! enabled again, or deleted (gone from scheduling and triggering; its versions, runs, failures and
//! target table stay). The standing is per integration name, not per version, so it lives in its own
//! table: versions are never updated (invariant 7). No row means enabled.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("ferry_integration_lifecycle")
                    .col(string("name").primary_key())
                    // 'enabled', 'disabled' or 'deleted'.
                    .col(string("state"))
                    // When the state last changed: for an enabled integration, when it became live
                    // again, so cron does not catch up on ticks it was not live for.
                    .col(timestamp_with_time_zone("changed_at"))
                    // Who changed it: "cli:alice", "api", "apply".
                    .col(string("changed_by"))
                    .to_owned(),
            )
            .await
    }
}
