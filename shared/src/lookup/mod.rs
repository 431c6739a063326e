//! Lookups: a target column resolved from one or several source fields against a local table's match
//! columns (`{ to, from = [..], table, match = [..], select, missing }`), the way BC couples records by
//! match. A whole page resolves with one query (`resolve`); what an unresolved lookup does is `missing`:
//! `defer` parks the record (`parked`) to retry on later runs, `null` writes null, `skip` drops the
//! record, `fail` records it as failed.

mod parked;
mod resolve;

pub use parked::{OverdueRecord, ParkedRecord, overdue_records, park_and_unpark, parked_records};
pub use resolve::{PageLookups, prepare, resolve_page, tuple};

use crate::definitions::LookupDef;

/// What an unresolved lookup does to its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Defer,
    Null,
    Skip,
    Fail,
}

impl Missing {
    pub const NAMES: &'static [&'static str] = &["defer", "null", "skip", "fail"];

    /// Absent means `fail`: a reference that silently disappears is worse than a visible error.
    pub fn parse(value: Option<&str>) -> Option<Missing> {
        Some(match value.unwrap_or("fail") {
            "defer" => Missing::Defer,
            "null" => Missing::Null,
            "skip" => Missing::Skip,
            "fail" => Missing::Fail,
            _ => return None,
        })
    }
}

/// A lookup compiled for a run: the definition plus the local types found in the database.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub to: String,
    pub from: Vec<String>,
    pub table: String,
    pub match_columns: Vec<String>,
    pub select: String,
    pub missing: Missing,
    /// SQL types of `match_columns` (e.g. `character varying(20)`), so the page's keys are cast to the
    /// column's type and its index is used. `None` until `resolve::prepare` ran or when the table does
    /// not exist yet (then nothing resolves).
    pub match_types: Option<Vec<String>>,
}

impl Lookup {
    pub fn from_def(def: &LookupDef) -> Lookup {
        Lookup {
            to: def.to.clone(),
            from: def.from.clone(),
            table: def.table.clone(),
            match_columns: def.match_columns.clone(),
            select: def.select.clone(),
            missing: Missing::parse(def.missing.as_deref()).unwrap_or(Missing::Fail),
            match_types: None,
        }
    }
}
