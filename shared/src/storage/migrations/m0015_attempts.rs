//! A run's history for the operator: each attempt with when it started, how it ended and why
//! (`runs::attempts`), and the pages a run has committed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            big_integer("pages").default(0).take(),
            timestamp_with_time_zone_null("attempt_started_at"),
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
                    .table("ferry_run_attempts")
                    .col(big_pk_auto("id"))
                    .col(big_integer("run_id"))
                    .col(integer("attempt"))
                    .col(timestamp_with_time_zone_null("started_at"))
                    .col(timestamp_with_time_zone("ended_at"))
                    // succeeded, partial, failed, interrupted, cancelled, retrying, handed back,
                    // lease expired.
                    .col(string("outcome"))
                    .col(text_null("error"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ferry_run_attempts_run")
                    .table("ferry_run_attempts")
                    .col("run_id")
                    .to_owned(),
            )
            .await
    }
}
