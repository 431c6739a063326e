//! What both engines' comparisons share (preview, `Dialect::compare`): the mapped rows as a `VALUES`
//! list `i` numbered `#`, joined to the table on the key, each column asked whether it differs and shown
//! on both sides as JSON. An engine spells the test and the JSON.

use super::{TableShape, quote};

/// `WITH i ("#", c…) AS (VALUES <tuples>) SELECT "#", <key found>, (<differs>, <json t>, <json i>)… FROM
/// i LEFT JOIN t ON <key> ORDER BY 1`. `column(c)` spells one column's three answers from `t.c`, `i.c`.
pub(super) fn statement_text(
    shape: &TableShape<'_>,
    tuples: &str,
    column: impl Fn(&str) -> String,
) -> String {
    let columns: Vec<String> = shape.columns.iter().map(|c| quote(c.name)).collect();
    let on: Vec<String> = shape
        .key_columns
        .iter()
        .map(|&k| format!("t.{0} = i.{0}", columns[k]))
        .collect();
    let mut select = vec![
        "i.\"#\"".to_string(),
        format!("t.{} IS NOT NULL", columns[shape.key_columns[0]]),
    ];
    select.extend(columns.iter().map(|c| column(c)));
    format!(
        "WITH i (\"#\", {}) AS (VALUES {tuples}) SELECT {} FROM i LEFT JOIN {} t ON {} ORDER BY 1",
        columns.join(", "),
        select.join(", "),
        quote(shape.table),
        on.join(" AND "),
    )
}
