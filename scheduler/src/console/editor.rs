//! The integration editor: pick a connection and one of its entity sets (from the `$metadata` Ferry
//! keeps for it), name the target table (existing or new), and the fields are auto-matched by name;
//! then adjust each field's column, transform and export, the key, the change field, the filter, the
//! schedule (its next five times shown), deletes and the conflict policy. A save is `ferry apply` of
//! the file the form stands for: a new version, validated exactly as `apply` validates, every error
//! shown by its field. Lookups are edited beside the fields, with the referenced table's columns
//! offered; constants of an edited integration are kept as they are (they are edited in TOML).

use std::str::FromStr;

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use ferry_shared::definitions::{IntegrationDef, latest_integration, load_connection};
use ferry_shared::odata::catalog::{Catalog, CatalogSet};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::apply_text::{FieldError, apply_text};
use super::automatch::{self, column_name};
use super::layout::{self, Nav};
use super::{ConsoleError, Signed};
use crate::state::AppState;

/// Lookup rows a form carries at most (the stored ones and one to add).
const MAX_LOOKUPS: usize = 500;

/// What a lookup does when no row matches (`lookup::Missing`); empty is the default (`null`).
const MISSING: [(&str, &str); 5] = [
    ("", "fail the record (default)"),
    ("defer", "park it until the row exists"),
    ("null", "write null"),
    ("skip", "leave the record out"),
    ("fail", "fail the record"),
];

/// Transforms the editor offers; others (inline tables, chains) are kept when already defined.
const TRANSFORMS: [&str; 4] = ["", "lower", "upper", "trim"];

/// One source field in the editor.
#[derive(Debug, Clone, Default)]
struct Row {
    from: String,
    edm_type: String,
    include: bool,
    to: String,
    transform: String,
    export: bool,
    /// The existing column's type, when the table has it.
    column_type: Option<String>,
    /// Mapped, but the source no longer has it (drift).
    gone: bool,
}

/// One lookup in the editor: `to` is filled from `table`'s `select` column, on the row whose `match`
/// columns equal the source fields `from`.
#[derive(Debug, Clone, Default)]
struct LookupRow {
    to: String,
    from: String,
    table: String,
    match_columns: String,
    select: String,
    missing: String,
}

impl LookupRow {
    fn is_blank(&self) -> bool {
        self.to.is_empty() && self.table.is_empty() && self.from.is_empty()
    }
}

/// Everything the editor's form holds.
#[derive(Debug, Clone, Default)]
struct Draft {
    editing: Option<String>,
    /// The version the editor opened, so a save over a newer one is refused rather than lost.
    version: Option<i32>,
    name: String,
    connection: String,
    entity: String,
    direction: String,
    schedule: String,
    key: String,
    /// `track`, or the name of the version field.
    changes: String,
    filter: String,
    overlap: String,
    table: String,
    target_key: String,
    create: bool,
    conflict: String,
    reconcile: bool,
    rows: Vec<Row>,
    lookups: Vec<LookupRow>,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The entity set `entity` of connection `connection`, from the `$metadata` kept for it (read now
/// when none is kept yet).
async fn entity_set(
    state: &AppState,
    connection: &str,
    entity: &str,
) -> Result<(Catalog, Option<CatalogSet>), ConsoleError> {
    let metadata = match ferry_shared::source::discovered::last(&state.db, connection)
        .await
        .map_err(ConsoleError::internal)?
    {
        Some(stored) => stored.metadata,
        None => super::integration::checker(state)?
            .metadata(connection)
            .await
            .map_err(|e| {
                ConsoleError::Refused(format!("cannot read {connection}'s $metadata: {e}"))
            })?,
    };
    let all = Catalog::new(&metadata, None);
    let set = all
        .entity_sets
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(entity))
        .cloned();
    Ok((all, set))
}

/// An existing table's columns (name, type), sorted; `None` when it does not exist.
async fn columns(
    state: &AppState,
    table: &str,
) -> Result<Option<Vec<(String, String)>>, ConsoleError> {
    if table.is_empty() {
        return Ok(None);
    }
    let found = ferry_shared::drift::target_table(&state.db, table)
        .await
        .map_err(ConsoleError::internal)?;
    Ok(found.map(|t| {
        let mut columns: Vec<(String, String)> = t
            .columns
            .into_iter()
            .map(|(n, c)| (n, c.data_type))
            .collect();
        columns.sort();
        columns
    }))
}

/// The change field a new integration of `set` reads by: a row-version field when there is one,
/// else the service's change tracking.
fn default_changes(set: &CatalogSet) -> String {
    set.properties
        .iter()
        .find(|p| p.name.to_ascii_lowercase().contains("rowversion"))
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "track".into())
}

