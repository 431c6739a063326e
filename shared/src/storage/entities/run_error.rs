//! A record that failed during a run, with the source payload so it can be inspected and replayed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ferry_run_errors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_id: i64,
    pub integration: String,
    pub record_key: String,
    pub message: String,
    /// The source row as JSON.
    pub payload: String,
    /// The values mapped before the failure, as a JSON object (column → value).
    pub mapped: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    /// When a later run wrote the record.
    pub resolved_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
