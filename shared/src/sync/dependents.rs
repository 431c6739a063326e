//! Waking integrations whose records wait on this one: when a run wrote the table that parked records
//! look up (`missing = "defer"`), those integrations get a run now instead of at their next schedule.
//! A woken run carries the chain of integrations that woke it, and never wakes one in its own chain:
//! two integrations that defer on each other wake each other once, not for ever.

use sea_orm::ConnectionTrait;
use tracing::{info, warn};

use super::execute::SyncContext;
use super::import::latest_definition;
use crate::dispatch::dispatch;
use crate::runs::{Mode, NewRun, Trigger};
use crate::storage::statement;

/// Triggers a run of each integration with parked records whose `defer` lookups read `table`. Best
/// effort: a failure here never fails the run that just succeeded; parked records are also retried by
/// the waiting integration's own next run.
pub(super) async fn wake_dependents(
    ctx: &SyncContext,
    integration: &str,
    table: &str,
    woken_by: Option<&str>,
) {
    let mut chain: Vec<String> = woken_by
        .and_then(|chain| serde_json::from_str(chain).ok())
        .unwrap_or_default();
    chain.push(integration.to_string());
    let waiting = match ctx
        .db
        .query_all_raw(statement(
            ctx.db.get_database_backend(),
            "SELECT DISTINCT integration FROM ferry_deferred WHERE integration <> ?",
            [integration.into()],
        ))
        .await
    {
        Ok(rows) => rows
            .iter()
            .filter_map(|r| r.try_get_by_index::<String>(0).ok())
            .collect::<Vec<_>>(),
        Err(e) => return warn!(error = %e, "could not read parked records"),
    };
    for name in waiting {
        let Ok(def) = latest_definition(&ctx.db, &name).await else {
            continue;
        };
        let depends = def
            .lookups
            .iter()
            .any(|l| l.table == table && l.missing.as_deref() == Some("defer"));
        if !depends {
            continue;
        }
        if chain.contains(&name) {
            info!(
                integration = %name,
                chain = ?chain,
                "not waking an integration that started this chain of lookup runs"
            );
            continue;
        }
        let new = NewRun {
            trigger: Trigger::Lookup,
            woken_by: chain.clone(),
            ..NewRun::manual(&name, Mode::Incremental)
        };
        let mut queue = ctx.queue.clone();
        match dispatch(&ctx.db, &mut queue, &new).await {
            Ok(enqueued) => info!(
                integration = %name,
                run_id = enqueued.run_id,
                after = integration,
                "retrying parked records"
            ),
            Err(e) => warn!(integration = %name, error = %e, "could not trigger a dependent run"),
        }
    }
}