impl Draft {
    /// A new integration of `set` into `table`, fields auto-matched.
    fn suggested(
        connection: &str,
        set: &CatalogSet,
        table: &str,
        columns: Option<&[(String, String)]>,
    ) -> Draft {
        let rows = automatch::suggest(&set.properties, columns)
            .into_iter()
            .map(|s| Row {
                from: s.from,
                edm_type: s.edm_type,
                include: s.include,
                to: s.to,
                transform: String::new(),
                export: true,
                column_type: s.column_type,
                gone: false,
            })
            .collect::<Vec<_>>();
        let target_key: Vec<String> = set
            .key
            .iter()
            .map(|k| {
                rows.iter()
                    .find(|r| &r.from == k)
                    .map(|r| r.to.clone())
                    .unwrap_or_else(|| column_name(k))
            })
            .collect();
        Draft {
            editing: None,
            version: None,
            name: column_name(&set.name),
            connection: connection.into(),
            entity: set.name.clone(),
            direction: "import".into(),
            schedule: String::new(),
            key: set.key.join(", "),
            changes: default_changes(set),
            filter: String::new(),
            overlap: String::new(),
            table: table.into(),
            target_key: target_key.join(", "),
            create: columns.is_none(),
            conflict: "manual".into(),
            reconcile: false,
            rows,
            lookups: Vec::new(),
        }
    }

