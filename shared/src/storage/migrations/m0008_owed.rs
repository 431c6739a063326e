//! Nothing owed is lost, nothing still backed is deleted, and a reconcile holds no key set in memory:
//! each coupling names the target table its row lives in (so a reconcile can see whether a coupling of
//! any integration still points at a row before deleting it), a reconcile stages the source's key set
//! in the database (`ferry_key_scans` + `ferry_scanned_keys`) instead of memory, and retention finds
//! the runs that parked records without scanning `ferry_deferred`.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::storage::statement;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("ferry_couplings")
                    // The target table the coupled row was written to (NULL only before this
                    // migration, until the backfill below).
                    .add_column(string_null("target_table"))
                    .to_owned(),
            )
            .await?;
        backfill_target_tables(manager.get_connection()).await?;
        manager
            .create_index(
                Index::create()
                    .name("ferry_couplings_target")
                    .table("ferry_couplings")
                    .col("target_table")
                    .col("target_key")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ferry_key_scans")
                    .col(big_pk_auto("id"))
                    .col(string("integration"))
                    // The reconciling run; NULL for a preview, which owns no run.
                    .col(big_integer_null("run_id"))
                    // Scans left by a crash are swept by retention after a day.
                    .col(timestamp_with_time_zone("started_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ferry_scanned_keys")
                    .col(big_integer("scan_id"))
                    // The source key as text, as in ferry_couplings.
                    .col(string("source_key"))
                    .primary_key(Index::create().col("scan_id").col("source_key"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ferry_deferred_run")
                    .table("ferry_deferred")
                    .col("run_id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

/// Couplings written before this migration get the table of their integration's latest definition:
/// the best knowledge there is of where their rows are.
async fn backfill_target_tables(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(statement(
            backend,
            "SELECT i.name, i.definition FROM ferry_integrations i WHERE i.version = \
             (SELECT max(l.version) FROM ferry_integrations l WHERE l.name = i.name)",
            [],
        ))
        .await?;
    for row in rows {
        let name: String = row.try_get_by_index(0)?;
        let definition: String = row.try_get_by_index(1)?;
        let table = serde_json::from_str::<serde_json::Value>(&definition)
            .ok()
            .and_then(|d| d["target"]["table"].as_str().map(str::to_string));
        if let Some(table) = table {
            db.execute_raw(statement(
                backend,
                "UPDATE ferry_couplings SET target_table = ? WHERE integration = ? \
                 AND target_table IS NULL",
                [table.into(), name.into()],
            ))
            .await?;
        }
    }
    Ok(())
}
