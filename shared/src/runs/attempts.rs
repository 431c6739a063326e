//! Each attempt of a run, as an operator reads a run's story: when it was claimed, when and how it
//! ended, and why. Recorded where an attempt ends (`finish`, `hand_back`, the recovery of an expired
//! lease); the run row stays the truth, this is its history.

use chrono::{DateTime, FixedOffset};
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;

use crate::storage::{clock, statement};

/// One attempt of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub attempt: i32,
    pub started_at: Option<DateTime<FixedOffset>>,
    pub ended_at: DateTime<FixedOffset>,
    /// The run's state it ended in (`succeeded`, `failed`, …), or `retrying`, `handed back` (the
    /// worker stopped), `lease expired` (the worker was lost).
    pub outcome: String,
    pub error: Option<String>,
}

/// Records how run `run_id`'s current attempt ended, as the run row says now (attempt number, claim
/// time) with `outcome` and `error`.
pub async fn record(
    db: &impl ConnectionTrait,
    run_id: i64,
    outcome: &str,
    error: Option<&str>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    db.execute_raw(statement(
        backend,
        &format!(
            "INSERT INTO ferry_run_attempts (run_id, attempt, started_at, ended_at, outcome, error) \
             SELECT id, attempt, attempt_started_at, {now}, ?, ? FROM ferry_runs WHERE id = ?",
            now = clock::now(backend)
        ),
        [outcome.into(), error.map(str::to_string).into(), run_id.into()],
    ))
    .await?;
    Ok(())
}

/// The attempts of `run_id`, first first.
pub async fn attempts(db: &impl ConnectionTrait, run_id: i64) -> Result<Vec<Attempt>, DbErr> {
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT attempt, started_at, ended_at, outcome, error FROM ferry_run_attempts \
             WHERE run_id = ? ORDER BY id",
            [run_id.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Attempt {
                attempt: r.try_get_by_index(0)?,
                started_at: r.try_get_by_index(1)?,
                ended_at: r.try_get_by_index(2)?,
                outcome: r.try_get_by_index(3)?,
                error: r.try_get_by_index(4)?,
            })
        })
        .collect()
}
