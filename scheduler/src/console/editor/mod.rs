//! The integration editor: pick a connection and one of its entity sets (from the `$metadata` Ferry
//! keeps for it), name the target table (existing or new), and the fields are auto-matched by name;
//! then adjust each field's column, transform and export, the key, the change field, the filter, the
//! lookups (with the looked-up table's columns offered), the schedule (its next five times shown),
//! deletes and the conflict policy. A save is `ferry apply` of the file the form stands for: a new
//! version, validated exactly as `apply` validates, every problem listed and shown by its field.
//! Constants of an edited integration are kept as they are (they are edited in TOML).
//!
//! `draft.rs` is the form's model, `view.rs` the page; this file reads what they need and handles
//! the requests.

mod draft;
mod view;

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use ferry_shared::definitions::{IntegrationDef, latest_integration, load_connection};
use ferry_shared::odata::catalog::{Catalog, CatalogSet};
use maud::html;
use serde::Deserialize;

use super::apply_text::apply_text;
use super::automatch::column_name;
use super::layout::{self, Nav};
use super::{ConsoleError, Signed};
use crate::state::AppState;
use draft::{Draft, place};
use view::editor;

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

/// What the editor shows beside the draft: the target table's columns (when it exists), the tables a
/// lookup may read (those integrations write), and the columns of each table the lookups name.
#[derive(Debug, Default)]
pub(super) struct Context {
    pub(super) columns: Option<Vec<(String, String)>>,
    pub(super) tables: Vec<String>,
    pub(super) lookup_columns: std::collections::BTreeMap<String, Vec<String>>,
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
