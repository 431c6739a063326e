//! Cumulative counters for `/metrics`, kept in the database next to the runs they count, so they survive
//! restarts, are shared by every scheduler replica, and only ever grow (runs themselves get pruned).

use sea_orm::{ConnectionTrait, DbErr};

use crate::storage::entities::run;
use crate::storage::statement;

/// Upper bounds (seconds) of the run duration histogram.
pub const DURATION_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0];

/// A Prometheus label value, escaped.
pub fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Adds each `(metric, labels, value)` to its counter, all in one statement: a run's end touches a
/// dozen counters, and one round trip each made them a large share of a small run's database time.
/// Rows go in a fixed order (sorted), so two runs ending at once lock the counters they share in the
/// same order and cannot deadlock; no pair repeats within one call (a statement may not update a row
/// twice).
async fn add_all(
    db: &impl ConnectionTrait,
    mut counts: Vec<(&'static str, String, f64)>,
) -> Result<(), DbErr> {
    if counts.is_empty() {
        return Ok(());
    }
    counts.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let rows = vec!["(?, ?, ?)"; counts.len()].join(", ");
    let values = counts
        .into_iter()
        .flat_map(|(metric, labels, value)| [metric.into(), labels.into(), value.into()]);
    db.execute_raw(statement(
        db.get_database_backend(),
        &format!(
            "INSERT INTO ferry_counters (metric, labels, value) VALUES {rows} \
             ON CONFLICT (metric, labels) DO UPDATE SET value = ferry_counters.value + EXCLUDED.value"
        ),
        values,
    ))
    .await?;
    Ok(())
}

async fn set(
    db: &impl ConnectionTrait,
    metric: &str,
    labels: &str,
    value: f64,
) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "INSERT INTO ferry_counters (metric, labels, value) VALUES (?, ?, ?) \
         ON CONFLICT (metric, labels) DO UPDATE SET value = EXCLUDED.value",
        [metric.into(), labels.into(), value.into()],
    ))
    .await?;
    Ok(())
}

/// Counts a run that just reached its final state (inside the transaction that finished it).
pub async fn count_finished(db: &impl ConnectionTrait, run: &run::Model) -> Result<(), DbErr> {
    let integration = label(&run.integration);
    let mut counts = vec![(
        "ferry_runs_total",
        format!(
            "integration=\"{integration}\",status=\"{}\"",
            label(&run.state)
        ),
        1.0,
    )];
    for (op, n) in [
        ("inserted", run.inserted),
        ("updated", run.updated),
        ("unchanged", run.unchanged),
        ("deleted", run.deleted),
        ("failed", run.failed),
        ("deferred", run.deferred),
        ("skipped", run.skipped),
        ("collapsed", run.collapsed),
        ("folded", run.folded),
    ] {
        if n > 0 {
            counts.push((
                "ferry_rows_total",
                format!("integration=\"{integration}\",op=\"{op}\""),
                n as f64,
            ));
        }
    }
    for (op, n) in [
        ("inserted", run.export_inserted),
        ("updated", run.export_updated),
        ("unchanged", run.export_unchanged),
        ("deleted", run.export_deleted),
        ("failed", run.export_failed),
        ("conflict", run.export_conflicts),
    ] {
        if n > 0 {
            counts.push((
                "ferry_exported_total",
                format!("integration=\"{integration}\",op=\"{op}\""),
                n as f64,
            ));
        }
    }
    let ended = run.started_at.zip(run.finished_at);
    if let Some((start, end)) = ended {
        let seconds = (end - start).num_milliseconds().max(0) as f64 / 1000.0;
        for bound in DURATION_BUCKETS.iter().filter(|b| seconds <= **b) {
            counts.push((
                "ferry_run_duration_seconds_bucket",
                format!("le=\"{bound}\""),
                1.0,
            ));
        }
        counts.push((
            "ferry_run_duration_seconds_bucket",
            "le=\"+Inf\"".to_string(),
            1.0,
        ));
        counts.push(("ferry_run_duration_seconds_sum", String::new(), seconds));
        counts.push(("ferry_run_duration_seconds_count", String::new(), 1.0));
    }
    add_all(db, counts).await?;
    if let Some((_, end)) = ended
        && run.state == "succeeded"
    {
        set(
            db,
            "ferry_integration_last_success_timestamp_seconds",
            &format!("integration=\"{integration}\""),
            end.timestamp() as f64,
        )
        .await?;
    }
    Ok(())
}
