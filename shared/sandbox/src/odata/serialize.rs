//! Streaming rows straight into JSON with serde (no intermediate `serde_json::Value` per row).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::model::{EntitySchema, Row, Value};

/// A weak ETag in BC's shape (`W/"base64('…;<version>;…')"`): stable per row version and changes
/// whenever the row is written.
pub fn etag(version: i64) -> String {
    use std::fmt::Write;
    let inner = format!("{version}1");
    let mut raw = String::with_capacity(inner.len() + 12);
    let _ = write!(raw, "'{};{inner};00;'", inner.len());
    let mut out = String::with_capacity(raw.len() * 4 / 3 + 8);
    out.push_str("W/\"");
    STANDARD.encode_string(raw, &mut out);
    out.push('"');
    out
}

/// One row as the API returns it: `@odata.etag` first (for versioned entities), then the selected
/// fields in schema order.
#[derive(Debug, Clone, Copy)]
pub struct RowJson<'a> {
    pub schema: &'static EntitySchema,
    pub row: &'a [Value],
    pub select: Option<&'a [usize]>,
    pub version_idx: Option<usize>,
}

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(v) = self.version_idx.and_then(|i| self.row[i].as_i64()) {
            map.serialize_entry("@odata.etag", &etag(v))?;
        }
        match self.select {
            Some(fields) => {
                for &i in fields {
                    map.serialize_entry(self.schema.fields[i].name, &self.row[i])?;
                }
            }
            None => {
                for (f, v) in self.schema.fields.iter().zip(self.row.iter()) {
                    if !f.hidden {
                        map.serialize_entry(f.name, v)?;
                    }
                }
            }
        }
        map.end()
    }
}

/// A collection response body: context, optional count, the rows, optional next link.
#[derive(Debug)]
pub struct CollectionJson<'a> {
    pub context: &'a str,
    pub count: Option<usize>,
    pub schema: &'static EntitySchema,
    pub rows: &'a [Row],
    pub select: Option<&'a [usize]>,
    pub version_idx: Option<usize>,
    pub next_link: Option<&'a str>,
}

struct Rows<'a>(&'a CollectionJson<'a>);

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut seq = s.serialize_seq(Some(c.rows.len()))?;
        for row in c.rows {
            seq.serialize_element(&RowJson {
                schema: c.schema,
                row,
                select: c.select,
                version_idx: c.version_idx,
            })?;
        }
        seq.end()
    }
}

impl Serialize for CollectionJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("@odata.context", self.context)?;
        if let Some(n) = self.count {
            map.serialize_entry("@odata.count", &n)?;
        }
        map.serialize_entry("value", &Rows(self))?;
        if let Some(link) = self.next_link {
            map.serialize_entry("@odata.nextLink", link)?;
        }
        map.end()
    }
}

/// A row as a plain JSON object (no annotations), for `Sandbox::rows` and `/_sandbox/rows`.
pub fn plain_row(
    schema: &EntitySchema,
    row: &[Value],
) -> serde_json::Map<String, serde_json::Value> {
    schema
        .fields
        .iter()
        .zip(row.iter())
        .filter(|(f, _)| !f.hidden)
        .map(|(f, v)| (f.name.to_owned(), serde_json::Value::from(v)))
        .collect()
}
