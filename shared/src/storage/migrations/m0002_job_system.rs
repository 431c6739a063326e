//! The job system's bookkeeping: retry and push times and callbacks on runs, idempotency keys of API
//! triggers, the scheduler's leadership lease, and cumulative counters for metrics.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            // A retrying run is queued but not claimable before this time.
            timestamp_with_time_zone_null("retry_at"),
            // When its job was last pushed, so recovery re-pushes only lost ones.
            timestamp_with_time_zone_null("pushed_at"),
            text_null("callback_url"),
            // pending | delivered | failed: <reason>
            text_null("callback_status"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("ferry_runs")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("ferry_idempotency_keys")
                    .col(string("key").primary_key())
                    .col(string("integration"))
                    .col(big_integer("run_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ferry_leases")
                    .col(string("name").primary_key())
                    .col(string("owner"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ferry_counters")
                    .col(string("metric"))
                    .col(string("labels"))
                    .col(double("value").default(0.0))
                    .primary_key(Index::create().col("metric").col("labels"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
