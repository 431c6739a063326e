//! The mapping engine's bookkeeping: the `deferred` count on runs, parked records whose lookup did not
//! resolve yet (`missing = "defer"`), retried on later runs, when a failed record was fixed, and when
//! each integration last reconciled its key set.

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
                    .add_column(big_integer("deferred").default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("ferry_run_errors")
                    .add_column(timestamp_with_time_zone_null("resolved_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ferry_run_errors_open")
                    .table("ferry_run_errors")
                    .col("integration")
                    .col("record_key")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ferry_deferred")
                    .col(string("integration"))
                    // The source key as text, as in ferry_run_errors.
                    .col(string("record_key"))
                    // The source row as JSON, replayed when the lookup may resolve.
                    .col(text("payload"))
                    .col(text("reason"))
                    // The run that parked it last.
                    .col(big_integer("run_id"))
                    .col(integer("attempts").default(1))
                    .col(timestamp_with_time_zone("parked_at"))
                    .primary_key(Index::create().col("integration").col("record_key"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ferry_reconciles")
                    .col(string("integration").primary_key())
                    // When the last reconcile committed; `deletes.every` counts from here.
                    .col(timestamp_with_time_zone("reconciled_at"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
