//! Starting a run from the console: recorded and queued as the API's trigger does (`dispatch`), with
//! `console` as its trigger.

use ferry_shared::dispatch::dispatch;
use ferry_shared::runs::{Mode, NewRun, RunError, Trigger};

use super::ConsoleError;
use crate::state::AppState;

/// Records and queues a run as the API's trigger does (`dispatch`); the console's runs say so.
pub async fn trigger(state: &AppState, name: &str, mode: Mode) -> Result<i64, ConsoleError> {
    let new = NewRun {
        trigger: Trigger::Console,
        ..NewRun::manual(name, mode)
    };
    let mut queue = state.queue.clone();
    let dispatched = dispatch(&state.db, &mut queue, &new)
        .await
        .map_err(|e| match e {
            RunError::UnknownIntegration(_) | RunError::Deleted { .. } => {
                ConsoleError::NotFound(e.to_string())
            }
            RunError::ModeConflict { .. } | RunError::Disabled { .. } => {
                ConsoleError::Refused(e.to_string())
            }
            other => ConsoleError::internal(other),
        })?;
    Ok(dispatched.run_id)
}
