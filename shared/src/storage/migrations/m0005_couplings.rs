//! Coupling records (ARCHITECTURE.md, "Checkpoints and couplings"): which target row each source record of an integration became,
//! with the source version and a hash of the values written, so a reconcile deletes only rows the
//! integration owns and an unchanged record costs no target write. Failed records also keep the
//! values mapped before the failure.

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
                    .table("ferry_couplings")
                    .col(string("integration"))
                    // The source key as text (`A|B` when composite), as in ferry_run_errors.
                    .col(string("source_key"))
                    // The target key's values as a JSON array, in target key column order.
                    .col(text("target_key"))
                    // The source row version last written (RowVersionNumber), when the row had one.
                    .col(big_integer_null("source_version"))
                    // SHA-256 (hex) of the mapped values last written.
                    .col(string("hash"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("integration").col("source_key"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("ferry_run_errors")
                    // The mapped values before the failing column, as a JSON object (column → value).
                    .add_column(text_null("mapped"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
