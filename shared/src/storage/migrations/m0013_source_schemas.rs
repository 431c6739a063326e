//! `check` finds what a run would fail on (issue 20): the last `$metadata` read from each connection is
//! kept, so `apply` can check a definition against it without a request, and says when none is stored.

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
                    .table("ferry_source_schemas")
                    .col(string("connection").primary_key())
                    // The CSDL document as the source served it.
                    .col(text("document"))
                    // SHA-256 of the document: an unchanged one is not written again.
                    .col(string("digest"))
                    // When a process last read it from the source.
                    .col(timestamp_with_time_zone("fetched_at"))
                    .to_owned(),
            )
            .await
    }
}
