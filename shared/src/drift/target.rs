//! Checking an integration against its target table: every mapped column exists and can hold what the
//! source sends.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbErr};

use crate::storage::Dialect;

use super::{Problem, ProblemKind};
use crate::definitions::IntegrationDef;
use crate::mapping::{ColumnType, Mapping};

/// A column of an existing table, as the database describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetColumn {
    /// Lower-case declared type, e.g. `character varying(20)`, `bigint`.
    pub data_type: String,
}

/// The columns of `table`, or `None` when it does not exist.
pub async fn target_columns(
    db: &impl ConnectionTrait,
    table: &str,
) -> Result<Option<HashMap<String, TargetColumn>>, DbErr> {
    let rows = Dialect::columns(db, table).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut columns = HashMap::new();
    for column in rows {
        columns.insert(
            column.name,
            TargetColumn {
                data_type: column.declared,
            },
        );
    }
    Ok(Some(columns))
}

const TEXT: &[&str] = &[
    "text",
    "character varying",
    "character",
    "citext",
    "varchar",
];

/// Whether a column of `data_type` can take values of `ty` without failing every row.
fn accepts(data_type: &str, ty: ColumnType) -> bool {
    let base = data_type.split('(').next().unwrap_or(data_type).trim();
    let text = TEXT.contains(&base);
    let timestamp = base.starts_with("timestamp");
    match ty {
        ColumnType::Text { .. } => text,
        ColumnType::Int16 => {
            text || matches!(
                base,
                "smallint" | "integer" | "bigint" | "numeric" | "double precision" | "real"
            )
        }
        ColumnType::Int32 => {
            text || matches!(
                base,
                "integer" | "bigint" | "numeric" | "double precision" | "real"
            )
        }
        ColumnType::Int64 => text || matches!(base, "bigint" | "numeric"),
        ColumnType::Decimal | ColumnType::Double => {
            text || matches!(base, "numeric" | "double precision" | "real")
        }
        ColumnType::Bool => text || base == "boolean",
        ColumnType::Date => text || base == "date" || timestamp,
        ColumnType::Timestamp => text || timestamp,
        ColumnType::Guid => text || base == "uuid",
    }
}

/// Problems of the mapped columns against the table's columns (`None`: the table does not exist).
pub fn check_target(
    def: &IntegrationDef,
    mapping: &Mapping,
    columns: Option<&HashMap<String, TargetColumn>>,
) -> Vec<Problem> {
    let problem = |kind, field: &str, used_by: Vec<String>, message: String| Problem {
        integration: def.name.clone(),
        kind,
        field: field.to_string(),
        used_by,
        message,
    };
    let Some(columns) = columns else {
        if def.target.create {
            return Vec::new();
        }
        return vec![problem(
            ProblemKind::MissingTable,
            &def.target.table,
            vec!["target.table".into()],
            format!(
                "target table {:?} does not exist (and target.create is false)",
                def.target.table
            ),
        )];
    };
    let mut problems = Vec::new();
    for (n, column) in mapping.columns.iter().enumerate() {
        let used_by = vec![format!("fields[{n}] (→ {})", column.name)];
        match columns.get(&column.name) {
            None => problems.push(problem(
                ProblemKind::MissingColumn,
                &column.name,
                used_by,
                format!(
                    "column {:?} does not exist in table {:?}",
                    column.name, def.target.table
                ),
            )),
            Some(c) if !accepts(&c.data_type, column.ty) => problems.push(problem(
                ProblemKind::IncompatibleColumn,
                &column.name,
                used_by,
                format!(
                    "column {:?} of table {:?} is {}, which cannot hold {} values from the source",
                    column.name,
                    def.target.table,
                    c.data_type,
                    Dialect::Postgres.column_sql(column.ty)
                ),
            )),
            Some(_) => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_follows_what_the_writer_binds() {
        assert!(accepts(
            "character varying",
            ColumnType::Text { max_len: Some(5) }
        ));
        assert!(!accepts("integer", ColumnType::Text { max_len: None }));
        assert!(accepts("bigint", ColumnType::Int64));
        assert!(!accepts("integer", ColumnType::Int64));
        assert!(accepts("text", ColumnType::Guid));
        assert!(accepts("timestamp with time zone", ColumnType::Timestamp));
        assert!(!accepts("boolean", ColumnType::Decimal));
    }
}
