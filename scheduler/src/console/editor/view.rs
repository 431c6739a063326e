//! The editor's page: the draft's fields, lookups, schedule and settings, each problem `apply` found
//! shown by its field.

use std::str::FromStr;

use axum::response::Html;
use chrono::Utc;
use maud::{Markup, html};

use super::super::Signed;
use super::super::layout::{self, Nav};
use super::Context;
use super::draft::{Draft, LookupRow, MAX_LOOKUPS, TRANSFORMS};

/// What a lookup does when no row matches (`lookup::Missing`); empty is the default (`fail`).
pub(super) const MISSING: [(&str, &str); 5] = [
    ("", "fail the record (default)"),
    ("defer", "park it until the row exists"),
    ("null", "write null"),
    ("skip", "leave the record out"),
    ("fail", "fail the record"),
];

pub(super) fn error_of<'e>(errors: &'e [(String, String)], id: &str) -> Option<&'e str> {
    errors
        .iter()
        .find(|(key, _)| {
            key == id || key.starts_with(&format!("{id}.")) || key.starts_with(&format!("{id}["))
        })
        .map(|(_, m)| m.as_str())
}

pub(super) fn text_field(
    errors: &[(String, String)],
    id: &str,
    error_key: &str,
    label: &str,
    value: &str,
    hint: Option<Markup>,
) -> Markup {
    let error = error_of(errors, error_key);
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(id) value=(value) aria-invalid=[error.map(|_| "true")]
                aria-describedby={ (id) "-note" };
            @if let Some(error) = error { span.error id={ (id) "-note" } role="alert" { (error) } }
            @else if let Some(hint) = hint { span.hint id={ (id) "-note" } aria-live="polite" { (hint) } }
        }
    }
}

pub(super) fn next_times(schedule: &str) -> Option<Markup> {
    let schedule = cron::Schedule::from_str(schedule).ok()?;
    let times: Vec<String> = schedule
        .after(&Utc::now())
        .take(5)
        .map(|t| t.format("%b %d %H:%M:%S").to_string())
        .collect();
    Some(html! { "Next (UTC): " (times.join(", ")) })
}

pub(super) fn lookups(draft: &Draft, errors: &[(String, String)], context: &Context) -> Markup {
    // The stored lookups, then one empty row to add another.
    let rows: Vec<LookupRow> = draft
        .lookups
        .iter()
        .cloned()
        .chain(std::iter::once(LookupRow::default()))
        .take(MAX_LOOKUPS)
        .collect();
    html! {
        fieldset {
            legend { "Lookups" }
            p.hint { "A column filled from another table: the row whose match columns equal the source fields gives its select column." }
            datalist id="lookup-tables" { @for t in &context.tables { option value=(t) {} } }
            @for (table, names) in &context.lookup_columns {
                datalist id={ "columns-" (table) } { @for n in names { option value=(n) {} } }
            }
            div.scroll { table.fields {
                thead { tr {
                    th scope="col" { "Column" } th scope="col" { "Source fields" } th scope="col" { "Table" }
                    th scope="col" { "Match columns" } th scope="col" { "Select column" } th scope="col" { "When none matches" }
                } }
                tbody { @for (i, l) in rows.iter().enumerate() {
                    @let error = error_of(errors, &format!("l{i}"));
                    @let list = (!l.table.is_empty()).then(|| format!("columns-{}", l.table));
                    tr {
                        td {
                            input name={ "l" (i) ".to" } value=(l.to) aria-label={ "Lookup " (i + 1) ": column" } aria-invalid=[error.map(|_| "true")];
                            @if let Some(e) = error { br; span.error role="alert" { (e) } }
                        }
                        td { input name={ "l" (i) ".from" } value=(l.from) aria-label={ "Lookup " (i + 1) ": source fields" }; }
                        td {
                            input name={ "l" (i) ".table" } value=(l.table) list="lookup-tables" aria-label={ "Lookup " (i + 1) ": table" };
                            @if let Some(names) = context.lookup_columns.get(&l.table) {
                                br;
                                @if names.is_empty() { span.muted { "not created yet" } }
                                @else { span.muted { (names.join(", ")) } }
                            }
                        }
                        td { input name={ "l" (i) ".match" } value=(l.match_columns) list=[list.as_deref()] aria-label={ "Lookup " (i + 1) ": match columns" }; }
                        td { input name={ "l" (i) ".select" } value=(l.select) list=[list.as_deref()] aria-label={ "Lookup " (i + 1) ": select column" }; }
                        td {
                            select name={ "l" (i) ".missing" } aria-label={ "Lookup " (i + 1) ": when none matches" } {
                                @for (value, text) in MISSING { option value=(value) selected[l.missing == value] { (text) } }
                            }
                        }
                    }
                } }
            } }
        }
    }
}

