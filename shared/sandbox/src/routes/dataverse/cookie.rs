//! The paging cookie in a next link's `$skiptoken` ("Page results"): Dataverse's shape, an XML
//! `<cookie pagenumber=… pagingcookie=… istracking=… />` whose `pagingcookie` is itself
//! percent-encoded XML, and the whole token percent-encoded once more in the link. A client must
//! use the link exactly as returned: one more encoding makes it unreadable here (400), as there.
//!
//! The inner cookie carries what the sandbox needs to resume: the last row's sort values (`pos`),
//! and for change tracking the version snapshot the read started from and its position in the
//! delta (upserts, then deletes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::error::{INVALID_ARGUMENT, bad_request};
use crate::model::{EdmType, EntitySchema, Value};
use crate::odata::ODataError;
use crate::odata::query::SortKey;

/// Where a read stands after one page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookie {
    /// The page just served (1-based).
    pub page: u32,
    /// The last row's sort values (base64url JSON), for a full read.
    pub pos: Option<String>,
    /// Change tracking: the version the read's new delta token will name, and when it started
    /// (unix seconds).
    pub snapshot: Option<(i64, i64)>,
    /// Delta reads: 0 while returning upserts, 1 for deletes; `last` is the last version served.
    pub phase: u8,
    pub last: i64,
    /// The last row's key as text, for the cookie's `<key last=…>` element (looks only).
    pub last_key: Option<(String, String)>,
}

fn attr<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = xml[start..].find('"')?;
    Some(&xml[start..start + len])
}

fn invalid() -> ODataError {
    bad_request(
        INVALID_ARGUMENT,
        "The $skiptoken paging cookie is not valid. Follow @odata.nextLink exactly as returned.",
    )
}

impl Cookie {
    /// The `$skiptoken` value of the next page, not yet percent-encoded for the URL.
    pub fn token(&self) -> String {
        let mut inner = format!("<cookie page=\"{}\"", self.page);
        if let Some(pos) = &self.pos {
            inner.push_str(&format!(" pos=\"{pos}\""));
        }
        if let Some((version, at)) = self.snapshot {
            inner.push_str(&format!(" snapshot=\"{version}\" issued=\"{at}\""));
        }
        inner.push_str(&format!(
            " phase=\"{}\" last=\"{}\">",
            self.phase, self.last
        ));
        if let Some((name, key)) = &self.last_key {
            inner.push_str(&format!("<{name} last=\"{{{}}}\" />", key.to_uppercase()));
        }
        inner.push_str("</cookie>");
        format!(
            "<cookie pagenumber=\"{}\" pagingcookie=\"{}\" istracking=\"{}\" />",
            self.page + 1,
            utf8_percent_encode(&inner, NON_ALPHANUMERIC),
            if self.snapshot.is_some() {
                "True"
            } else {
                "False"
            }
        )
    }

    /// Reads a `$skiptoken` value (already percent-decoded once, as the query string is).
    pub fn parse(token: &str) -> Result<Cookie, ODataError> {
        if !token.trim_start().starts_with("<cookie ") {
            return Err(invalid());
        }
        let inner = attr(token, "pagingcookie").ok_or_else(invalid)?;
        let inner = percent_decode_str(inner)
            .decode_utf8()
            .map_err(|_| invalid())?;
        if !inner.starts_with("<cookie ") {
            return Err(invalid());
        }
        let number = |name: &str| -> Result<Option<i64>, ODataError> {
            attr(&inner, name)
                .map(|v| v.parse::<i64>().map_err(|_| invalid()))
                .transpose()
        };
        let snapshot = match (number("snapshot")?, number("issued")?) {
            (Some(v), Some(at)) => Some((v, at)),
            _ => None,
        };
        Ok(Cookie {
            page: number("page")?
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or(1),
            pos: attr(&inner, "pos").map(str::to_owned),
            snapshot,
            phase: number("phase")?.map_or(0, |p| u8::from(p == 1)),
            last: number("last")?.unwrap_or(0),
            last_key: None,
        })
    }
}

/// The sort values of `row` (exact: Money as its decimal text).
pub fn encode_position(row: &[Value], order: &[SortKey]) -> String {
    let values: Vec<serde_json::Value> = order
        .iter()
        .map(|k| serde_json::Value::from(&row[k.field]))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::Value::Array(values).to_string())
}

pub fn decode_position(
    pos: &str,
    schema: &EntitySchema,
    order: &[SortKey],
) -> Result<Vec<Value>, ODataError> {
    let bytes = URL_SAFE_NO_PAD.decode(pos).map_err(|_| invalid())?;
    let json: Vec<serde_json::Value> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if json.len() != order.len() {
        return Err(invalid());
    }
    json.iter()
        .zip(order)
        .map(|(j, k)| typed(j, schema.fields[k.field].edm).ok_or_else(invalid))
        .collect()
}

fn typed(j: &serde_json::Value, edm: EdmType) -> Option<Value> {
    use serde_json::Value as J;
    Some(match (j, edm) {
        (J::Null, _) => Value::Null,
        (J::String(s), EdmType::String) => Value::str(s.as_str()),
        (J::Number(n), EdmType::Int32 | EdmType::Int64) => Value::Int(n.as_i64()?),
        (J::String(s), EdmType::Decimal) => Value::money(s)?,
        (J::Number(n), EdmType::Decimal) => Value::Decimal(n.as_f64()?),
        (J::Bool(b), EdmType::Boolean) => Value::Bool(*b),
        (J::String(s), EdmType::Guid) => Value::Guid(s.parse().ok()?),
        (J::String(s), EdmType::DateTimeOffset) => Value::DateTime(
            chrono::DateTime::parse_from_rfc3339(s)
                .ok()?
                .with_timezone(&chrono::Utc),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_double_encoding_is_refused() {
        let c = Cookie {
            page: 2,
            pos: Some("WyJhIl0".into()),
            snapshot: Some((100_005, 1_700_000_000)),
            phase: 1,
            last: 100_004,
            last_key: Some((
                "accountid".into(),
                "0f3d8a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6".into(),
            )),
        };
        let token = c.token();
        assert!(token.contains("pagenumber=\"3\""), "{token}");
        assert!(token.contains("%3Ccookie%20page"), "{token}");
        let back = Cookie::parse(&token).unwrap();
        assert_eq!(back.pos, c.pos);
        assert_eq!(back.snapshot, c.snapshot);
        assert_eq!((back.phase, back.last), (1, 100_004));
        let twice = utf8_percent_encode(&token, NON_ALPHANUMERIC).to_string();
        assert!(Cookie::parse(&twice).is_err());
    }
}
