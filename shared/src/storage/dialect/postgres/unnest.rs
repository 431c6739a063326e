//! The Postgres page statement: one `INSERT … SELECT unnest(typed array), …` per page, one binary
//! array parameter per column instead of one parameter per value. The statement text depends only on
//! the shape (and on which columns hold nulls), so it is prepared once and reused page after page.
//!
//! Arrays travel through sea-query, which cannot bind a NULL element (it panics with "This Value::Array
//! should consist of …"). A column with nulls therefore travels as its values with a filler in each null
//! slot plus a `boolean[]` mask, and the `SELECT` puts the NULLs back: still binary, still one statement.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::ArrayType;
use sea_orm::{DbBackend, Statement, Value};

use super::upsert::insert_sql;
use crate::mapping::types::{ColumnType, is_null};
use crate::storage::dialect::{Landing, TableShape};

/// The Postgres array type for elements of `element` (base types only, so a cast never truncates:
/// `varchar(n)` would cut silently; length is checked per record instead), and a non-null value of
/// that type to stand in a null slot.
fn element_of(element: &ArrayType) -> Option<(&'static str, Value)> {
    Some(match element {
        ArrayType::String => ("text[]", Value::String(Some(String::new()))),
        ArrayType::SmallInt => ("smallint[]", Value::SmallInt(Some(0))),
        ArrayType::Int => ("integer[]", Value::Int(Some(0))),
        ArrayType::BigInt => ("bigint[]", Value::BigInt(Some(0))),
        ArrayType::Decimal => ("numeric[]", Value::Decimal(Some(Decimal::ZERO))),
        ArrayType::Float => ("float4[]", Value::Float(Some(0.0))),
        ArrayType::Double => ("float8[]", Value::Double(Some(0.0))),
        ArrayType::Bool => ("boolean[]", Value::Bool(Some(false))),
        // Fillers stay inside Postgres's date range (chrono's MIN would not encode).
        ArrayType::ChronoDate => ("date[]", Value::ChronoDate(Some(NaiveDate::default()))),
        ArrayType::ChronoDateTimeWithTimeZone => (
            "timestamptz[]",
            Value::ChronoDateTimeWithTimeZone(Some(DateTime::<Utc>::UNIX_EPOCH.fixed_offset())),
        ),
        ArrayType::Uuid => ("uuid[]", Value::Uuid(Some(uuid::Uuid::nil()))),
        _ => return None,
    })
}

/// One column as parameters: its values array and, when it holds nulls, their mask.
struct ColumnArrays {
    cast: &'static str,
    values: Value,
    nulls: Option<Value>,
}

/// One column's values as a typed array. The element type comes from the values themselves (a lookup
/// may bring another type than the source field's); `Err` gives the values back when the column mixes
/// types or has one Postgres arrays are not built for here.
fn column_arrays(values: Vec<Value>, declared: ColumnType) -> Result<ColumnArrays, Vec<Value>> {
    let element = values
        .iter()
        .find(|&v| !is_null(v))
        .map(Value::array_type)
        .unwrap_or_else(|| declared.null().array_type());
    let Some((cast, filler)) = element_of(&element) else {
        return Err(values);
    };
    if values
        .iter()
        .any(|v| !is_null(v) && v.array_type() != element)
    {
        return Err(values);
    }
    let nulls = values.iter().any(is_null).then(|| {
        let mask = values
            .iter()
            .map(|v| Value::Bool(Some(is_null(v))))
            .collect();
        Value::Array(ArrayType::Bool, Some(Box::new(mask)))
    });
    let values = if nulls.is_some() {
        values
            .into_iter()
            .map(|v| if is_null(&v) { filler.clone() } else { v })
            .collect()
    } else {
        values
    };
    Ok(ColumnArrays {
        cast,
        values: Value::Array(element, Some(Box::new(values))),
        nulls,
    })
}

