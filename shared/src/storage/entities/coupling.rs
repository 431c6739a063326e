//! A coupling record: the target row one source record of an integration became (ARCHITECTURE.md, "Checkpoints and couplings"). The rows
//! an integration owns are exactly those it holds couplings for.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ferry_couplings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub integration: String,
    /// The source key as text (`A|B` when composite).
    #[sea_orm(primary_key, auto_increment = false)]
    pub source_key: String,
    /// The target key's values as a JSON array, in target key column order.
    pub target_key: String,
    /// The target table the row was written to (`None` only for couplings from before m0008 whose
    /// integration was gone).
    pub target_table: Option<String>,
    /// The source version last written, when the source row carried one.
    pub source_version: Option<i64>,
    /// SHA-256 (hex) of the mapped values last written: equal means the target needs no write.
    pub hash: String,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
