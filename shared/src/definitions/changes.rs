//! How an integration learns what changed (`source.changes`, `version`, `modified`): the rules
//! `apply` holds a definition to, beside the service it reads (a Business Central API hands out no
//! delta links; Dataverse refuses `$filter` with change tracking).

use super::model::{Changes, ConnectionKind, IntegrationDef, SourceDef};

/// `source.changes` against `version` and `modified`: change tracking needs neither and allows no
/// filter (Dataverse refuses `$filter` with `odata.track-changes`); a watermark needs exactly one.
/// Each problem goes to `report` as its key and message.
pub(super) fn check_changes(
    at: &str,
    source: &SourceDef,
    report: &mut impl FnMut(String, &'static str),
) {
    let tracked = source.tracked();
    match (&source.version, &source.modified) {
        (Some(_), Some(_)) => report(
            format!("{at}.source"),
            "name either `version` (a row version number) or `modified` (a last-modified \
             timestamp), not both",
        ),
        (None, None) if source.changes == Some(Changes::Version) => report(
            format!("{at}.source"),
            "changes = \"version\" needs the field changes are ordered by: `version` (a row \
             version number, e.g. \"versionnumber\" on Dataverse, \"RowVersionNumber\" or \
             \"systemRowVersion\" on Business Central) or `modified` (a last-modified timestamp, \
             e.g. \"lastModifiedDateTime\")",
        ),
        (Some(_), _) | (_, Some(_)) if tracked => report(
            format!("{at}.source.changes"),
            "\"track\" follows the service's delta links and reads no watermark; drop `version` \
             and `modified`, or use changes = \"version\"",
        ),
        (Some(field), None) | (None, Some(field)) if field.trim().is_empty() => {
            let which = if source.version.is_some() {
                "version"
            } else {
                "modified"
            };
            report(format!("{at}.source.{which}"), "must not be empty");
        }
        _ => {}
    }
    if tracked && source.filter.is_some() {
        report(
            format!("{at}.source.filter"),
            "a filter cannot be combined with change tracking (the service refuses $filter with \
             odata.track-changes); use changes = \"version\" with a version field (on Dataverse \
             version = \"versionnumber\"), or filter the target instead",
        );
    }
    if tracked && (source.overlap.is_some() || source.overlap_secs.is_some()) {
        report(
            format!("{at}.source"),
            "an overlap window goes with a watermark; change tracking misses no late commit",
        );
    }
}

/// Change tracking is what Dataverse offers; Business Central's APIs hand out no delta links, so an
/// integration of a Business Central connection must name its watermark. (A connection whose kind is
/// not known here is taken at its word; its run says so if the service tracks nothing.)
pub(super) fn check_tracked_kind(
    at: &str,
    i: &IntegrationDef,
    kind: Option<ConnectionKind>,
    report: &mut impl FnMut(String, &'static str),
) {
    if !i.source.tracked() {
        return;
    }
    match (kind, i.source.changes) {
        (Some(ConnectionKind::BusinessCentral), _) => report(
            format!("{at}.source"),
            "Business Central tracks no changes for Ferry to follow: name the field changes are \
             ordered by, `version` (e.g. \"RowVersionNumber\", or \"systemRowVersion\" on a custom \
             API page of BC v21+) or `modified` (e.g. \"lastModifiedDateTime\" on the standard API)",
        ),
        (Some(ConnectionKind::Odata), None) => report(
            format!("{at}.source"),
            "name the field changes are ordered by (`version` or `modified`), or changes = \
             \"track\" when the service supports OData change tracking (delta links)",
        ),
        _ => {}
    }
}
