//! Creating a target table from the mapping's column types (`create = true`).

use sea_orm::{ConnectionTrait, DbErr};

use crate::mapping::Mapping;

/// A quoted SQL identifier. Definitions only admit `[A-Za-z_][A-Za-z0-9_]*`, quoting keeps case as written.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
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
            format!("{} {}{not_null}", quote(&c.name), c.ty.sql(backend))
        })
        .collect();
    let key: Vec<String> = mapping
        .key_columns
        .iter()
        .map(|&i| quote(&mapping.columns[i].name))
        .collect();
    parts.push(format!("PRIMARY KEY ({})", key.join(", ")));
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        quote(&mapping.table),
        parts.join(", ")
    );
    db.execute_unprepared(&sql).await?;
    Ok(())
}
