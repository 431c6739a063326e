//! The editor's live check of a filter as it is typed: the checks `apply` and `ferry check` make
//! (the grammar, pointing at the token it stops at; every field named exists on the entity; each value
//! fits its field's type), answered as one line of text for the page's script.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use ferry_shared::drift::mismatches;
use serde::Deserialize;

use super::ConsoleError;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct FilterQuery {
    #[serde(default)]
    connection: String,
    #[serde(default)]
    entity: String,
    #[serde(default)]
    filter: String,
}

/// What is wrong with `filter` on `entity`, or nothing. Without a kept `$metadata`, only the grammar.
pub async fn problem(
    state: &AppState,
    connection: &str,
    entity: &str,
    filter: &str,
) -> Result<Option<String>, ConsoleError> {
    if filter.trim().is_empty() {
        return Ok(None);
    }
    let parsed = match ferry_shared::filter::parse(filter) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(Some(format!("not a supported OData filter: {e}"))),
    };
    let Some(kept) = ferry_shared::source::discovered::last(&state.db, connection)
        .await
        .map_err(ConsoleError::internal)?
    else {
        return Ok(None);
    };
    let Some(entity_type) = kept.metadata.entity(entity) else {
        return Ok(None);
    };
    if let Some(missing) = parsed
        .fields()
        .into_iter()
        .find(|f| entity_type.property(f).is_none())
    {
        return Ok(Some(format!("`{missing}` is not a field of {entity}")));
    }
    Ok(mismatches(&parsed, entity_type, &kept.metadata)
        .into_iter()
        .next()
        .map(|m| format!("`{}`: {}", m.field, m.message)))
}

/// `GET /integrations/filter-check?connection=…&entity=…&filter=…`: `ok`, or the problem.
pub async fn check(
    State(state): State<AppState>,
    Query(query): Query<FilterQuery>,
) -> Result<impl IntoResponse, ConsoleError> {
    let answer = problem(&state, &query.connection, &query.entity, &query.filter)
        .await?
        .unwrap_or_else(|| "ok".into());
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        answer,
    ))
}
