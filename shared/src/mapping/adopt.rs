//! Adopting an existing target table's column types. A table made by hand (or by an older definition)
//! may be narrower than the source says — `varchar(5)`, `integer`, `date`, `NOT NULL` — and a value
//! that does not fit must fail its record, not the whole page's statement. So when the table exists,
//! each mapped column converts to the type the table really has.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbErr};

use super::{ColumnType, Mapping};
use crate::storage::Dialect;

/// The column type of a Postgres type as `format_type` prints it (`character varying(20)`, `numeric`).
pub fn column_type(sql: &str) -> ColumnType {
    let (base, args) = match sql.split_once('(') {
        Some((base, rest)) => (base.trim(), rest.trim_end_matches(')')),
        None => (sql.trim(), ""),
    };
    match base {
        "character varying" | "character" => ColumnType::Text {
            max_len: args.parse().ok(),
        },
        "smallint" => ColumnType::Int16,
        "integer" => ColumnType::Int32,
        "bigint" => ColumnType::Int64,
        "numeric" => ColumnType::Decimal,
        "double precision" | "real" => ColumnType::Double,
        "boolean" => ColumnType::Bool,
        "date" => ColumnType::Date,
        "timestamp with time zone" => ColumnType::Timestamp,
        "uuid" => ColumnType::Guid,
        _ => ColumnType::Text { max_len: None },
    }
}

/// `column → (type, not null)` of `table`, empty when it does not exist or when the engine's declared
/// types are not ones to adopt (`Dialect::adopts_column_types`): there the types derived from
/// `$metadata` stand.
pub async fn table_columns(
    db: &impl ConnectionTrait,
    table: &str,
) -> Result<HashMap<String, (String, bool)>, DbErr> {
    if !Dialect::of(db).adopts_column_types() {
        return Ok(HashMap::new());
    }
    Ok(Dialect::columns(db, table)
        .await?
        .into_iter()
        .map(|c| (c.name, (c.declared, c.not_null)))
        .collect())
}

impl Mapping {
    /// Takes the existing target table's types and NOT NULL constraints for the mapped columns.
    pub async fn adopt_table(&mut self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let existing = table_columns(db, &self.table).await?;
        for column in &mut self.columns {
            if let Some((sql, not_null)) = existing.get(&column.name) {
                column.ty = column_type(sql);
                column.not_null = *not_null;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_postgres_type_names() {
        assert_eq!(
            column_type("character varying(20)"),
            ColumnType::Text { max_len: Some(20) }
        );
        assert_eq!(
            column_type("character varying"),
            ColumnType::Text { max_len: None }
        );
        assert_eq!(column_type("numeric(10,2)"), ColumnType::Decimal);
        assert_eq!(column_type("integer"), ColumnType::Int32);
        assert_eq!(
            column_type("timestamp with time zone"),
            ColumnType::Timestamp
        );
        assert_eq!(column_type("uuid"), ColumnType::Guid);
        assert_eq!(column_type("jsonb"), ColumnType::Text { max_len: None });
    }
}