    /// A stored integration, with every field of its entity set offered (those it maps ticked).
    fn of(def: &IntegrationDef, version: i32, set: Option<&CatalogSet>) -> Draft {
        let mut rows: Vec<Row> = def
            .fields
            .iter()
            .filter_map(|f| {
                let from = f.from.clone()?;
                let property = set.and_then(|s| s.properties.iter().find(|p| p.name == from));
                Some(Row {
                    gone: set.is_some() && property.is_none(),
                    edm_type: property.map(|p| p.edm_type.clone()).unwrap_or_default(),
                    from,
                    include: true,
                    to: f.to.clone(),
                    transform: f
                        .transform
                        .as_ref()
                        .and_then(|t| t.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    export: f.export,
                    column_type: None,
                })
            })
            .collect();
        if let Some(set) = set {
            for p in &set.properties {
                if !rows.iter().any(|r| r.from == p.name) {
                    rows.push(Row {
                        from: p.name.clone(),
                        edm_type: p.edm_type.clone(),
                        include: false,
                        to: column_name(&p.name),
                        transform: String::new(),
                        export: true,
                        column_type: None,
                        gone: false,
                    });
                }
            }
        }
        Draft {
            editing: Some(def.name.clone()),
            version: Some(version),
            name: def.name.clone(),
            connection: def.connection.clone(),
            entity: def.source.entity.clone(),
            direction: def.direction.as_str().into(),
            schedule: def.schedule.clone().unwrap_or_default(),
            key: def.source.key.join(", "),
            changes: if def.source.tracked() {
                "track".into()
            } else {
                def.source.change_field().0.to_string()
            },
            filter: def.source.filter.clone().unwrap_or_default(),
            overlap: def
                .source
                .overlap
                .map(|o| o.to_string())
                .unwrap_or_default(),
            table: def.target.table.clone(),
            target_key: def.target.key.join(", "),
            create: def.target.create,
            conflict: def.conflict_policy().as_str().into(),
            reconcile: def.deletes.is_some(),
            rows,
            lookups: def
                .lookups
                .iter()
                .map(|l| LookupRow {
                    to: l.to.clone(),
                    from: l.from.join(", "),
                    table: l.table.clone(),
                    match_columns: l.match_columns.join(", "),
                    select: l.select.clone(),
                    missing: l.missing.clone().unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// What the browser posted.
    fn posted(pairs: &[(String, String)]) -> Draft {
        // The first value of each name, as a form sends one per field.
        let mut fields: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
        for (key, value) in pairs {
            fields.entry(key.as_str()).or_insert(value.as_str());
        }
        let get = |key: &str| fields.get(key).map(|v| v.to_string()).unwrap_or_default();
        let has = |key: &str| fields.contains_key(key);
        let mut rows = Vec::new();
        for i in 0.. {
            let from = get(&format!("f{i}.from"));
            if from.is_empty() {
                break;
            }
            rows.push(Row {
                from,
                edm_type: get(&format!("f{i}.type")),
                include: has(&format!("f{i}.include")),
                to: get(&format!("f{i}.to")).trim().to_string(),
                transform: get(&format!("f{i}.transform")),
                export: has(&format!("f{i}.export")),
                column_type: None,
                gone: false,
            });
        }
        let mut lookups = Vec::new();
        for i in 0..MAX_LOOKUPS {
            let row = LookupRow {
                to: get(&format!("l{i}.to")).trim().into(),
                from: get(&format!("l{i}.from")),
                table: get(&format!("l{i}.table")).trim().into(),
                match_columns: get(&format!("l{i}.match")),
                select: get(&format!("l{i}.select")).trim().into(),
                missing: get(&format!("l{i}.missing")),
            };
            if !row.is_blank() {
                lookups.push(row);
            }
        }
        let editing = get("editing");
        Draft {
            editing: (!editing.is_empty()).then_some(editing),
            version: get("version").parse().ok(),
            name: get("name").trim().into(),
            connection: get("connection"),
            entity: get("entity"),
            direction: get("direction"),
            schedule: get("schedule").trim().into(),
            key: get("key"),
            changes: get("changes"),
            filter: get("filter").trim().into(),
            overlap: get("overlap").trim().into(),
            table: get("table").trim().into(),
            target_key: get("target_key"),
            create: has("create"),
            conflict: get("conflict"),
            reconcile: has("reconcile"),
            rows,
            lookups,
        }
    }

    /// The definition this draft stands for, on top of `base` (an edited integration keeps its
    /// constants, lookups and settings the editor does not show). Unparsable input is left for
    /// `apply` to name.
    fn to_def(&self, base: Option<&IntegrationDef>) -> Result<IntegrationDef, serde_json::Error> {
        let mut fields: Vec<Value> = Vec::new();
        for row in self.rows.iter().filter(|r| r.include) {
            let kept = base.and_then(|b| {
                b.fields
                    .iter()
                    .find(|f| f.from.as_deref() == Some(&row.from))
            });
            let mut field = match kept {
                Some(f) => serde_json::to_value(f)?,
                None => json!({}),
            };
            field["from"] = json!(row.from);
            field["to"] = json!(row.to);
            let kept_complex = kept
                .and_then(|f| f.transform.as_ref())
                .is_some_and(|t| !t.is_str());
            if !kept_complex {
                match row.transform.as_str() {
                    "" => drop(field.as_object_mut().map(|o| o.remove("transform"))),
                    t => field["transform"] = json!(t),
                }
            }
            if row.export {
                field.as_object_mut().map(|o| o.remove("export"));
            } else {
                field["export"] = json!(false);
            }
            fields.push(field);
        }
        // Constants (no source field) are kept as they were.
        if let Some(base) = base {
            for f in base.fields.iter().filter(|f| f.from.is_none()) {
                fields.push(serde_json::to_value(f)?);
            }
        }
        let mut source = match base {
            Some(b) => serde_json::to_value(&b.source)?,
            None => json!({}),
        };
        source["entity"] = json!(self.entity);
        source["key"] = json!(list(&self.key));
        let object = source.as_object_mut().expect("a table");
        for stale in ["changes", "version", "modified", "filter", "overlap"] {
            object.remove(stale);
        }
        if self.changes == "track" {
            source["changes"] = json!("track");
        } else if base.is_some_and(|b| b.source.modified.as_deref() == Some(self.changes.as_str()))
        {
            source["modified"] = json!(self.changes);
        } else {
            source["version"] = json!(self.changes);
        }
        if !self.filter.is_empty() {
            source["filter"] = json!(self.filter);
        }
        if let Ok(overlap) = self.overlap.parse::<i64>() {
            source["overlap"] = json!(overlap);
        }
        let mut target = match base {
            Some(b) => serde_json::to_value(&b.target)?,
            None => json!({}),
        };
        target["table"] = json!(self.table);
        target["key"] = json!(list(&self.target_key));
        target["create"] = json!(self.create);
        let mut def = match base {
            Some(b) => serde_json::to_value(b)?,
            None => json!({}),
        };
        def["name"] = json!(self.name);
        def["connection"] = json!(self.connection);
        def["direction"] = json!(self.direction);
        def["source"] = source;
        def["target"] = target;
        def["fields"] = Value::Array(fields);
        let lookups: Vec<Value> = self
            .lookups
            .iter()
            .map(|l| {
                let mut lookup = json!({
                    "to": l.to,
                    "from": list(&l.from),
                    "table": l.table,
                    "match": list(&l.match_columns),
                    "select": l.select,
                });
                if !l.missing.is_empty() {
                    lookup["missing"] = json!(l.missing);
                }
                lookup
            })
            .collect();
        def["lookups"] = Value::Array(lookups);
        let object = def.as_object_mut().expect("a table");
        match self.schedule.as_str() {
            "" => drop(object.remove("schedule")),
            s => drop(object.insert("schedule".into(), json!(s))),
        }
        if self.direction == "bidirectional" {
            object.insert("conflict".into(), json!(self.conflict));
        } else {
            object.remove("conflict");
        }
        match (self.reconcile, base.and_then(|b| b.deletes.as_ref())) {
            (false, _) => drop(object.remove("deletes")),
            (true, Some(_)) => {}
            (true, None) => drop(object.insert("deletes".into(), json!({ "detect": "reconcile" }))),
        }
        serde_json::from_value(def)
    }
}

/// Errors of `apply` by the editor's field ids: `source.filter`, `schedule`, a row's `f3`.
fn place(
    errors: Vec<FieldError>,
    def: Option<&IntegrationDef>,
    draft: &Draft,
) -> Vec<(String, String)> {
    errors
        .into_iter()
        .map(|(key, message)| {
            // `integration "name".fields[2].to` → the row of field 2's source field.
            let path = key
                .split_once("\".")
                .map(|(_, p)| p.to_string())
                .unwrap_or(key.clone());
            if let Some(rest) = path.strip_prefix("fields[")
                && let Some((index, _)) = rest.split_once(']')
                && let Ok(index) = index.parse::<usize>()
                && let Some(from) = def
                    .and_then(|d| d.fields.get(index))
                    .and_then(|f| f.from.as_ref())
                && let Some(row) = draft.rows.iter().position(|r| &r.from == from)
            {
                return (format!("f{row}"), message);
            }
            if let Some(rest) = path.strip_prefix("lookups[")
                && let Some((index, _)) = rest.split_once(']')
                && index.parse::<usize>().is_ok()
            {
                return (format!("l{index}"), message);
            }
            (path, message)
        })
        .collect()
}

fn error_of<'e>(errors: &'e [(String, String)], id: &str) -> Option<&'e str> {
    errors
        .iter()
        .find(|(key, _)| {
            key == id || key.starts_with(&format!("{id}.")) || key.starts_with(&format!("{id}["))
        })
        .map(|(_, m)| m.as_str())
}

fn text_field(
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

fn next_times(schedule: &str) -> Option<Markup> {
    let schedule = cron::Schedule::from_str(schedule).ok()?;
    let times: Vec<String> = schedule
        .after(&Utc::now())
        .take(5)
        .map(|t| t.format("%b %d %H:%M:%S").to_string())
        .collect();
    Some(html! { "Next (UTC): " (times.join(", ")) })
}

/// What the editor shows beside the draft: the target table's columns (when it exists), the tables a
/// lookup may read (those integrations write), and the columns of each table the lookups name.
#[derive(Debug, Default)]
struct Context {
    columns: Option<Vec<(String, String)>>,
    tables: Vec<String>,
    lookup_columns: std::collections::BTreeMap<String, Vec<String>>,
}

async fn context(state: &AppState, draft: &Draft) -> Result<Context, ConsoleError> {
    let mut tables: Vec<String> = ferry_shared::definitions::stored_integrations(&state.db)
        .await
        .map_err(ConsoleError::internal)?
        .into_iter()
        .map(|d| d.target.table)
        .collect();
    tables.sort();
    tables.dedup();
    let mut lookup_columns = std::collections::BTreeMap::new();
    for lookup in &draft.lookups {
        if !lookup.table.is_empty() && !lookup_columns.contains_key(&lookup.table) {
            let names: Vec<String> = columns(state, &lookup.table)
                .await?
                .unwrap_or_default()
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            lookup_columns.insert(lookup.table.clone(), names);
        }
    }
    Ok(Context {
        columns: columns(state, &draft.table).await?,
        tables,
        lookup_columns,
    })
}

fn lookups(draft: &Draft, errors: &[(String, String)], context: &Context) -> Markup {
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

fn editor(
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

#[derive(Debug, Default, Deserialize)]
pub struct Start {
    #[serde(default)]
    connection: Option<String>,
    #[serde(default)]
    entity: Option<String>,
    #[serde(default)]
    table: Option<String>,
}

/// `GET /integrations/new`: choose the connection and entity set (and the table), then edit.
pub async fn new(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Query(start): Query<Start>,
) -> Result<Html<String>, ConsoleError> {
    let connection = start.connection.unwrap_or_default();
    let entity = start.entity.unwrap_or_default();
    let table = start.table.unwrap_or_default();
    if !connection.is_empty() && !entity.is_empty() {
        let (_, set) = entity_set(&state, &connection, &entity).await?;
        if let Some(set) = set {
            let table = if table.is_empty() {
                column_name(&set.name)
            } else {
                table
            };
            let columns = columns(&state, &table).await?;
            let draft = Draft::suggested(&connection, &set, &table, columns.as_deref());
            let context = context(&state, &draft).await?;
            return Ok(editor(&signed, &draft, &[], &context));
        }
    }
    let connections = crate::cli::connections::list(&state.db)
        .await
        .map_err(ConsoleError::internal)?;
    let sets = match connection.is_empty() {
        true => Vec::new(),
        false => entity_set(&state, &connection, "").await?.0.entity_sets,
    };
    let body = html! {
        h1 { "New integration" }
        @if !entity.is_empty() && !sets.is_empty() {
            p.notice.bad role="alert" { "No entity set named " code { (entity) } " at " (connection) "." }
        }
        form.editor method="get" action="/integrations/new" {
            div.field {
                label for="connection" { "Connection" }
                select id="connection" name="connection" {
                    @for c in &connections { option value=(c.name) selected[c.name == connection] { (c.name) " (" (c.kind) ")" } }
                }
            }
            @if sets.is_empty() {
                div.actions { button type="submit" { "List its entity sets" } }
            } @else {
                div.field {
                    label for="entity" { "Entity set" }
                    input id="entity" name="entity" list="entity-sets" value=(entity) autocomplete="off" aria-describedby="entity-hint";
                    span.hint id="entity-hint" { (sets.len()) " entity sets; type to search." }
                    datalist id="entity-sets" { @for s in &sets { option value=(s.name) { (s.properties.len()) " fields, key " (s.key.join(", ")) } } }
                }
                div.field {
                    label for="table" { "Target table" }
                    input id="table" name="table" value=(table) aria-describedby="table-hint";
                    span.hint id="table-hint" { "An existing table's columns are matched by name; empty: a new table named after the entity set." }
                }
                div.actions { button type="submit" { "Match fields" } }
            }
        }
    };
    Ok(layout::page(
        &signed,
        Nav::Integrations,
        "New integration",
        None,
        body,
    ))
}

/// `GET /integrations/{name}/edit`.
pub async fn edit(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    let (version, def) = latest_integration(&state.db, &name)
        .await
        .map_err(ConsoleError::internal)?
        .ok_or_else(|| {
            ConsoleError::NotFound(format!("no integration named {name:?} is stored"))
        })?;
    let set = match entity_set(&state, &def.connection, &def.source.entity).await {
        Ok((_, set)) => set,
        Err(_) => None,
    };
    let draft = Draft::of(&def, version, set.as_ref());
    let context = context(&state, &draft).await?;
    Ok(editor(&signed, &draft, &[], &context))
}

/// The stored definition a save builds on, or why the save is refused: a new integration must not
/// take an existing one's name (it would replace it), and an edit must start from the version that is
/// stored now (another save or `ferry apply` since would otherwise be undone).
async fn base_of(
    state: &AppState,
    draft: &Draft,
) -> Result<(Option<IntegrationDef>, Option<(String, String)>), ConsoleError> {
    let name = draft.editing.as_deref().unwrap_or(&draft.name);
    let live = crate::cli::integrations::summary(&state.db, name)
        .await
        .map_err(ConsoleError::internal)?;
    let stored = latest_integration(&state.db, name)
        .await
        .map_err(ConsoleError::internal)?;
    match (&draft.editing, live, stored) {
        (None, Some(_), _) => Ok((
            None,
            Some((
                "name".into(),
                format!("an integration named {name:?} exists: open it and choose Edit"),
            )),
        )),
        (None, None, _) => Ok((None, None)),
        (Some(_), _, Some((version, def))) if Some(version) == draft.version => {
            Ok((Some(def), None))
        }
        (Some(_), _, Some((version, _))) => Ok((
            None,
            Some((
                "version".into(),
                format!(
                    "{name} changed since this editor opened it (it is version {version} now): \
                     open the editor again to start from it"
                ),
            )),
        )),
        (Some(_), _, None) => Err(ConsoleError::NotFound(format!(
            "no integration named {name:?} is stored"
        ))),
    }
}

/// `POST /integrations`: the draft as a definition file through `ferry apply`.
pub async fn save(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let draft = Draft::posted(&pairs);
    if load_connection(&state.db, &draft.connection)
        .await
        .map_err(ConsoleError::internal)?
        .is_none()
    {
        return Err(ConsoleError::Refused(format!(
            "no connection named {:?} is stored",
            draft.connection
        )));
    }
    let context = context(&state, &draft).await?;
    let (base, refusal) = base_of(&state, &draft).await?;
    if let Some(refusal) = refusal {
        return Ok(editor(&signed, &draft, &[refusal], &context).into_response());
    }
    if !draft.overlap.is_empty() && draft.overlap.parse::<i64>().is_err() {
        let errors = vec![(
            "source.overlap".to_string(),
            "must be a whole number of versions".to_string(),
        )];
        return Ok(editor(&signed, &draft, &errors, &context).into_response());
    }
    let def = match draft.to_def(base.as_ref()) {
        Ok(def) => def,
        Err(e) => {
            let errors = vec![("definition".to_string(), e.to_string())];
            return Ok(editor(&signed, &draft, &errors, &context).into_response());
        }
    };
    let text = crate::cli::integrations::to_toml(&def).map_err(ConsoleError::internal)?;
    match apply_text(&state, &text).await? {
        Ok(_) => Ok(Redirect::to(&format!(
            "/integrations/{}?notice=saved-integration",
            def.name
        ))
        .into_response()),
        Err(errors) => {
            let errors = place(errors, Some(&def), &draft);
            Ok(editor(&signed, &draft, &errors, &context).into_response())
        }
    }
}
