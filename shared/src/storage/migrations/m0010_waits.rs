//! Every wait is visible (issue 20): how many requests of a run were repeated because the source was
//! busy (429/502/503), how long the run waited for them, and the last such answer.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            big_integer("requests_retried").default(0).to_owned(),
            big_integer("retry_wait_ms").default(0).to_owned(),
            text_null("last_retried_error"),
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
