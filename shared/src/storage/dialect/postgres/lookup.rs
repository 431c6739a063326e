//! Lookups on Postgres: the page's distinct source tuples go in as parallel text arrays, cast to the
//! match columns' types, joined to the table.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};

use crate::storage::dialect::LookupShape;
use crate::storage::dialect::quote;

/// Rows of `(match tuple as text…, selected value as JSON text)` for the `wanted` tuples, in one
/// statement.
pub async fn find(
    db: &impl ConnectionTrait,
    lookup: &LookupShape<'_>,
    wanted: &[Vec<String>],
) -> Result<Vec<QueryResult>, DbErr> {
    let width = lookup.match_columns.len();
    let arrays: Vec<Value> = (0..width)
        .map(|i| {
            let column: Vec<String> = wanted.iter().map(|t| t[i].clone()).collect();
            Value::from(column)
        })
        .collect();
    let params: Vec<String> = (1..=arrays.len())
        .map(|i| format!("${i}::text[]"))
        .collect();
    let names: Vec<String> = (0..arrays.len()).map(|i| format!("k{i}")).collect();
    let join: Vec<String> = lookup
        .match_columns
        .iter()
        .zip(lookup.match_types)
        .enumerate()
        .map(|(i, (c, ty))| format!("t.{} = k.k{i}::{}", quote(c), base_type(ty)))
        .collect();
    let keys: Vec<String> = names.iter().map(|n| format!("k.{n}")).collect();
    // One index probe per wanted tuple (a LATERAL with LIMIT is never flattened into a hash join), so
    // a page's lookups cost the same in a table of a thousand rows or ten million.
    let sql = format!(
        "SELECT {}, to_json(t.v)::text FROM unnest({}) AS k({}) CROSS JOIN LATERAL \
         (SELECT t.{} AS v FROM {} t WHERE {} LIMIT 1) AS t",
        keys.join(", "),
        params.join(", "),
        names.join(", "),
        quote(lookup.select),
        quote(lookup.table),
        join.join(" AND "),
    );
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        arrays,
    ))
    .await
}

/// A declared type without its length, precision or scale: a tuple cast to `varchar(4)` would be cut
/// to four characters (`name 1`, `name 2` and `name` would all match `name`), one cast to
/// `numeric(5,2)` rounded. A blank-padded `character(n)` becomes `bpchar` (plain `character` means
/// one character), `bit(n)` becomes `varbit`.
fn base_type(declared: &str) -> String {
    let mut base = String::with_capacity(declared.len());
    let mut depth = 0u32;
    for c in declared.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => base.push(c),
            _ => {}
        }
    }
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    let (name, array) = match base.strip_suffix("[]") {
        Some(name) => (name.trim_end(), "[]"),
        None => (base.as_str(), ""),
    };
    let name = match name {
        "character" | "char" => "bpchar",
        "bit" => "varbit",
        other => other,
    };
    format!("{name}{array}")
}

#[cfg(test)]
mod tests {
    use super::base_type;

    #[test]
    fn lengths_precisions_and_scales_are_left_out_of_the_cast() {
        for (declared, base) in [
            ("character varying(4)", "character varying"),
            ("varchar(4)", "varchar"),
            ("numeric(12,2)", "numeric"),
            ("character(8)", "bpchar"),
            ("timestamp(3) with time zone", "timestamp with time zone"),
            ("character varying(4)[]", "character varying[]"),
            ("bit(3)", "varbit"),
            ("bigint", "bigint"),
            ("uuid", "uuid"),
        ] {
            assert_eq!(base_type(declared), base, "{declared}");
        }
    }
}
