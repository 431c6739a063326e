//! `/integrations/{name}`: one integration's definition, drift, recent runs and actions (run, preview,
//! check now, clean up, export as TOML). Every action is the library function the CLI calls.

use std::str::FromStr;

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use ferry_shared::definitions::{Direction, IntegrationDef};
use ferry_shared::drift::{Checker, Severity, check_against_stored};
use ferry_shared::runs::{self, Mode, RunSummary};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Nav};
use super::{ConsoleError, Signed};
use crate::cli::integrations;
use crate::state::AppState;

/// The stored definition of `name`, or the page's 404.
async fn stored(state: &AppState, name: &str) -> Result<(i32, IntegrationDef), ConsoleError> {
    integrations::stored(&state.db, name, None)
        .await
        .map_err(ConsoleError::internal)?
        .ok_or_else(|| ConsoleError::NotFound(format!("no integration named {name:?} is stored")))
}

pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Query(notice): Query<layout::Notice>,
) -> Result<Html<String>, ConsoleError> {
    let summary = integrations::summary(&state.db, &name)
        .await
        .map_err(ConsoleError::internal)?
        .ok_or_else(|| {
            ConsoleError::NotFound(format!("no integration named {name:?} is stored"))
        })?;
    let (_, def) = stored(&state, &name).await?;
    let drift = check_against_stored(&state.db, &[&def])
        .await
        .map_err(ConsoleError::internal)?
        .pop();
    let recent: Vec<RunSummary> = runs::list(&state.db, Some(&name), 10)
        .await
        .map_err(ConsoleError::internal)?
        .into_iter()
        .map(RunSummary::from)
        .collect();
    let conflicts = ferry_shared::conflicts::open(&state.db, Some(&name))
        .await
        .map_err(ConsoleError::internal)?
        .len();
    let running = recent
        .iter()
        .any(|r| matches!(r.status.as_str(), "queued" | "running" | "retrying"));
    let body = html! {
        h1 { (name) }
        p.sub {
            "version " (summary.version) " · " (def.direction.as_str()) " · connection "
            a href="/connections" { (def.connection) } " · "
            @if summary.enabled { "enabled" } @else { span.badge.plain { "disabled" } }
        }
        (layout::notice(notice.notice.as_deref()))
        div.actions {
            form method="post" action={ "/integrations/" (name) "/run" } {
                (layout::csrf(&signed))
                label for="mode" { "Run" }
                select id="mode" name="mode" {
                    option value="incremental" selected { "changes since the checkpoint" }
                    option value="full" { "everything (full)" }
                    option value="reconcile" { "deletes only (reconcile)" }
                    option value="retry_failed" { "failed records again" }
                }
                button type="submit" { "Run now" }
            }
            a.button.secondary href={ "/integrations/" (name) "/preview" } { "Preview" }
            a.button.secondary href={ "/integrations/" (name) "/edit" } { "Edit" }
            a.button.secondary href={ "/integrations/" (name) "/definition.toml" } download { "Export as TOML" }
        }
        @if conflicts > 0 {
            p.notice.warn { (conflicts) " open conflict(s): " a href="/conflicts" { "resolve them" } }
        }
        (definition(&def))
        (fields(&def))
        (drift_section(&signed, &name, drift.as_ref()))
        h2 { "Recent runs" }
        (super::runs::table(&recent, false))
    };
    Ok(layout::page(
        &signed,
        Nav::Integrations,
        &name,
        running.then_some(3),
        body,
    ))
}

fn definition(def: &IntegrationDef) -> Markup {
    let next: Vec<chrono::DateTime<Utc>> = def
        .schedule
        .as_deref()
        .and_then(|s| cron::Schedule::from_str(s).ok())
        .map(|s| s.after(&Utc::now()).take(5).collect())
        .unwrap_or_default();
    let (change_field, _) = def.source.change_field();
    html! {
        h2 { "Definition" }
        div.panel {
            dl.facts {
                dt { "Source" } dd { code { (def.source.entity) } " keyed by " code { (def.source.key.join(", ")) } }
                dt { "Changes" } dd {
                    @if def.source.tracked() { "the service's change tracking" }
                    @else { "rows past the checkpoint of " code { (change_field) } }
                }
                @if let Some(filter) = &def.source.filter { dt { "Filter" } dd { code { (filter) } } }
                dt { "Target" } dd { "table " code { (def.target.table) } " keyed by " code { (def.target.key.join(", ")) } }
                dt { "Schedule" } dd {
                    @match &def.schedule {
                        Some(cron) => {
                            code { (cron) } " (UTC)"
                            @if !next.is_empty() {
                                br; span.muted { "next: " }
                                @for (i, at) in next.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    time datetime=(at.to_rfc3339()) { (at.format("%b %d %H:%M:%S")) }
                                }
                            }
                        }
                        None => span.muted { "on demand only" },
                    }
                }
                @if let Some(deletes) = &def.deletes {
                    dt { "Deletes" } dd { code { (serde_json::to_string(deletes).unwrap_or_default()) } }
                }
                @if def.direction == Direction::Bidirectional {
                    dt { "Conflicts" } dd { (def.conflict_policy().as_str()) }
                }
            }
        }
    }
}

