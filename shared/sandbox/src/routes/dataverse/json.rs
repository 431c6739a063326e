//! Rows in Dataverse's JSON ("Query data using the Web API"): `@odata.etag` as `W/"<versionnumber>"`,
//! the primary key always, `_transactioncurrencyid_value` beside money, Money as a JSON number with
//! four decimals (written as text, never through f64), and annotations only when asked for
//! through `Prefer: odata.include-annotations` and only for non-null values.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::prefer::Prefer;
use crate::model::dataverse::columns::{self, Kind};
use crate::model::{EdmType, EntitySchema, Store, Value, money};

pub const FORMATTED: &str = "OData.Community.Display.V1.FormattedValue";
pub const LOOKUP_LOGICAL_NAME: &str = "Microsoft.Dynamics.CRM.lookuplogicalname";
pub const NAVIGATION: &str = "Microsoft.Dynamics.CRM.associatednavigationproperty";

/// A Dataverse ETag: the row's version number, weak.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The columns a response carries: the selected ones (all visible ones without `$select`), plus
/// the key and, when a money column is in, the currency lookup; in schema order.
pub fn columns(schema: &EntitySchema, select: Option<&[usize]>) -> Vec<usize> {
    let Some(select) = select else {
        return (0..schema.fields.len())
            .filter(|&i| !schema.fields[i].hidden)
            .collect();
    };
    let mut out = select.to_vec();
    out.extend(schema.key_indices());
    if select
        .iter()
        .any(|&i| columns::kind(&schema.fields[i]) == Kind::Money)
        && let Some(c) = schema.index_of(columns::CURRENCY)
    {
        out.push(c);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Everything a row needs to be written.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub store: &'a Store,
    pub schema: &'static EntitySchema,
    pub columns: &'a [usize],
    pub prefer: &'a Prefer,
}

fn key(out: &mut String, name: &str) {
    let _ = write!(out, "{}:", serde_json::Value::from(name));
}

fn entry(out: &mut String, name: &str, value: &str) {
    key(out, name);
    let _ = write!(out, "{},", serde_json::Value::from(value));
}

/// `1/2/2024 3:04 PM`: a date-time formatted for a US-English user (UTC here).
fn formatted_date(t: &DateTime<Utc>) -> String {
    t.format("%-m/%-d/%Y %-I:%M %p").to_string()
}

/// `1,234`: a whole number's formatted value.
fn grouped(n: i64) -> String {
    let digits = money::group_thousands(&n.unsigned_abs().to_string());
    if n < 0 { format!("-{digits}") } else { digits }
}

/// A cell as JSON text.
pub fn value_json(v: &Value) -> String {
    match v {
        Value::Money(m) => money::text(*m),
        other => serde_json::to_string(other).unwrap_or_else(|_| "null".into()),
    }
}

impl Writer<'_> {
    /// The primary name of the row a lookup points at (the lookup's formatted value).
    fn target_name(&self, target: &str, id: &Value) -> Option<String> {
        let table = self.store.table(target)?;
        let row = table.rows.get(std::slice::from_ref(id))?;
        let name = table
            .schema
            .index_of("name")
            .or_else(|| table.schema.index_of("fullname"))?;
        row[name].as_str().map(str::to_owned)
    }

    fn annotations(&self, out: &mut String, name: &str, field_edm: EdmType, kind: Kind, v: &Value) {
        let formatted = match (kind, v) {
            (_, Value::Null) => return,
            (Kind::Choice, Value::Int(n)) => {
                crate::model::dataverse::choices::label(name, *n).map(str::to_owned)
            }
            (Kind::Money, Value::Money(m)) => Some(money::formatted(*m)),
            (Kind::DateTime, Value::DateTime(t)) => Some(formatted_date(t)),
            (Kind::Lookup(l), id) => {
                if self.prefer.wants(NAVIGATION) {
                    entry(out, &format!("{name}@{NAVIGATION}"), l.navigation);
                }
                if self.prefer.wants(LOOKUP_LOGICAL_NAME) {
                    entry(out, &format!("{name}@{LOOKUP_LOGICAL_NAME}"), l.target);
                }
                self.target_name(l.target, id)
            }
            (Kind::Plain, Value::Int(n)) if field_edm == EdmType::Int32 => Some(grouped(*n)),
            _ => None,
        };
        if let Some(text) = formatted
            && self.prefer.wants(FORMATTED)
        {
            entry(out, &format!("{name}@{FORMATTED}"), &text);
        }
    }

    /// Writes one row's object, with `extra` (already JSON `"k":v,` pairs) first.
    pub fn row(&self, out: &mut String, row: &[Value], version: Option<i64>, extra: &str) {
        out.push('{');
        out.push_str(extra);
        if let Some(v) = version {
            entry(out, "@odata.etag", &etag(v));
        }
        for &i in self.columns {
            let field = &self.schema.fields[i];
            let v = &row[i];
            self.annotations(out, field.name, field.edm, columns::kind(field), v);
            key(out, field.name);
            out.push_str(&value_json(v));
            out.push(',');
        }
        if out.ends_with(',') {
            out.pop();
        }
        out.push('}');
    }
}

/// A collection body: context, optional count, the rows (already JSON), and the links.
pub fn collection(
    context: &str,
    count: Option<usize>,
    rows: &[String],
    next_link: Option<&str>,
    delta_link: Option<&str>,
) -> Vec<u8> {
    let mut out = String::with_capacity(256 + rows.iter().map(String::len).sum::<usize>());
    out.push('{');
    entry(&mut out, "@odata.context", context);
    if let Some(n) = count {
        let _ = write!(out, "\"@odata.count\":{n},");
    }
    out.push_str("\"value\":[");
    out.push_str(&rows.join(","));
    out.push(']');
    if let Some(link) = next_link {
        let _ = write!(
            out,
            ",\"@odata.nextLink\":{}",
            serde_json::Value::from(link)
        );
    }
    if let Some(link) = delta_link {
        let _ = write!(
            out,
            ",\"@odata.deltaLink\":{}",
            serde_json::Value::from(link)
        );
    }
    out.push('}');
    out.into_bytes()
}
