//! Run callbacks in their own table: every trigger that asks for a callback keeps its own URL, also
//! when it joins a run already queued (a run row had room for one). `ferry_runs.callback_status` stays,
//! as the summary of the run's callbacks; `ferry_runs.callback_url` is no longer written. Callbacks of
//! earlier runs are carried over.

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
                    .table("ferry_run_callbacks")
                    .col(big_pk_auto("id"))
                    .col(big_integer("run_id"))
                    .col(text("url"))
                    // `pending`, `delivered` or `failed: <why>`.
                    .col(text("status"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("ferry_run_callbacks", "run_id")
                            .to("ferry_runs", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ferry_run_callbacks_run")
                    .table("ferry_run_callbacks")
                    .col("run_id")
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO ferry_run_callbacks (run_id, url, status, created_at) \
                 SELECT id, callback_url, COALESCE(callback_status, 'pending'), queued_at \
                 FROM ferry_runs WHERE callback_url IS NOT NULL",
            )
            .await?;
        Ok(())
    }
}
