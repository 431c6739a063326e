//! Typed cell values.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::ser::{Serialize, Serializer};
use uuid::Uuid;

/// One cell. Strings are `Arc<str>` so rows clone cheaply (pages are cloned out of the lock and
/// serialized after it is released) and low-cardinality values (cities, states) can be shared.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    /// Dataverse Money: an exact decimal in ten-thousandths (four decimals, as Dataverse serializes
    /// it), never through f64 ("Use the Web API": Money is Edm.Decimal).
    Money(i128),
    Str(Arc<str>),
    Guid(Uuid),
    DateTime(DateTime<Utc>),
    Date(NaiveDate),
}

impl Value {
    pub fn str(s: impl Into<Arc<str>>) -> Self {
        Value::Str(s.into())
    }

    /// A shared copy of a common constant (a city, a state, "US", ""), so a million rows hold one
    /// allocation of it instead of a million.
    pub fn interned(s: &'static str) -> Self {
        static CACHE: OnceLock<Mutex<HashMap<&'static str, Arc<str>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        Value::Str(cache.entry(s).or_insert_with(|| Arc::from(s)).clone())
    }

    /// Like [`Value::str`], but empty strings share one allocation.
    pub fn text(s: String) -> Self {
        if s.is_empty() {
            Value::interned("")
        } else {
            Value::Str(s.into())
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Decimal(d) => Some(*d),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Decimal(_) | Value::Money(_) => 2,
            Value::Str(_) => 3,
            Value::Guid(_) => 4,
            Value::DateTime(_) => 5,
            Value::Date(_) => 6,
        }
    }

    /// Total order used for `$orderby`, keyset paging and comparisons: null first (as OData sorts
    /// nulls ascending), numbers numerically, strings by ordinal (case-sensitive) comparison.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Int(a), Decimal(b)) => (*a as f64).total_cmp(b),
            (Decimal(a), Int(b)) => a.total_cmp(&(*b as f64)),
            (Decimal(a), Decimal(b)) => a.total_cmp(b),
            (Money(a), Money(b)) => a.cmp(b),
            (Money(a), Int(b)) => a.cmp(&(i128::from(*b) * super::money::SCALE)),
            (Int(a), Money(b)) => (i128::from(*a) * super::money::SCALE).cmp(b),
            (Money(a), Decimal(b)) => super::money::to_f64(*a).total_cmp(b),
            (Decimal(a), Money(b)) => a.total_cmp(&super::money::to_f64(*b)),
            (Str(a), Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Guid(a), Guid(b)) => a.cmp(b),
            (DateTime(a), DateTime(b)) => a.cmp(b),
            (Date(a), Date(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

/// BC's wire format (Money aside): GUIDs lowercase hyphenated, DateTimeOffset in UTC with `Z` and milliseconds.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Decimal(d) => s.serialize_f64(*d),
            // Exact as text here (serde has no raw numbers without serde_json's raw_value); the
            // Dataverse wire writer emits it as a JSON number (`routes::dataverse::json`).
            Value::Money(m) => s.serialize_str(&super::money::text(*m)),
            Value::Str(v) => s.serialize_str(v),
            Value::Guid(g) => s.collect_str(&g.hyphenated()),
            Value::DateTime(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            Value::Date(d) => s.collect_str(&d.format("%Y-%m-%d")),
        }
    }
}

impl From<&Value> for serde_json::Value {
    fn from(v: &Value) -> Self {
        serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
    }
}
