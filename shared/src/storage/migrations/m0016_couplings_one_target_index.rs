//! One index on a coupling's target row instead of two. An export looked its couplings up by
//! `(integration, target_key)`; it now asks by `(target_table, target_key)` as a reconcile does, and
//! names its integration as a filter (a local row has a coupling or two at most). Every coupling
//! written (a million on a first load of a million rows) kept both indexes up to date: the one
//! dropped here was about a fifth of the database's cost of writing a coupling.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ferry_couplings_target_key")
                    .table("ferry_couplings")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ferry_couplings_target_key")
                    .table("ferry_couplings")
                    .col("integration")
                    .col("target_key")
                    .to_owned(),
            )
            .await
    }
}