fn fields(def: &IntegrationDef) -> Markup {
    html! {
        h2 { "Fields" }
        div.scroll {
            table {
                thead { tr {
                    th scope="col" { "Source field" }
                    th scope="col" { "Column" }
                    th scope="col" { "Transform" }
                    @if def.direction != Direction::Import { th scope="col" { "Exported" } }
                } }
                tbody {
                    @for field in &def.fields {
                        tr {
                            td {
                                @match (&field.from, &field.value) {
                                    (Some(from), _) => code { (from) },
                                    (None, Some(value)) => { span.muted { "constant " } code { (value.to_string()) } }
                                    (None, None) => span.muted { "–" },
                                }
                                @if field.label { " " span.badge.plain { "label" } }
                            }
                            td { code { (field.to) } }
                            td { @if let Some(t) = &field.transform { code { (t.to_string()) } } }
                            @if def.direction != Direction::Import {
                                td { @if field.exports() { "yes" } @else { span.muted { "no" } } }
                            }
                        }
                    }
                }
            }
        }
        @if !def.lookups.is_empty() {
            h2 { "Lookups" }
            div.scroll { table {
                thead { tr { th scope="col" { "Column" } th scope="col" { "From" } th scope="col" { "Table" } } }
                tbody { @for lookup in &def.lookups { tr {
                    td { code { (lookup.to) } }
                    td { code { (lookup.from.join(", ")) } }
                    td { code { (lookup.table) } }
                } } }
            } }
        }
    }
}

fn drift_section(
    signed: &Signed,
    name: &str,
    check: Option<&ferry_shared::drift::StoredCheck>,
) -> Markup {
    let problems = check.map(|c| &c.problems[..]).unwrap_or(&[]);
    let gone = problems.iter().any(|p| p.severity == Severity::Error);
    html! {
        h2 id="drift" { "Drift" }
        div.panel {
            @match check.and_then(|c| c.against) {
                Some(at) => p.muted { "Against the source's " code { "$metadata" } " read " (layout::when(&at)) "." },
                None => p.muted { "The source's " code { "$metadata" } " has not been read yet." },
            }
            @if problems.is_empty() {
                p { "Every mapped field and the target table match the source." }
            } @else {
                ul.problems {
                    @for problem in problems {
                        li {
                            @if problem.severity == Severity::Error { span.badge.bad { "error" } }
                            @else { span.badge.warn { "warning" } }
                            " " (problem.message)
                            @if !problem.used_by.is_empty() {
                                br; span.muted { "breaks " (problem.used_by.join(", ")) }
                            }
                        }
                    }
                }
            }
            div.actions {
                form method="post" action={ "/integrations/" (name) "/check" } {
                    (layout::csrf(signed))
                    button.secondary type="submit" { "Check against the source now" }
                }
                @if gone {
                    form method="post" action={ "/integrations/" (name) "/clean-up" } {
                        (layout::csrf(signed))
                        button type="submit" data-confirm="Store a new version without the fields that are gone?" {
                            "Clean up: drop what is gone"
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RunForm {
    #[serde(default)]
    mode: Option<Mode>,
}

/// `POST /integrations/{name}/run`: the run is recorded and queued, then its page is shown.
pub async fn run(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Form(form): Form<RunForm>,
) -> Result<Redirect, ConsoleError> {
    let run_id =
        super::trigger::trigger(&state, &name, form.mode.unwrap_or(Mode::Incremental)).await?;
    Ok(Redirect::to(&format!("/runs/{run_id}")))
}

pub(super) fn checker(state: &AppState) -> Result<Checker, ConsoleError> {
    Ok(Checker {
        db: state.db.clone(),
        credentials: state.credentials().map_err(ConsoleError::internal)?,
        http: ferry_shared::odata::client::http_client(),
        budgets: state.budgets.clone(),
    })
}

/// `POST /integrations/{name}/check`: reads the source's `$metadata` now (as `ferry check` does), so
/// the drift shown is today's.
pub async fn check(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Redirect, ConsoleError> {
    stored(&state, &name).await?;
    let reports = checker(&state)?
        .check(std::slice::from_ref(&name))
        .await
        .map_err(|e| ConsoleError::Refused(e.to_string()))?;
    if let Some(error) = reports.into_iter().find_map(|r| r.error) {
        return Err(ConsoleError::Refused(format!(
            "could not read the source of {name}: {error}"
        )));
    }
    Ok(Redirect::to(&format!("/integrations/{name}#drift")))
}

/// `POST /integrations/{name}/clean-up`: `ferry check --clean-up NAME`.
pub async fn clean_up(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Redirect, ConsoleError> {
    let cleaned = checker(&state)?
        .clean_up(&name)
        .await
        .map_err(|e| ConsoleError::Refused(e.to_string()))?;
    let notice = if cleaned.removed.is_empty() {
        "nothing-to-clean"
    } else {
        "cleaned"
    };
    Ok(Redirect::to(&format!(
        "/integrations/{name}?notice={notice}#drift"
    )))
}

/// `GET /integrations/{name}/definition.toml`: the file `ferry apply` stores as exactly this version.
pub async fn definition_toml(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    let (_, def) = stored(&state, &name).await?;
    let text = integrations::to_toml(&def).map_err(ConsoleError::internal)?;
    let file = format!("attachment; filename=\"{}.toml\"", name.replace('"', ""));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/toml; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, file),
        ],
        text,
    )
        .into_response())
}
