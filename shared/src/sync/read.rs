//! What each kind of run asks the source for, so the delta a run reads and the delta its preview shows
//! are one query, rendered in one place.

use crate::definitions::ChangeOrder;
use crate::filter::{self, Literal};
use crate::mapping::Mapping;
use crate::odata::client::Row;
use crate::odata::prefer::Preference;
use crate::odata::query::Query;

/// Every record of a tracked source, which the service pages in its own order and ends with a delta
/// link: change tracking allows no `$filter`, `$orderby` or `$top`, only `$select`.
pub(super) fn tracked(mapping: &Mapping) -> Query {
    Query {
        select: mapping.select.clone(),
        filter: None,
        orderby: Vec::new(),
        top: None,
        prefer: tracking(mapping),
    }
}

/// What every request of a tracked read asks: change tracking, and the mapping's own preferences.
pub(super) fn tracking(mapping: &Mapping) -> Vec<Preference> {
    let mut prefer = mapping.preferences();
    prefer.push(Preference::TrackChanges);
    prefer
}

/// The records changed after position `from` that pass the integration's filter, oldest first (the
/// order that makes each page's checkpoint a safe place to resume from).
pub(super) fn delta(mapping: &Mapping, from: i64) -> Query {
    let after = match mapping.change_order {
        // A tracked source is read by `tracked` or its delta link, never by position.
        ChangeOrder::Version | ChangeOrder::Track => Literal::Number(from.to_string()),
        // An OData DateTimeOffset literal is written bare (OData v4 ABNF, `dateTimeOffsetValue`).
        ChangeOrder::Modified => Literal::Date(
            chrono::DateTime::from_timestamp_micros(from)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ),
    };
    Query {
        select: mapping.select.clone(),
        filter: Some(filter::with_version(
            mapping.filter.as_ref(),
            &mapping.version_field,
            after,
        )),
        orderby: vec![format!("{} asc", mapping.version_field)],
        top: None,
        prefer: mapping.preferences(),
    }
}

/// The key and version of every record with a version in `(from, upto]` that passes the filter: the
/// overlap window below the watermark, read light (`sync/window.rs`), so only the records whose
/// version differs from their coupling's are fetched whole.
pub(super) fn window(mapping: &Mapping, from: i64, upto: i64) -> Query {
    let bound = |op, at: i64| filter::Expr::Compare {
        field: mapping.version_field.clone(),
        op,
        value: Literal::Number(at.to_string()),
    };
    let versions = filter::Expr::And(
        Box::new(bound(filter::Comparison::Gt, from)),
        Box::new(bound(filter::Comparison::Le, upto)),
    );
    let filter = match mapping.filter.clone() {
        Some(user) => filter::Expr::And(Box::new(user), Box::new(versions)),
        None => versions,
    };
    let mut select = mapping.source_key.clone();
    select.push(mapping.version_field.clone());
    Query {
        select,
        filter: Some(filter.render()),
        orderby: vec![format!("{} asc", mapping.version_field)],
        top: None,
        prefer: Vec::new(),
    }
}

/// The highest row version the source holds within the integration's filter, as one row of its key
/// and version: what a scan in key order sets the checkpoint to when it ends (ARCHITECTURE.md,
/// "Initial load"). One sort (or scan) of the entity, where a version-ordered read of everything
/// pays one per page.
pub(super) fn high_water(mapping: &Mapping) -> Query {
    let mut select = mapping.source_key.clone();
    select.push(mapping.version_field.clone());
    Query {
        select,
        filter: mapping.filter.as_ref().map(filter::Expr::render),
        orderby: vec![format!("{} desc", mapping.version_field)],
        top: Some(1),
        prefer: Vec::new(),
    }
}

/// Every record that passes the integration's filter, in key order, after the key `after` (from the
/// start when none): a read of everything that asks the service for no sort on the version, which
/// Business Central has no index for.
pub(super) fn scan(mapping: &Mapping, after: Option<&Row>) -> Query {
    let is_guid = |f: &str| mapping.guid_keys.iter().any(|k| k == f);
    let after = after.map(|row| filter::after_key(&mapping.source_key, row, &is_guid));
    let filter = match (mapping.filter.clone(), after) {
        (Some(user), Some(after)) => Some(filter::Expr::And(Box::new(user), Box::new(after))),
        (user, after) => user.or(after),
    };
    Query {
        select: mapping.select.clone(),
        filter: filter.as_ref().map(filter::Expr::render),
        orderby: mapping
            .source_key
            .iter()
            .map(|k| format!("{k} asc"))
            .collect(),
        top: None,
        prefer: mapping.preferences(),
    }
}

/// The source key of every record that passes the integration's filter (a reconcile's key scan).
pub(super) fn keys(mapping: &Mapping) -> Query {
    Query {
        select: mapping.source_key.clone(),
        filter: mapping.filter.as_ref().map(filter::Expr::render),
        orderby: Vec::new(),
        top: None,
        prefer: Vec::new(),
    }
}

/// The records with the source keys of `keys` (a replay of failed records).
pub(super) fn records(mapping: &Mapping, keys: &[Row]) -> Query {
    Query {
        select: mapping.select.clone(),
        filter: Some(
            filter::by_keys(&mapping.source_key, keys, &|f| {
                mapping.guid_keys.iter().any(|k| k == f)
            })
            .render(),
        ),
        orderby: Vec::new(),
        top: None,
        prefer: mapping.preferences(),
    }
}
