//! A page's rows, decoded one at a time: one row the service sent that cannot be read (a lone UTF-16
//! surrogate, a number no float holds, nesting deeper than the parser allows) fails that record, not
//! the page; a page that failed whole would fail on every run, and the integration would be stuck.
//!
//! Numbers keep the text the service sent unless they are integers that fit 64 bits: a decimal read
//! through `f64` loses digits (`1234567890123456.78` became `…456.8`), so it travels as its text and
//! the column's type converts it exactly.

use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use super::removed::Entry;

/// One row as the source sent it.
pub type Row = Map<String, Value>;

/// The most of an undecodable row's text kept with its failure: enough to see what was wrong, not a
/// way to fill the failure log with one huge row.
pub const RAW_LIMIT: usize = 64 * 1024;

/// A row of a page that could not be decoded: it becomes a failed record with its text and the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Undecodable {
    /// The fields that did decode on their own (usually the key and the version), so the failure
    /// names its record and the checkpoint can pass it.
    pub fields: Row,
    /// The row as the service sent it, cut at [`RAW_LIMIT`] bytes.
    pub raw: String,
    pub reason: String,
}

/// A page's rows: those decoded and those that could not be, in no common order; in a delta
/// response also the records the service says are gone, and on its last page the next delta link.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rows {
    pub rows: Vec<Row>,
    pub undecodable: Vec<Undecodable>,
    /// Deleted entries (`odata::removed`), as sent.
    pub removed: Vec<Row>,
    /// `@odata.deltaLink`, resolved: where the next read of the changes starts.
    pub delta_link: Option<url::Url>,
}

impl From<Vec<Row>> for Rows {
    fn from(rows: Vec<Row>) -> Rows {
        Rows {
            rows,
            ..Rows::default()
        }
    }
}

impl Rows {
    /// Entries read: records decodable or not, and removals.
    pub fn len(&self) -> usize {
        self.rows.len() + self.undecodable.len() + self.removed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decodes rows kept as text (a parked record's payload) as a page's rows are decoded, so a
    /// replayed decimal keeps its digits too.
    pub fn from_payloads<'a>(payloads: impl IntoIterator<Item = &'a str>) -> Rows {
        let mut rows = Rows::default();
        for payload in payloads {
            match serde_json::from_str::<&RawValue>(payload) {
                Ok(raw) => match decode(raw) {
                    Ok(row) => rows.rows.push(row),
                    Err(undecodable) => rows.undecodable.push(undecodable),
                },
                Err(e) => rows.undecodable.push(Undecodable {
                    fields: Row::new(),
                    raw: payload.chars().take(RAW_LIMIT).collect(),
                    reason: format!("the kept payload is not JSON: {e}"),
                }),
            }
        }
        rows
    }

    /// Decodes each of a page's rows on its own, setting a delta response's removals apart (and
    /// leaving out its link entries, which are no records).
    pub fn decode(raw: &[&RawValue]) -> Rows {
        let mut rows = Rows::default();
        for row in raw {
            match decode(row) {
                Ok(row) => match super::removed::entry(&row) {
                    Entry::Record => rows.rows.push(row),
                    Entry::Removed => rows.removed.push(row),
                    Entry::Link => {}
                },
                Err(undecodable) => rows.undecodable.push(undecodable),
            }
        }
        rows
    }
}

/// One row. The common row (no fractional numbers) is parsed in one pass; a row with a fractional
/// or out-of-range number, or one that does not parse, is read again field by field.
pub fn decode(raw: &RawValue) -> Result<Row, Undecodable> {
    if let Ok(row) = serde_json::from_str::<Row>(raw.get())
        && !row
            .values()
            .any(|v| matches!(v, Value::Number(n) if n.is_f64()))
    {
        return Ok(row);
    }
    by_field(raw)
}

/// The slow path: each field on its own, numbers exactly; the first field that cannot be read makes
/// the row undecodable, with the fields read before and after it.
fn by_field(raw: &RawValue) -> Result<Row, Undecodable> {
    let undecodable = |fields: Row, reason: String| Undecodable {
        fields,
        raw: cut(raw.get()),
        reason,
    };
    let object: Vec<(String, &RawValue)> =
        match serde_json::from_str::<std::collections::BTreeMap<String, &RawValue>>(raw.get()) {
            Ok(object) => object.into_iter().collect(),
            Err(e) => return Err(undecodable(Row::new(), format!("unreadable row: {e}"))),
        };
    let mut row = Row::new();
    let mut problem = None;
    for (name, value) in object {
        match field(value) {
            Ok(value) => {
                row.insert(name, value);
            }
            Err(e) => {
                problem.get_or_insert_with(|| format!("unreadable field {name:?}: {e}"));
            }
        }
    }
    match problem {
        None => Ok(row),
        Some(reason) => Err(undecodable(row, reason)),
    }
}

/// One field's value. A number that is not a 64-bit integer keeps its text.
fn field(raw: &RawValue) -> Result<Value, serde_json::Error> {
    let text = raw.get();
    if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Ok(match serde_json::from_str::<Number>(text) {
            Ok(n) if !n.is_f64() => Value::Number(n),
            _ => Value::String(text.to_owned()),
        });
    }
    serde_json::from_str(text)
}

