//! What a checkpoint measured (ARCHITECTURE.md, "Invariants", invariant 7). A watermark is a position in one source: one
//! service, one company, one entity, read through one filter for one set of fields. Continue from it
//! after any of those changed and rows are silently missed (a wider filter's rows below the watermark)
//! or compared with the wrong ones (another company's keys against this one's couplings). So the
//! checkpoint is stored with what it measured, and a run whose definition no longer matches re-reads
//! from the start.

use serde::{Deserialize, Serialize};

use crate::definitions::{ConnectionDef, IntegrationDef};

/// The parts of the definitions a checkpoint depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measured {
    /// The connection's service root.
    pub url: String,
    /// Business Central's company.
    pub company: Option<String>,
    pub entity: String,
    pub filter: Option<String>,
    /// The source fields read (key, version, mapped fields and lookup fields), sorted.
    pub fields: Vec<String>,
    /// The last-modified field the positions are times of (`source.modified`); `None` when they are
    /// version numbers. A checkpoint of one kind is no position in the other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Whether the position is a delta link of the service's change tracking.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tracked: bool,
}

impl Measured {
    /// What the current definitions measure.
    pub fn of(connection: &ConnectionDef, def: &IntegrationDef) -> Measured {
        let mut fields: Vec<String> = def
            .source
            .key
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(def.source.change_field().0).filter(|f| !f.is_empty()))
            .chain(def.fields.iter().filter_map(|f| f.from.as_deref()))
            // A field read as its label reads other text than its value: taking the label up is
            // reading a new field, so the rows already written get it by a re-read.
            .map(str::to_string)
            .chain(
                def.fields
                    .iter()
                    .filter(|f| f.label)
                    .filter_map(|f| f.from.as_deref())
                    .map(|from| format!("{from}@label")),
            )
            .chain(def.lookups.iter().flat_map(|l| l.from.iter().cloned()))
            .collect();
        fields.sort();
        fields.dedup();
        Measured {
            url: connection.url.trim_end_matches('/').to_string(),
            company: connection.company.clone(),
            entity: def.source.entity.clone(),
            filter: def.source.filter.clone(),
            fields,
            modified: def.source.modified.clone(),
            tracked: def.source.tracked(),
        }
    }

    /// Why a checkpoint measured as `self` does not hold for `now`, or `None` when it does. Reading
    /// fewer fields keeps the watermark valid (nothing new is owed); reading more does not.
    pub fn change(&self, now: &Measured) -> Option<String> {
        let mut changed = Vec::new();
        if self.url != now.url {
            changed.push("the connection URL");
        }
        if self.company != now.company {
            changed.push("the company");
        }
        if self.entity != now.entity {
            changed.push("the entity");
        }
        if self.filter != now.filter {
            changed.push("the filter");
        }
        if now.fields.iter().any(|f| !self.fields.contains(f)) {
            changed.push("the fields read");
        }
        if self.modified != now.modified || self.tracked != now.tracked {
            changed.push("the kind of watermark");
        }
        match changed.as_slice() {
            [] => None,
            [one] => Some(format!("{one} changed")),
            [rest @ .., last] => Some(format!("{} and {last} changed", rest.join(", "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured() -> Measured {
        Measured {
            url: "http://bc/api".into(),
            company: Some("CRONUS".into()),
            entity: "RescoCustomer".into(),
            filter: None,
            fields: vec!["Name".into(), "No".into(), "RowVersionNumber".into()],
            modified: None,
            tracked: false,
        }
    }

    #[test]
    fn the_same_source_holds() {
        assert_eq!(measured().change(&measured()), None);
    }

    #[test]
    fn each_change_is_named() {
        let mut other = measured();
        other.filter = Some("City eq 'X'".into());
        assert_eq!(
            measured().change(&other).as_deref(),
            Some("the filter changed")
        );
        other.company = Some("Other".into());
        other.fields.push("Email".into());
        assert_eq!(
            measured().change(&other).as_deref(),
            Some("the company, the filter and the fields read changed")
        );
    }

    /// A version checkpoint read as a time (or a time as a version) would skip everything or nothing:
    /// moving between `version` and `modified` reads everything again, even when the new field was
    /// already read.
    #[test]
    fn another_kind_of_position_does_not_hold() {
        let mut by_time = measured();
        by_time.fields.retain(|f| f != "RowVersionNumber");
        by_time.fields.push("Name".into());
        by_time.modified = Some("Name".into());
        assert_eq!(
            measured().change(&by_time).as_deref(),
            Some("the kind of watermark changed")
        );
    }

    #[test]
    fn reading_fewer_fields_keeps_the_watermark() {
        let mut fewer = measured();
        fewer.fields.retain(|f| f != "Name");
        assert_eq!(measured().change(&fewer), None);
    }
}
