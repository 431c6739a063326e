//! Adopting an existing target table's column types. A table made by hand (or by an older definition)
//! may be narrower than the source says — `varchar(5)`, `integer`, `date`, `NOT NULL` — and a value
//! that does not fit must fail its record, not the whole page's statement. So when the table exists,
//! each mapped column converts to the type the table really has. The stage that maps reads the table
//! (`sync::prepare`); the mapper stays pure.

use std::collections::HashMap;

use super::{ColumnType, Mapping};

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
        "numeric" => {
            let mut numbers = args.split(',').map(|n| n.trim().parse().ok());
            let precision = numbers.next().flatten();
            ColumnType::Decimal {
                precision,
                // `numeric(p)` is `numeric(p,0)`.
                scale: precision.map(|_| numbers.next().flatten().unwrap_or(0)),
            }
        }
        "double precision" | "real" => ColumnType::Double,
        "boolean" => ColumnType::Bool,
        "date" => ColumnType::Date,
        "timestamp with time zone" => ColumnType::Timestamp,
        "uuid" => ColumnType::Guid,
        _ => ColumnType::Text { max_len: None },
    }
}

impl Mapping {
    /// Takes the existing target table's types and NOT NULL constraints (`column → (declared type, not
    /// null)`, as `sink::existing_columns` reads them) for the mapped columns.
    pub fn adopt_columns(&mut self, existing: &HashMap<String, (Option<String>, bool)>) {
        for column in &mut self.columns {
            if let Some((declared, not_null)) = existing.get(&column.name) {
                if let Some(sql) = declared {
                    column.ty = column_type(sql);
                }
                column.not_null = *not_null;
            }
        }
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
        assert_eq!(
            column_type("numeric(10,2)"),
            ColumnType::Decimal {
                precision: Some(10),
                scale: Some(2)
            }
        );
        assert_eq!(column_type("numeric"), ColumnType::DECIMAL);
        assert_eq!(column_type("integer"), ColumnType::Int32);
        assert_eq!(
            column_type("timestamp with time zone"),
            ColumnType::Timestamp
        );
        assert_eq!(column_type("uuid"), ColumnType::Guid);
        assert_eq!(column_type("jsonb"), ColumnType::Text { max_len: None });
    }
}
