//! The committed watermark of an integration; written in the same transaction as the page it covers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ferry_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub integration: String,
    /// A typed, opaque value (see `crate::checkpoint::Checkpoint`) as JSON.
    pub value: String,
    pub updated_at: DateTimeWithTimeZone,
    /// The version watermark as a number, so incremental writes never lower it.
    pub position: Option<i64>,
    /// What the checkpoint was measured with (`crate::checkpoint::Measured`) as JSON.
    pub measured: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
