//! `ferry disable NAME`, `ferry enable NAME` and `ferry delete NAME [--drop-target]`: an integration's
//! standing (`definitions::lifecycle`). The API calls the same functions.
//!
//! Disabling leaves runs already queued or running alone: it stops the schedule and refuses new
//! triggers (`runs::enqueue`). Deleting cancels them first, keeps the versions, runs, failures and the
//! target table, and with `--drop-target` drops the table once its running run ended, with the
//! integration's couplings and checkpoint, so a later `apply` starts from nothing.

use std::process::ExitCode;
use std::time::Duration;

use ferry_shared::checkpoint;
use ferry_shared::definitions::lifecycle::{self, State};
use ferry_shared::definitions::{self, ApplyError};
use ferry_shared::runs::{self, CancelError, Cancelled, RunState};
use ferry_shared::settings::Settings;
use ferry_shared::sink;
use ferry_shared::storage::entities::run;
use ferry_shared::storage::{self, statement};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

/// Why a lifecycle change was not made.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("no integration named {0:?} has been applied")]
    Unknown(String),
    #[error("{0} was deleted; `ferry apply` its definition to bring it back")]
    Deleted(String),
    #[error(
        "table {table} is also written by {others}; delete those too, or delete without --drop-target"
    )]
    TargetShared { table: String, others: String },
    #[error(
        "run {run_id} of {integration} is still running after {secs}s; {integration} is deleted but \
         its table was not dropped: run `ferry delete {integration} --drop-target` again once it ended"
    )]
    StillRunning {
        integration: String,
        run_id: i64,
        secs: u64,
    },
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Definitions(#[from] ApplyError),
    #[error(transparent)]
    Cancel(#[from] CancelError),
}

/// What `delete` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Deleted {
    /// Queued runs that ended cancelled.
    pub cancelled: Vec<i64>,
    /// Running runs asked to stop after the page in hand.
    pub stopping: Vec<i64>,
    /// The target table dropped, with `--drop-target`.
    pub dropped: Option<String>,
}

/// Disables (`enabled = false`) or enables integration `name` on behalf of `by`; `false` when it
/// already was so.
pub async fn set_enabled(
    db: &DatabaseConnection,
    name: &str,
    enabled: bool,
    by: &str,
) -> Result<bool, LifecycleError> {
    live(db, name).await?;
    let state = if enabled {
        State::Enabled
    } else {
        State::Disabled
    };
    Ok(lifecycle::set(db, name, state, by).await?)
}

