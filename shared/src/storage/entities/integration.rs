//! One version of an integration definition. Versions are never updated: applying a change adds a row,
//! and every run records the version it executed (invariant 7).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ferry_integrations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub version: i32,
    pub connection: String,
    /// The definition as canonical JSON.
    pub definition: String,
    pub digest: String,
    pub applied_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
