//! An integration's standing: enabled, disabled or deleted (`definitions::lifecycle`). Per name, not
//! per version; no row means enabled.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ferry_integration_lifecycle")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// `enabled`, `disabled` or `deleted`.
    pub state: String,
    /// When the state last changed (for an enabled one: since when it is live).
    pub changed_at: DateTimeWithTimeZone,
    /// Who changed it: "cli:alice", "api", "apply".
    pub changed_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
