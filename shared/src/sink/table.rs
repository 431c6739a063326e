//! The target table: creating it from the mapping's column types (`create = true`), and reading the
//! columns of one that exists.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbErr};

use crate::mapping::Mapping;
use crate::storage::Dialect;
use crate::storage::dialect::{ShapeColumn, TableShape};

pub use crate::storage::dialect::quote;

/// Whether the target table holds no row at all: one row read at most.
pub async fn is_empty(db: &impl ConnectionTrait, table: &str) -> Result<bool, DbErr> {
    let statement = crate::storage::statement(
        db.get_database_backend(),
        &format!("SELECT 1 FROM {} LIMIT 1", quote(table)),
        [],
    );
    Ok(db.query_one_raw(statement).await?.is_none())
}

/// `CREATE TABLE IF NOT EXISTS` with the mapped columns and the target key as primary key. An existing
/// table is left as it is.
pub async fn create_table(db: &impl ConnectionTrait, mapping: &Mapping) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let mut parts: Vec<String> = mapping
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let not_null = if mapping.key_columns.contains(&i) {
                " NOT NULL"
            } else {
                ""
            };
            format!(
                "{} {}{not_null}",
                quote(&c.name),
                Dialect::from(backend).column_sql(c.ty)
            )
        })
        .collect();
    let key: Vec<String> = mapping
        .key_columns
        .iter()
        .map(|&i| quote(&mapping.columns[i].name))
        .collect();
    parts.push(format!("PRIMARY KEY ({})", key.join(", ")));
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} ({}){}",
        quote(&mapping.table),
        parts.join(", "),
        Dialect::from(backend).table_options()
    );
    db.execute_unprepared(&sql).await?;
    Ok(())
}

/// `column → (declared type, not null)` of the existing target `table`, for the mapper to adopt; empty
/// when the table does not exist. The declared type is left out where the engine's declared types are
/// affinities rather than types (`Dialect::adopts_column_types`): there the types derived from
/// `$metadata` stand, and only NOT NULL is taken, so a null fails its record rather than the page.
pub async fn existing_columns(
    db: &impl ConnectionTrait,
    table: &str,
) -> Result<HashMap<String, (Option<String>, bool)>, DbErr> {
    let adopts_types = Dialect::of(db).adopts_column_types();
    Ok(Dialect::columns(db, table)
        .await?
        .into_iter()
        .map(|c| (c.name, (adopts_types.then_some(c.declared), c.not_null)))
        .collect())
}

/// The target table of `mapping` as the dialect's SQL needs it.
pub fn shape(mapping: &Mapping) -> TableShape<'_> {
    TableShape {
        table: &mapping.table,
        columns: mapping
            .columns
            .iter()
            .map(|c| ShapeColumn {
                name: &c.name,
                ty: c.ty,
            })
            .collect(),
        key_columns: &mapping.key_columns,
    }
}
