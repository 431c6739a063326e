//! The API's edges (issue 20): an `Idempotency-Key` stands for one trigger — its integration and its
//! mode — so reusing it with another mode is refused like reuse with another integration.

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
                    .table("ferry_idempotency_keys")
                    // Null for keys stored before this migration: any mode matches them.
                    .add_column(text_null("mode"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