pub(super) fn editor(
    signed: &Signed,
    draft: &Draft,
    errors: &[(String, String)],
    context: &Context,
) -> Html<String> {
    let columns = context.columns.as_deref();
    let title = match &draft.editing {
        Some(name) => format!("Edit {name}"),
        None => format!("New integration from {}", draft.entity),
    };
    let body = html! {
        h1 { (title) }
        (layout::problems(errors))
        form.editor.wide method="post" action="/integrations" {
            (layout::csrf(signed))
            @if let Some(name) = &draft.editing { input type="hidden" name="editing" value=(name); }
            @if let Some(version) = draft.version { input type="hidden" name="version" value=(version); }
            input type="hidden" name="connection" value=(draft.connection);
            input type="hidden" name="entity" value=(draft.entity);
            p.muted { "From " code { (draft.entity) } " of connection " code { (draft.connection) } "." }
            @if draft.editing.is_some() {
                input type="hidden" name="name" value=(draft.name);
            } @else {
                (text_field(errors, "name", "name", "Name", &draft.name, Some(html! { "How runs and the CLI name it." })))
            }
            div.field {
                label for="direction" { "Direction" }
                select id="direction" name="direction" {
                    @for (v, t) in [("import", "Import into the database"), ("export", "Export to the source"), ("bidirectional", "Both ways")] {
                        option value=(v) selected[draft.direction == v] { (t) }
                    }
                }
                @if let Some(e) = error_of(errors, "direction") { span.error role="alert" { (e) } }
            }
            fieldset {
                legend { "Source" }
                (text_field(errors, "key", "source.key", "Key fields", &draft.key, Some(html! { "Comma-separated." })))
                div.field {
                    label for="changes" { "What changed is read by" }
                    select id="changes" name="changes" {
                        option value="track" selected[draft.changes == "track"] { "the service's change tracking" }
                        @for row in draft.rows.iter().filter(|r| r.edm_type.contains("Int64") || r.edm_type.contains("DateTimeOffset") || r.from == draft.changes) {
                            option value=(row.from) selected[draft.changes == row.from] { (row.from) " (" (row.edm_type) ")" }
                        }
                    }
                    @if let Some(e) = error_of(errors, "source.version").or(error_of(errors, "source.changes")) { span.error role="alert" { (e) } }
                }
                (text_field(errors, "filter", "source.filter", "Filter (OData $filter)", &draft.filter, Some(html! { "e.g. " code { "City ne ''" } ". Checked as you type: an error points at its token." })))
                (text_field(errors, "overlap", "source.overlap", "Overlap (versions re-read below the checkpoint)", &draft.overlap, None))
            }
            fieldset {
                legend { "Target" }
                (text_field(errors, "table", "target.table", "Table", &draft.table, Some(html! {
                    @match columns { Some(c) => { "Exists, with " (c.len()) " column(s)." } None => "New: Ferry creates it from the source's types." }
                })))
                (text_field(errors, "target_key", "target.key", "Key columns", &draft.target_key, None))
                div.field.check { label { input type="checkbox" name="create" checked[draft.create]; " Create the table when it does not exist" } }
            }
            fieldset {
                legend { "Fields" }
                @if let Some(e) = error_of(errors, "fields") { span.error role="alert" { (e) } }
                div.scroll { table.fields {
                    thead { tr {
                        th scope="col" { "Map" } th scope="col" { "Source field" } th scope="col" { "Column" }
                        th scope="col" { "Transform" } th scope="col" { "Export" }
                    } }
                    tbody { @for (i, row) in draft.rows.iter().enumerate() {
                        @let error = error_of(errors, &format!("f{i}"));
                        tr {
                            td {
                                input type="hidden" name={ "f" (i) ".from" } value=(row.from);
                                input type="hidden" name={ "f" (i) ".type" } value=(row.edm_type);
                                input type="checkbox" id={ "f" (i) "-include" } name={ "f" (i) ".include" } checked[row.include]
                                    aria-label={ "Map " (row.from) };
                            }
                            td {
                                label for={ "f" (i) "-include" } { code { (row.from) } } " " span.muted { (row.edm_type.trim_start_matches("Edm.")) }
                                @if row.gone { " " span.badge.bad title="The source no longer has this field" { "gone at the source" } }
                                @if row.type_differs { " " span.badge.warn title="The table's column of this name cannot take its values" { "type differs" } }
                            }
                            td {
                                input name={ "f" (i) ".to" } value=(row.to) aria-label={ "Column for " (row.from) }
                                    aria-invalid=[error.map(|_| "true")];
                                @if let Some(t) = &row.column_type { br; span.muted { (t) } }
                                @if let Some(e) = error { br; span.error role="alert" { (e) } }
                            }
                            td {
                                select name={ "f" (i) ".transform" } aria-label={ "Transform of " (row.from) } {
                                    @for t in TRANSFORMS {
                                        option value=(t) selected[row.transform == t] { @if t.is_empty() { "none" } @else { (t) } }
                                    }
                                }
                            }
                            td { input type="checkbox" name={ "f" (i) ".export" } checked[row.export] aria-label={ "Export " (row.from) }; }
                        }
                    } }
                } }
                p.hint { "Export applies to two-way and export integrations. Constants are kept as defined in TOML." }
            }
            (lookups(draft, errors, context))
            fieldset {
                legend { "Schedule and deletes" }
                (text_field(errors, "schedule", "schedule", "Schedule (cron with seconds, UTC)", &draft.schedule,
                    Some(next_times(&draft.schedule).unwrap_or_else(|| html! { "Empty: runs only when triggered. e.g. " code { "0 */5 * * * *" } }))))
                div.field.check { label { input type="checkbox" name="reconcile" checked[draft.reconcile]; " Detect rows deleted at the source (reconcile)" } }
                div.field {
                    label for="conflict" { "When a record changed on both sides (two-way)" }
                    select id="conflict" name="conflict" {
                        @for (v, t) in [("manual", "Hold it for me (manual)"), ("remote_wins", "The source wins"), ("local_wins", "This database wins")] {
                            option value=(v) selected[draft.conflict == v] { (t) }
                        }
                    }
                }
            }
            div.actions {
                button type="submit" { "Save as a new version" }
                a.button.secondary href=(draft.editing.as_ref().map(|n| format!("/integrations/{n}")).unwrap_or_else(|| "/".into())) { "Cancel" }
            }
        }
    };
    layout::page(signed, Nav::Integrations, &title, None, body)
}
