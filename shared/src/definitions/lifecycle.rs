//! An integration's standing: enabled (the default: no row), disabled (kept, not scheduled, triggers
//! refused) or deleted (gone from scheduling and triggering; its versions, runs, failures and target
//! table stay). Stored per name in `ferry_integration_lifecycle`, never on a version (invariant 7).
//!
//! `apply` keeps a disabled integration disabled, and brings a deleted one back as a new version.
//! `runs::enqueue` is the one place a trigger is refused for it; cron leaves such integrations out.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

use crate::storage::entities::integration_lifecycle as lifecycle;

/// Where an integration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Enabled,
    Disabled,
    Deleted,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Enabled => "enabled",
            State::Disabled => "disabled",
            State::Deleted => "deleted",
        }
    }

    fn parse(text: &str) -> State {
        match text {
            "disabled" => State::Disabled,
            "deleted" => State::Deleted,
            _ => State::Enabled,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// An integration's state, and since when and by whom (none for one never changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub state: State,
    pub changed_at: Option<DateTime<FixedOffset>>,
    pub changed_by: Option<String>,
}

impl Standing {
    const ENABLED: Standing = Standing {
        state: State::Enabled,
        changed_at: None,
        changed_by: None,
    };

    fn of(row: lifecycle::Model) -> Standing {
        Standing {
            state: State::parse(&row.state),
            changed_at: Some(row.changed_at),
            changed_by: Some(row.changed_by),
        }
    }

    /// "by cli:alice at 2026-…", for messages.
    pub fn when(&self) -> String {
        match (&self.changed_by, self.changed_at) {
            (Some(by), Some(at)) => format!("by {by} at {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
            _ => String::new(),
        }
    }
}

/// The standing of integration `name`.
pub async fn standing(db: &impl ConnectionTrait, name: &str) -> Result<Standing, DbErr> {
    Ok(lifecycle::Entity::find_by_id(name.to_string())
        .one(db)
        .await?
        .map_or(Standing::ENABLED, Standing::of))
}

/// Every integration whose standing was ever changed, by name (the others are enabled).
pub async fn standings(db: &impl ConnectionTrait) -> Result<HashMap<String, Standing>, DbErr> {
    Ok(lifecycle::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.name.clone(), Standing::of(row)))
        .collect())
}

/// Sets integration `name`'s state on behalf of `by`; `false` when it already was in it.
pub async fn set(
    db: &impl ConnectionTrait,
    name: &str,
    state: State,
    by: &str,
) -> Result<bool, DbErr> {
    if standing(db, name).await?.state == state {
        return Ok(false);
    }
    lifecycle::Entity::insert(lifecycle::ActiveModel {
        name: Set(name.to_string()),
        state: Set(state.as_str().to_string()),
        changed_at: Set(Utc::now().fixed_offset()),
        changed_by: Set(by.to_string()),
    })
    .on_conflict(
        OnConflict::column(lifecycle::Column::Name)
            .update_columns([
                lifecycle::Column::State,
                lifecycle::Column::ChangedAt,
                lifecycle::Column::ChangedBy,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(true)
}
