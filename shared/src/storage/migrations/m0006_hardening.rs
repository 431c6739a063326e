//! Hardening the run lifecycle (issue 13): a fencing token per claim, why a run read what it read, the
//! connection version a run executed, and what a checkpoint measured.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            // A new value for every claim; every write of the running run is fenced on it, so a slot
            // whose lease was taken away (even one of the same worker process) commits nothing.
            big_integer_null("lease_token"),
            // Why the run reads what it reads when that is not its mode's default ("filter changed").
            text_null("reason"),
            // The version of the connection definition the run executed.
            integer_null("connection_version"),
            // Who asked a running run to stop; its worker ends it at the next page boundary.
            text_null("cancel_requested_by"),
            // Records a mapping left out (a `skip` lookup), and rows of a page that mapped to a target
            // key another row of the same page also mapped to (the last one was written): with these,
            // rows_read = inserted + updated + unchanged + deleted + failed + skipped + deferred +
            // collapsed + folded.
            big_integer("skipped").default(0).to_owned(),
            big_integer("collapsed").default(0).to_owned(),
            // The same where the definition folds records on purpose (a non-key target.key).
            big_integer("folded").default(0).to_owned(),
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
        for column in [
            // The version watermark as a number, so an incremental write can refuse to lower it.
            big_integer_null("position"),
            // What the checkpoint was measured with (connection URL and company, entity, filter,
            // fields), as JSON: a change means the next run re-reads from the start.
            text_null("measured"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("ferry_checkpoints")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("ferry_connections")
                    .add_column(integer("version").default(1))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
