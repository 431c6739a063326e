//! Checking an integration against its target table: every mapped column exists and can hold what the
//! source sends.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbErr};

use crate::storage::Dialect;
use crate::storage::dialect::quote;

use super::{Problem, ProblemKind, Severity};
use crate::definitions::IntegrationDef;
use crate::mapping::{ColumnType, Mapping};

/// A column of an existing table, as the database describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetColumn {
    /// Lower-case declared type, e.g. `character varying(20)`, `bigint`.
    pub data_type: String,
}

/// An existing table: its columns and the column lists an upsert can conflict on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetTable {
    pub columns: HashMap<String, TargetColumn>,
    pub unique_keys: Vec<Vec<String>>,
}

/// `table` as it is, or `None` when it does not exist.
pub async fn target_table(
    db: &impl ConnectionTrait,
    table: &str,
) -> Result<Option<TargetTable>, DbErr> {
    let rows = Dialect::columns(db, table).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let columns = rows
        .into_iter()
        .map(|column| {
            let data_type = column.declared;
            (column.name, TargetColumn { data_type })
        })
        .collect();
    Ok(Some(TargetTable {
        columns,
        unique_keys: Dialect::unique_keys(db, table).await?,
    }))
}

const TEXT: &[&str] = &[
    "text",
    "character varying",
    "character",
    "citext",
    "varchar",
];

/// Whether a column of `data_type` can take values of `ty` without failing every row.
pub fn accepts(data_type: &str, ty: ColumnType) -> bool {
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
        ColumnType::Decimal { .. } | ColumnType::Double => {
            text || matches!(base, "numeric" | "double precision" | "real")
        }
        ColumnType::Bool => text || base == "boolean",
        ColumnType::Date => text || base == "date" || timestamp,
        ColumnType::Timestamp => text || timestamp,
        ColumnType::Guid => text || base == "uuid",
    }
}

/// Problems of the mapped columns against the table (`None`: the table does not exist) on an engine
/// of `dialect`.
pub fn check_target(
    def: &IntegrationDef,
    mapping: &Mapping,
    table: Option<&TargetTable>,
    dialect: Dialect,
) -> Vec<Problem> {
    let problem = |kind, field: &str, used_by: Vec<String>, message: String| Problem {
        integration: def.name.clone(),
        severity: Severity::Error,
        kind,
        field: field.to_string(),
        used_by,
        message,
    };
    let Some(table) = table else {
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
    let columns = &table.columns;
    let name = &def.target.table;
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
                    dialect.column_sql(column.ty)
                ),
            )),
            Some(c) if dialect.enforces_widths() => {
                if let Some(why) = too_narrow(&c.data_type, column.ty) {
                    problems.push(problem(
                        ProblemKind::ColumnTooNarrow,
                        &column.name,
                        used_by,
                        format!(
                            "column {:?} of table {name:?} is {}, {why}; such values fail their \
                             record (widen it: ALTER TABLE {} ALTER COLUMN {} TYPE {})",
                            column.name,
                            c.data_type,
                            quote(name),
                            quote(&column.name),
                            dialect.column_sql(column.ty)
                        ),
                    ))
                }
            }
            Some(_) => {}
        }
    }
    let key = &def.target.key;
    let backed = table
        .unique_keys
        .iter()
        .any(|unique| unique.len() == key.len() && unique.iter().all(|c| key.contains(c)));
    if !backed && key.iter().all(|k| columns.contains_key(k)) {
        let list: Vec<String> = key.iter().map(|k| quote(k)).collect();
        problems.push(problem(
            ProblemKind::KeyWithoutUniqueIndex,
            &key.join(", "),
            vec!["target.key".into()],
            format!(
                "no primary key or unique index of table {name:?} is exactly target.key {key:?}, \
                 and a row is written by its key, so no row can be; create one: CREATE UNIQUE \
                 INDEX ON {} ({})",
                quote(name),
                list.join(", ")
            ),
        ));
    }
    problems
}

/// Why a column declared `data_type` is narrower than values of `ty` can be, on an engine that
/// enforces widths: a text shorter than the source's `MaxLength`, a numeric with too few integer
/// digits.
fn too_narrow(data_type: &str, ty: ColumnType) -> Option<String> {
    let (base, args) = match data_type.split_once('(') {
        Some((base, rest)) => (base.trim(), rest.trim_end_matches(')')),
        None => return None,
    };
    let numbers: Vec<u32> = args
        .split(',')
        .map(|n| n.trim().parse())
        .collect::<Result<_, _>>()
        .ok()?;
    match (ty, numbers.as_slice()) {
        (ColumnType::Text { max_len: Some(len) }, [width])
            if TEXT.contains(&base) && *width < len =>
        {
            Some(format!("shorter than the source's MaxLength {len}"))
        }
        (ColumnType::Int16 | ColumnType::Int32 | ColumnType::Int64, [precision, scale @ ..])
            if base == "numeric" =>
        {
            let digits = precision - scale.first().copied().unwrap_or(0);
            let needed = match ty {
                ColumnType::Int16 => 5,
                ColumnType::Int32 => 10,
                _ => 19,
            };
            (digits < needed).then(|| {
                format!(
                    "with {digits} integer digits, fewer than the source's integers need ({needed})"
                )
            })
        }
        _ => None,
    }
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
        assert!(!accepts("boolean", ColumnType::DECIMAL));
    }
}
