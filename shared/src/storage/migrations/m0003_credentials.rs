//! Stored credentials: client secrets set with `ferry connection set-secret` and the refresh tokens of
//! device-code sign-ins. Every secret column holds AES-256-GCM ciphertext (invariant 6); `key_id` names
//! the master key it was sealed under, so `ferry keys rotate` knows which rows still need re-sealing.

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
                    .table("ferry_credentials")
                    .col(pk_auto("id"))
                    .col(string("connection"))
                    .col(string("kind"))
                    .col(text("ciphertext"))
                    .col(string("key_id"))
                    .col(text_null("access_ciphertext"))
                    .col(timestamp_with_time_zone_null("access_expires_at"))
                    .col(string_null("account"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ferry_credentials_connection_kind")
                    .table("ferry_credentials")
                    .col("connection")
                    .col("kind")
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
