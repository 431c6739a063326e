//! `/conflicts`: records changed on both sides of a two-way integration whose policy is `manual`, with
//! both versions side by side (the columns that differ first), and the buttons that keep one side
//! (`ferry conflicts resolve ID --keep local|remote`).

use std::collections::BTreeSet;

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, Redirect};
use ferry_shared::conflicts::{self, Keep, ResolveError, Stored};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::layout::{self, Nav};
use super::{ConsoleError, Signed};
use crate::state::AppState;

/// Columns of both versions, those that differ first.
fn columns(conflict: &Stored) -> Vec<(String, bool)> {
    let keys = |v: &Option<Value>| -> BTreeSet<String> {
        v.as_ref()
            .and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let all: BTreeSet<String> = keys(&conflict.local)
        .union(&keys(&conflict.remote))
        .cloned()
        .collect();
    let value = |v: &Option<Value>, k: &str| v.as_ref().and_then(|v| v.get(k)).cloned();
    let mut columns: Vec<(String, bool)> = all
        .into_iter()
        .map(|k| {
            let differs = value(&conflict.local, &k) != value(&conflict.remote, &k);
            (k, differs)
        })
        .collect();
    columns.sort_by_key(|(_, differs)| !differs);
    columns
}

fn side(version: &Option<Value>, column: &str) -> Markup {
    match version {
        None => html! { span.muted { "deleted" } },
        Some(v) => layout::cell(v.get(column).unwrap_or(&Value::Null)),
    }
}

pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Query(notice): Query<layout::Notice>,
) -> Result<Html<String>, ConsoleError> {
    let open = conflicts::open(&state.db, None)
        .await
        .map_err(ConsoleError::internal)?;
    let body = html! {
        h1 { "Conflicts" }
        (layout::notice(notice.notice.as_deref()))
        @if open.is_empty() {
            p.panel { "No open conflict. Records changed on both sides of a two-way integration with "
                code { "conflict = \"manual\"" } " wait here for your word." }
        }
        @for conflict in &open {
            section.panel aria-labelledby={ "conflict-" (conflict.id) } {
                h2 id={ "conflict-" (conflict.id) } {
                    a href={ "/integrations/" (conflict.integration) } { (conflict.integration) }
                    " · record " code { (conflict.record_key) } " " span.badge.warn { (conflict.kind) }
                }
                p.muted { "Found by run " a href={ "/runs/" (conflict.run_id) } { "#" (conflict.run_id) } " " (layout::when(&conflict.created_at)) "." }
                div.scroll { table {
                    thead { tr { th scope="col" { "Column" } th scope="col" { "Local" } th scope="col" { "Remote" } } }
                    tbody { @for (column, differs) in columns(conflict) { tr {
                        td { code { (column) } @if differs { " " span.badge.warn { "differs" } } }
                        td { (side(&conflict.local, &column)) }
                        td { (side(&conflict.remote, &column)) }
                    } } }
                } }
                div.actions.below {
                    form method="post" action={ "/conflicts/" (conflict.id) "/resolve" } {
                        (layout::csrf(&signed))
                        input type="hidden" name="keep" value="local";
                        button type="submit" { "Keep local (send it on the next run)" }
                    }
                    form method="post" action={ "/conflicts/" (conflict.id) "/resolve" } {
                        (layout::csrf(&signed))
                        input type="hidden" name="keep" value="remote";
                        button.secondary type="submit" { "Keep remote (write it here now)" }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &signed,
        Nav::Conflicts,
        "Conflicts",
        None,
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    keep: String,
}

/// `POST /conflicts/{id}/resolve`.
pub async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ResolveForm>,
) -> Result<Redirect, ConsoleError> {
    let keep = match form.keep.as_str() {
        "local" => Keep::Local,
        "remote" => Keep::Remote,
        _ => return Err(ConsoleError::Refused("keep must be local or remote".into())),
    };
    match conflicts::resolve(&state.db, id, keep).await {
        Ok(_) => Ok(Redirect::to("/conflicts?notice=resolved")),
        Err(e @ ResolveError::Unknown(_)) => Err(ConsoleError::NotFound(e.to_string())),
        Err(e @ (ResolveError::Resolved(_) | ResolveError::Cannot { .. })) => {
            Err(ConsoleError::Refused(e.to_string()))
        }
        Err(e) => Err(ConsoleError::internal(e)),
    }
}
