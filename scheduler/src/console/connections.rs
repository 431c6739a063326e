//! `/connections`: every stored connection, how it signs in, who is signed in and until when, and the
//! buttons to edit, test, sign in and sign out. A secret is never rendered, not even in part: a stored
//! one shows as "set".

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use ferry_shared::definitions::AuthFlow;
use maud::html;

use super::layout::{self, Nav};
use super::{ConsoleError, Signed};
use crate::cli::{auth, connections};
use crate::state::AppState;

fn flow(flow: AuthFlow) -> &'static str {
    match flow {
        AuthFlow::ClientCredentials => "client credentials",
        AuthFlow::DeviceCode => "device code (a person signs in)",
        AuthFlow::None => "none",
    }
}

pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Query(notice): Query<layout::Notice>,
) -> Result<Html<String>, ConsoleError> {
    let listed = connections::list(&state.db)
        .await
        .map_err(ConsoleError::internal)?;
    let credentials = state.credentials().map_err(ConsoleError::internal)?;
    let statuses = auth::status(&state.db, &credentials, None)
        .await
        .map_err(ConsoleError::internal)?;
    let body = html! {
        h1 { "Connections" }
        (layout::notice(notice.notice.as_deref()))
        div.actions { a.button href="/connections/new" { "New connection" } }
        @if listed.is_empty() {
            p.panel { "No connection is stored yet: add one here, or define one in TOML and run "
                code { "ferry apply FILE" } "." }
        }
        @for c in &listed {
            @let def = &c.definition;
            @let status = statuses.iter().find(|s| s.connection == c.name);
            @let secret_set = status.is_some_and(|s| s.client_secret_stored);
            @let signed_in = status.is_some_and(|s| s.signed_in);
            section.panel aria-labelledby={ "connection-" (c.name) } id={ "connection-" (c.name) } {
                h2 id={ "connection-" (c.name) "-name" } { (c.name) " " span.badge.plain { (c.kind) } }
                dl.facts {
                    dt { "Service" } dd { code { (c.url) } }
                    @if let Some(company) = &c.company { dt { "Company" } dd { (company) } }
                    dt { "Sign-in" } dd { (flow(def.auth.flow)) }
                    @if let Some(client_id) = &def.auth.client_id { dt { "Client id" } dd { code { (client_id) } } }
                    @if def.auth.flow == AuthFlow::ClientCredentials {
                        dt { "Client secret" } dd {
                            @if secret_set { span.badge.good { "set" } " (stored sealed)" }
                            @else if let Some(var) = &def.auth.client_secret_env { "from " code { "$" (var) } }
                            @else { span.badge.bad { "not set" } }
                        }
                    }
                    @if def.auth.flow == AuthFlow::DeviceCode {
                        dt { "Signed in" } dd {
                            @match status.filter(|s| s.signed_in) {
                                Some(s) => {
                                    span.badge.good { "yes" }
                                    @if let Some(account) = &s.account { " as " strong { (account) } }
                                    @match &s.expires_at {
                                        Some(until) => { " until " (layout::when(until)) }
                                        None => " until revoked",
                                    }
                                }
                                None => span.badge.bad { "no" },
                            }
                        }
                    }
                    dt { "Version" } dd { (c.version) }
                    dt { "Used by" } dd {
                        @if c.used_by.is_empty() { span.muted { "no integration" } }
                        @for (i, name) in c.used_by.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={ "/integrations/" (name) } { (name) }
                        }
                    }
                }
                div.actions.below {
                    a.button.secondary href={ "/connections/" (c.name) "/edit" } { "Edit" }
                    form method="post" action={ "/connections/" (c.name) "/test" } {
                        (layout::csrf(&signed))
                        button.secondary type="submit" { "Test" }
                    }
                    @if def.auth.flow == AuthFlow::DeviceCode {
                        form method="post" action={ "/connections/" (c.name) "/sign-in" } {
                            (layout::csrf(&signed))
                            button type="submit" { @if signed_in { "Sign in again" } @else { "Sign in" } }
                        }
                        @if signed_in {
                            form method="post" action={ "/connections/" (c.name) "/sign-out" } {
                                (layout::csrf(&signed))
                                button.secondary type="submit" data-confirm={ "Remove the stored sign-in of " (c.name) "?" } { "Sign out" }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &signed,
        Nav::Connections,
        "Connections",
        None,
        body,
    ))
}