/// Deletes integration `name` on behalf of `by`: no longer scheduled or triggered, its queued and
/// running runs cancelled. With `drop_target`, waits up to `wait` for a running run to stop, then
/// drops the target table and forgets the couplings and checkpoint. Deleting again with
/// `drop_target` drops the table of an integration already deleted.
pub async fn delete(
    db: &DatabaseConnection,
    name: &str,
    drop_target: bool,
    by: &str,
    wait: Duration,
) -> Result<Deleted, LifecycleError> {
    let (_, def) = definitions::latest_integration(db, name)
        .await?
        .ok_or_else(|| LifecycleError::Unknown(name.to_string()))?;
    let already = lifecycle::standing(db, name).await?.state == State::Deleted;
    if already && !drop_target {
        return Err(LifecycleError::Deleted(name.to_string()));
    }
    if drop_target {
        let others: Vec<String> = definitions::stored_integrations(db)
            .await?
            .into_iter()
            .filter(|other| other.name != name && other.target.table == def.target.table)
            .map(|other| other.name)
            .collect();
        if !others.is_empty() {
            return Err(LifecycleError::TargetShared {
                table: def.target.table.clone(),
                others: others.join(", "),
            });
        }
    }
    // Deleted first, so no trigger makes a new run while the open ones are cancelled.
    lifecycle::set(db, name, State::Deleted, by).await?;
    let mut deleted = Deleted::default();
    for open in open_runs(db, name).await? {
        match runs::cancel(db, open.id, by).await {
            Ok(Cancelled::Now) => deleted.cancelled.push(open.id),
            Ok(Cancelled::AtNextPage) => deleted.stopping.push(open.id),
            // It ended meanwhile: nothing to cancel.
            Err(CancelError::Finished { .. } | CancelError::Unknown(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // A deleted integration exports nothing: its triggers and unsent changes go.
    ferry_shared::capture::release(db, &def).await?;
    if drop_target {
        wait_until_stopped(db, name, wait).await?;
        drop_table(db, name, &def.target.table).await?;
        deleted.dropped = Some(def.target.table.clone());
    }
    Ok(deleted)
}

/// The integration exists and is not deleted.
async fn live(db: &DatabaseConnection, name: &str) -> Result<(), LifecycleError> {
    if definitions::latest_integration(db, name).await?.is_none() {
        return Err(LifecycleError::Unknown(name.to_string()));
    }
    if lifecycle::standing(db, name).await?.state == State::Deleted {
        return Err(LifecycleError::Deleted(name.to_string()));
    }
    Ok(())
}

async fn open_runs(db: &DatabaseConnection, name: &str) -> Result<Vec<run::Model>, DbErr> {
    run::Entity::find()
        .filter(run::Column::Integration.eq(name))
        .filter(run::Column::State.is_in([RunState::Queued.as_str(), RunState::Running.as_str()]))
        .all(db)
        .await
}

/// Waits (bounded) until no run of `name` is running, so the dropped table is nobody's to write.
async fn wait_until_stopped(
    db: &DatabaseConnection,
    name: &str,
    wait: Duration,
) -> Result<(), LifecycleError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let Some(open) = open_runs(db, name).await?.into_iter().next() else {
            return Ok(());
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(LifecycleError::StillRunning {
                integration: name.to_string(),
                run_id: open.id,
                secs: wait.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Drops the target table and, in the same transaction, what described its rows: the couplings and
/// the checkpoint of the integration.
async fn drop_table(db: &DatabaseConnection, name: &str, table: &str) -> Result<(), DbErr> {
    let txn = storage::begin_write(db).await?;
    let backend = txn.get_database_backend();
    txn.execute_unprepared(&format!("DROP TABLE IF EXISTS {}", sink::quote(table)))
        .await?;
    txn.execute_raw(statement(
        backend,
        "DELETE FROM ferry_couplings WHERE integration = ?",
        [name.into()],
    ))
    .await?;
    checkpoint::forget(&txn, name).await?;
    txn.commit().await
}

/// `ferry disable NAME` / `ferry enable NAME`.
pub(super) async fn enable_command(
    settings: &Settings,
    name: &str,
    enabled: bool,
) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    match set_enabled(&db, name, enabled, &super::cancel::who()).await {
        Ok(changed) => {
            let now = if enabled { "enabled" } else { "disabled" };
            match (changed, enabled) {
                (false, _) => println!("{name} was already {now}"),
                (true, true) => println!("{name} enabled: scheduled and triggered again"),
                (true, false) => println!(
                    "{name} disabled: not scheduled, and triggers are refused until `ferry enable \
                     {name}` (runs already queued or running go on)"
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (LifecycleError::Unknown(_) | LifecycleError::Deleted(_))) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

/// `ferry delete NAME [--drop-target]`.
pub(super) async fn delete_command(
    settings: &Settings,
    name: &str,
    drop_target: bool,
) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let wait = settings.worker.lease() * 2;
    match delete(&db, name, drop_target, &super::cancel::who(), wait).await {
        Ok(deleted) => {
            for run_id in &deleted.cancelled {
                println!("run {run_id} cancelled");
            }
            for run_id in &deleted.stopping {
                println!("run {run_id} stops after the page in hand");
            }
            match &deleted.dropped {
                Some(table) => {
                    println!("{name} deleted and table {table} dropped; its runs and failures stay")
                }
                None => println!(
                    "{name} deleted: no longer scheduled or triggered; its runs, failures and \
                     target table stay (`ferry apply` its definition to bring it back)"
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(
            e @ (LifecycleError::Unknown(_)
            | LifecycleError::Deleted(_)
            | LifecycleError::TargetShared { .. }
            | LifecycleError::StillRunning { .. }),
        ) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}