/// The page as one `unnest` statement, or the rows back when a column cannot travel as an array.
pub(super) fn statement(
    shape: &TableShape<'_>,
    rows: Vec<Vec<Value>>,
    landing: Landing,
) -> Result<Statement, Vec<Vec<Value>>> {
    let width = shape.columns.len();
    let height = rows.len();
    let mut columns: Vec<Vec<Value>> = (0..width).map(|_| Vec::with_capacity(height)).collect();
    for row in rows {
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value);
        }
    }
    let mut built: Vec<ColumnArrays> = Vec::with_capacity(width);
    let mut columns = columns.into_iter();
    for def in &shape.columns {
        let values = columns.next().unwrap_or_default();
        match column_arrays(values, def.ty) {
            Ok(arrays) => built.push(arrays),
            Err(values) => return Err(rebuild(built, values, columns, height, width)),
        }
    }
    let (mut arrays, mut select) = (Vec::new(), Vec::new());
    let mut values = Vec::with_capacity(width * 2);
    for (i, column) in built.into_iter().enumerate() {
        values.push(column.values);
        arrays.push(format!(
            "unnest(${}::{}) AS c{i}",
            values.len(),
            column.cast
        ));
        match column.nulls {
            Some(mask) => {
                values.push(mask);
                arrays.push(format!("unnest(${}::boolean[]) AS n{i}", values.len()));
                select.push(format!("CASE WHEN u.n{i} THEN NULL ELSE u.c{i} END"));
            }
            None => select.push(format!("u.c{i}")),
        }
    }
    // `unnest` in the select list streams the arrays in step; `FROM UNNEST(a, b, …)` would first copy
    // every row into a tuplestore, which costs a fifth of the statement.
    let rows = format!(
        "SELECT {} FROM (SELECT {}) AS u",
        select.join(", "),
        arrays.join(", ")
    );
    Ok(Statement::from_sql_and_values(
        DbBackend::Postgres,
        insert_sql(shape, &rows, landing),
        values,
    ))
}

/// The rows again, from the columns already turned into arrays, the one that could not be, and the rest.
fn rebuild(
    built: Vec<ColumnArrays>,
    failed: Vec<Value>,
    rest: impl Iterator<Item = Vec<Value>>,
    height: usize,
    width: usize,
) -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> = (0..height).map(|_| Vec::with_capacity(width)).collect();
    let done = built.into_iter().map(|c| {
        let values = match c.values {
            Value::Array(_, Some(items)) => *items,
            _ => Vec::new(),
        };
        match c.nulls {
            // Put the NULLs back where fillers stand.
            Some(Value::Array(_, Some(mask))) => values
                .into_iter()
                .zip(mask.iter())
                .map(|(v, null)| {
                    if *null == Value::Bool(Some(true)) {
                        v.as_null()
                    } else {
                        v
                    }
                })
                .collect(),
            _ => values,
        }
    });
    for column in done.chain([failed]).chain(rest) {
        for (row, value) in rows.iter_mut().zip(column) {
            row.push(value);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_with_nulls_travels_as_values_and_a_mask() {
        let values = vec![
            Value::String(Some("a".into())),
            Value::String(None),
            Value::String(Some("c".into())),
        ];
        let arrays = column_arrays(values, ColumnType::Text { max_len: None })
            .unwrap_or_else(|_| panic!("text travels as an array"));
        assert_eq!(arrays.cast, "text[]");
        let Value::Array(ArrayType::String, Some(items)) = arrays.values else {
            panic!("a text array");
        };
        assert!(items.iter().all(|v| v.as_null() != *v), "no NULL element");
        let Some(Value::Array(ArrayType::Bool, Some(mask))) = arrays.nulls else {
            panic!("a mask");
        };
        assert_eq!(
            *mask,
            vec![
                Value::Bool(Some(false)),
                Value::Bool(Some(true)),
                Value::Bool(Some(false))
            ]
        );
    }

    #[test]
    fn an_all_null_column_takes_its_declared_type_and_a_column_without_nulls_has_no_mask() {
        let all_null = column_arrays(vec![Value::BigInt(None); 2], ColumnType::Int64)
            .unwrap_or_else(|_| panic!("bigint travels as an array"));
        assert_eq!(all_null.cast, "bigint[]");
        assert!(all_null.nulls.is_some());
        let full = column_arrays(vec![Value::Int(Some(1))], ColumnType::Int64)
            .unwrap_or_else(|_| panic!("integer travels as an array"));
        assert_eq!(full.cast, "integer[]", "the values' own type wins");
        assert!(full.nulls.is_none());
    }

    #[test]
    fn a_column_mixing_types_gives_the_values_back() {
        let mixed = vec![Value::Int(Some(1)), Value::String(Some("x".into()))];
        let back = column_arrays(mixed.clone(), ColumnType::Int32)
            .err()
            .expect("mixed types are refused");
        assert_eq!(back, mixed);
    }
}
