//! Export (issue 16): local changes captured by row triggers into a change log, couplings that also
//! remember what the remote side last had (its ETag and the body last agreed), and a run's outbound
//! counts beside its inbound ones.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("ferry_changes")
                    // The order changes happened in; an export reads them oldest first.
                    .col(big_pk_auto("seq"))
                    .col(string("integration"))
                    // The local row's key as a JSON array, in target key column order.
                    .col(text("row_key"))
                    // I (insert), U (update) or D (delete).
                    .col(string("operation"))
                    .col(timestamp_with_time_zone("changed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ferry_changes_integration_seq")
                    .table("ferry_changes")
                    .col("integration")
                    .col("seq")
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Sqlite {
            // SQLite has no transaction-local setting a trigger can read: Ferry's own writes put a
            // row here for the length of their transaction instead (`storage::own_writes`), and the
            // capture triggers log nothing while one is present. One writer at a time makes that safe.
            manager
                .create_table(
                    Table::create()
                        .table("ferry_quiet")
                        .col(integer("writing"))
                        .to_owned(),
                )
                .await?;
        }
        for column in [text_null("remote_etag"), text_null("sent")] {
            manager
                .alter_table(
                    Table::alter()
                        .table("ferry_couplings")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // An export finds a local row's coupling by its target key (a deleted row has nothing else).
        manager
            .create_index(
                Index::create()
                    .name("ferry_couplings_target_key")
                    .table("ferry_couplings")
                    .col("integration")
                    .col("target_key")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ferry_conflicts")
                    .col(big_pk_auto("id"))
                    .col(string("integration"))
                    // The local row's key (canonical JSON array), as export failures are keyed.
                    .col(string("record_key"))
                    // The remote record's key (`record_key` spelling), as couplings are keyed.
                    .col(string("remote_key"))
                    // Both versions in local column terms (JSON objects): the local row, and the
                    // remote record as the import would write it (null: deleted on that side).
                    .col(text_null("local"))
                    .col(text_null("remote"))
                    // `update` (changed on both sides) or `delete` (deleted on one, changed on the other).
                    .col(string("kind"))
                    .col(big_integer("run_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("resolved_at"))
                    // `local` or `remote`: which version the operator kept.
                    .col(string_null("resolution"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ferry_conflicts_integration_key")
                    .table("ferry_conflicts")
                    .col("integration")
                    .col("record_key")
                    .to_owned(),
            )
            .await?;
        for column in [
            string_null("direction"),
            big_integer("export_inserted").default(0).to_owned(),
            big_integer("export_updated").default(0).to_owned(),
            big_integer("export_unchanged").default(0).to_owned(),
            big_integer("export_deleted").default(0).to_owned(),
            big_integer("export_failed").default(0).to_owned(),
            big_integer("export_conflicts").default(0).to_owned(),
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
        Ok(())
    }
}
