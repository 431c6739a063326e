//! The first schema: connections, integration versions, checkpoints, runs and run errors.
//!
//! The partial unique indexes are where invariants 3 and 4 of ARCHITECTURE.md, "Invariants" live: the database, not the
//! queue, guarantees one running and one queued run per integration and one run per cron tick.

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
                    .table("ferry_connections")
                    .col(pk_auto("id"))
                    .col(string_uniq("name"))
                    .col(string("kind"))
                    .col(text("definition"))
                    .col(string("digest"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ferry_integrations")
                    .col(pk_auto("id"))
                    .col(string("name"))
                    .col(integer("version"))
                    .col(string("connection"))
                    .col(text("definition"))
                    .col(string("digest"))
                    .col(timestamp_with_time_zone("applied_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ferry_integrations_name_version")
                    .table("ferry_integrations")
                    .col("name")
                    .col("version")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ferry_checkpoints")
                    .col(string("integration").primary_key())
                    .col(text("value"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ferry_runs")
                    .col(big_pk_auto("id"))
                    .col(string("integration"))
                    .col(integer("definition_version"))
                    .col(string("mode"))
                    .col(string("trigger"))
                    .col(string("state"))
                    .col(integer("attempt").default(0))
                    .col(string_null("lease_owner"))
                    .col(timestamp_with_time_zone_null("lease_expires_at"))
                    .col(timestamp_with_time_zone_null("scheduled_for"))
                    .col(timestamp_with_time_zone("queued_at"))
                    .col(timestamp_with_time_zone_null("started_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .col(big_integer("rows_read").default(0))
                    .col(big_integer("inserted").default(0))
                    .col(big_integer("updated").default(0))
                    .col(big_integer("unchanged").default(0))
                    .col(big_integer("deleted").default(0))
                    .col(big_integer("failed").default(0))
                    .col(text_null("checkpoint_before"))
                    .col(text_null("checkpoint_after"))
                    .col(text_null("error"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ferry_runs_integration_id")
                    .table("ferry_runs")
                    .col("integration")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Invariant 3: at most one running run per integration, whatever the workers do.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ferry_runs_one_running ON ferry_runs (integration) \
             WHERE state = 'running'",
        )
        .await?;
        // ... and at most one queued run: further triggers coalesce into it.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ferry_runs_one_queued ON ferry_runs (integration) \
             WHERE state = 'queued'",
        )
        .await?;
        // Invariant 4: a cron tick is enqueued once, even by two schedulers that both think they lead.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ferry_runs_one_per_tick ON ferry_runs (integration, scheduled_for) \
             WHERE scheduled_for IS NOT NULL",
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("ferry_run_errors")
                    .col(big_pk_auto("id"))
                    .col(big_integer("run_id"))
                    .col(string("integration"))
                    .col(text("record_key"))
                    .col(text("message"))
                    .col(text("payload"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("ferry_run_errors", "run_id")
                            .to("ferry_runs", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ferry_run_errors_run")
                    .table("ferry_run_errors")
                    .col("run_id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