/// `text` cut at [`RAW_LIMIT`] bytes, on a character boundary, with any raw U+0000 spelled `\u0000`
/// (the failure log's text column could not hold it).
fn cut(text: &str) -> String {
    let mut end = text.len().min(RAW_LIMIT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].replace('\0', "\\u0000")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(body: &str) -> Rows {
        let raw: Vec<&RawValue> = serde_json::from_str(body).unwrap();
        Rows::decode(&raw)
    }

    #[test]
    fn one_unreadable_row_leaves_the_others_and_names_its_key() {
        let nested = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let body = format!(
            r#"[{{"No":"A","Name":"ok"}},
                {{"No":"B","Name":"\ud800"}},
                {{"No":"C","Amount":1e999}},
                {{"No":"D","Deep":{nested}}},
                {{"No":"E","Name":"also ok"}}]"#
        );
        let rows = page(&body);
        let keys: Vec<&Value> = rows.rows.iter().map(|r| &r["No"]).collect();
        assert_eq!(keys, [&json!("A"), &json!("C"), &json!("E")]);
        assert_eq!(rows.rows[1]["Amount"], json!("1e999"), "kept as text");
        assert_eq!(rows.undecodable.len(), 2);
        let surrogate = &rows.undecodable[0];
        assert_eq!(surrogate.fields["No"], json!("B"));
        assert!(
            surrogate.reason.contains("\"Name\""),
            "{}",
            surrogate.reason
        );
        assert!(surrogate.raw.contains(r"\ud800"));
        let deep = &rows.undecodable[1];
        assert_eq!(deep.fields["No"], json!("D"));
        assert!(deep.reason.contains("recursion"), "{}", deep.reason);
    }

    #[test]
    fn decimals_keep_their_digits_integers_stay_numbers() {
        let rows = page(
            r#"[{"a":1234567890123456.78,"b":0.1234567890123456789,"c":42,"d":-7,
                 "e":18446744073709551616,"f":"x"}]"#,
        );
        let row = &rows.rows[0];
        assert_eq!(row["a"], json!("1234567890123456.78"));
        assert_eq!(row["b"], json!("0.1234567890123456789"));
        assert_eq!(row["c"], json!(42));
        assert_eq!(row["d"], json!(-7));
        assert_eq!(row["e"], json!("18446744073709551616"));
        assert_eq!(row["f"], json!("x"));
    }

    #[test]
    fn a_huge_unreadable_row_keeps_its_first_64_kb() {
        let body = format!(r#"[{{"No":"A","x":"{}\ud800"}}]"#, "é".repeat(RAW_LIMIT));
        let rows = page(&body);
        let raw = &rows.undecodable[0].raw;
        assert!(raw.len() <= RAW_LIMIT && raw.len() > RAW_LIMIT - 4);
    }
}
