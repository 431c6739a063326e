//! Query execution with keyset paging: a skip token carries the last row's sort values (ending with
//! its key), and the next page starts strictly after that position. Unlike an offset, this stays
//! exactly-once while rows are inserted or updated between page requests.

use std::cmp::Ordering;
use std::ops::Bound;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};

use super::error::ODataError;
use super::query::{Query, SortKey};
use crate::model::{EdmType, EntitySchema, Row, Table, Value};

/// The largest page BC serves; `Prefer: odata.maxpagesize` above it is rejected with 413.
pub const MAX_PAGE_SIZE: usize = 20_000;

#[derive(Debug)]
pub struct SkipToken;

fn invalid_token() -> ODataError {
    ODataError::bad_request("The $skiptoken value is not valid for this query.")
}

fn to_json(v: &Value) -> serde_json::Value {
    match v {
        // Exact, unlike a JSON number for huge decimals; plain numbers for everything else.
        Value::Decimal(d) => serde_json::Value::String(d.to_string()),
        other => serde_json::Value::from(other),
    }
}

fn from_json(v: &serde_json::Value, edm: EdmType) -> Option<Value> {
    use serde_json::Value as J;
    Some(match (v, edm) {
        (J::Null, _) => Value::Null,
        (J::String(s), EdmType::String) => Value::str(s.as_str()),
        (J::Number(n), EdmType::Int32 | EdmType::Int64) => Value::Int(n.as_i64()?),
        (J::String(s), EdmType::Decimal) => Value::Decimal(s.parse().ok()?),
        (J::Bool(b), EdmType::Boolean) => Value::Bool(*b),
        (J::String(s), EdmType::Guid) => Value::Guid(s.parse().ok()?),
        (J::String(s), EdmType::DateTimeOffset) => {
            Value::DateTime(DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc))
        }
        (J::String(s), EdmType::Date) => {
            Value::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?)
        }
        _ => return None,
    })
}

impl SkipToken {
    /// base64url(JSON array of the sort values): opaque to clients, URL-safe, typed on decode.
    pub fn encode(row: &[Value], order: &[SortKey]) -> String {
        let values: Vec<serde_json::Value> = order.iter().map(|k| to_json(&row[k.field])).collect();
        URL_SAFE_NO_PAD.encode(serde_json::Value::Array(values).to_string())
    }

    pub fn decode(
        token: &str,
        schema: &EntitySchema,
        order: &[SortKey],
    ) -> Result<Vec<Value>, ODataError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| invalid_token())?;
        let json: Vec<serde_json::Value> =
            serde_json::from_slice(&bytes).map_err(|_| invalid_token())?;
        if json.len() != order.len() {
            return Err(invalid_token());
        }
        json.iter()
            .zip(order)
            .map(|(j, k)| from_json(j, schema.fields[k.field].edm).ok_or_else(invalid_token))
            .collect()
    }
}

/// One page of results.
#[derive(Debug)]
pub struct Page {
    pub rows: Vec<Row>,
    /// Rows remain after this page (within `$top`).
    pub more: bool,
    /// `@odata.count`: all rows matching the filter, when `$count=true`.
    pub count: Option<usize>,
}

/// Compares a row with a position (sort values), honoring each key's direction.
fn cmp_position(row: &[Value], position: &[Value], order: &[SortKey]) -> Ordering {
    for (k, p) in order.iter().zip(position) {
        let o = row[k.field].total_cmp(p);
        let o = if k.desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn cmp_rows(a: &[Value], b: &[Value], order: &[SortKey]) -> Ordering {
    for k in order {
        let o = a[k.field].total_cmp(&b[k.field]);
        let o = if k.desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Takes rows (already in order and past the skip token) until the page is full plus one lookahead.
fn collect<'a>(
    rows: impl Iterator<Item = &'a Row>,
    query: &Query,
    limit: usize,
) -> (Vec<Row>, bool) {
    let mut skip = if query.after.is_some() { 0 } else { query.skip };
    let mut out = Vec::with_capacity(limit.min(4096));
    for row in rows {
        if let Some(f) = &query.filter
            && !f.eval(row)
        {
            continue;
        }
        if skip > 0 {
            skip -= 1;
            continue;
        }
        if out.len() == limit {
            return (out, true);
        }
        out.push(row.clone());
    }
    (out, false)
}

/// Runs `query` over `table`, returning at most `page_size` rows. Uses the version index when the
/// order starts with the row version, the key index when it starts with the key, and otherwise
/// filters and sorts everything (correct, but O(n log n) per page).
pub fn execute(table: &Table, query: &Query, page_size: usize) -> Page {
    let limit = query.top.map_or(page_size, |t| t.min(page_size));
    let count = query.count.then(|| {
        table
            .rows
            .values()
            .filter(|r| query.filter.as_ref().is_none_or(|f| f.eval(r)))
            .count()
    });
    let first = query.order[0];
    let after = query.after.as_deref();
    let (rows, more) = if Some(first.field) == table.version_idx {
        // Versions are unique, so the first sort value alone fixes the position.
        let token = after.and_then(|a| a[0].as_i64());
        let floor = query
            .filter
            .as_ref()
            .and_then(|f| f.lower_bound(first.field));
        if first.desc {
            let upper = token.map_or(Bound::Unbounded, Bound::Excluded);
            let iter = table.by_version.range((Bound::Unbounded, upper)).rev();
            let iter = iter
                .take_while(|(v, _)| floor.is_none_or(|f| **v >= f))
                .map(|(_, r)| r);
            collect(iter, query, limit)
        } else {
            let lower = match (token, floor) {
                (Some(t), Some(f)) if f > t => Bound::Included(f),
                (Some(t), _) => Bound::Excluded(t),
                (None, Some(f)) => Bound::Included(f),
                (None, None) => Bound::Unbounded,
            };
            collect(
                table
                    .by_version
                    .range((lower, Bound::Unbounded))
                    .map(|(_, r)| r),
                query,
                limit,
            )
        }
    } else if query.order.len() >= table.key_idx.len()
        && query
            .order
            .iter()
            .zip(&table.key_idx)
            .all(|(k, i)| k.field == *i && k.desc == first.desc)
    {
        // Ordered by the (unique) key: walk the key index.
        let key: Option<Vec<Value>> = after.map(|a| a[..table.key_idx.len()].to_vec());
        if first.desc {
            let upper = key.map_or(Bound::Unbounded, Bound::Excluded);
            collect(
                table
                    .rows
                    .range((Bound::Unbounded, upper))
                    .rev()
                    .map(|(_, r)| r),
                query,
                limit,
            )
        } else {
            let lower = key.map_or(Bound::Unbounded, Bound::Excluded);
            collect(
                table.rows.range((lower, Bound::Unbounded)).map(|(_, r)| r),
                query,
                limit,
            )
        }
    } else {
        let mut all: Vec<&Row> = table
            .rows
            .values()
            .filter(|r| after.is_none_or(|a| cmp_position(r, a, &query.order) == Ordering::Greater))
            .filter(|r| query.filter.as_ref().is_none_or(|f| f.eval(r)))
            .collect();
        all.sort_by(|a, b| cmp_rows(a, b, &query.order));
        collect(all.into_iter(), query, limit)
    };
    Page { rows, more, count }
}
