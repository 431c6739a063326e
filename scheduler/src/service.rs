//! `ferry scheduler`: the control plane's long-running loop. Every replica serves the API; the leader
//! also enqueues cron ticks, reconciles lost runs and prunes history.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use ferry_shared::queue;
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cron_loop::Cron;
use crate::leader::Leadership;
use crate::{api, recovery};

/// How often the leader prunes history.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Binds `api.listen` and runs until `shutdown` completes.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&settings.api.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.api.listen))?;
    run_with_listener(settings, listener, shutdown).await
}

/// Runs with an API listener already bound (tests bind port 0). Refuses to start with an API token
/// too short to protect anything.
pub async fn run_with_listener(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    settings.api.check_token()?;
    let db = storage::connect(&settings.database).await?;
    let mut queue = queue::storage(&settings.queue, settings.worker.lease() / 3).await?;
    let stop = CancellationToken::new();
    info!(api = %listener.local_addr()?, "scheduler started");
    let server = tokio::spawn(api::serve(
        listener,
        api::AppState::new(db.clone(), queue.clone(), settings.clone()),
        stop.clone(),
    ));
    let leadership = Leadership {
        owner: ferry_worker::worker_name(),
        lease: settings.scheduler.leader_lease(),
    };
    let mut cron = Cron::default();
    let mut leading = false;
    let mut last_reconcile = tokio::time::Instant::now() - settings.scheduler.reconcile();
    let mut last_prune = tokio::time::Instant::now() - PRUNE_EVERY;
    let mut upkeep: Option<tokio::task::JoinHandle<()>> = None;
    let mut tick = tokio::time::interval(settings.scheduler.tick());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        // A fire time between two steps wakes the loop at that time (a millisecond after it, so the
        // step's `now` has passed it).
        let wake = cron
            .next_wake(Utc::now())
            .filter(|_| leading)
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .map(|wait| tokio::time::Instant::now() + wait + Duration::from_millis(1));
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
            _ = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
        let now_leading = match leadership.acquire_or_renew(&db).await {
            Ok(leading) => leading,
            Err(e) => {
                warn!(error = %e, "leadership check failed");
                false
            }
        };
        if now_leading != leading {
            info!(owner = %leadership.owner, leading = now_leading, "leadership changed");
            cron.reset();
            leading = now_leading;
        }
        if !leading {
            continue;
        }
        if let Err(e) = cron.step(&db, &mut queue, Utc::now()).await {
            warn!(error = %e, "cron step failed; retrying next tick");
        }
        // Recovery and pruning wait on rows other processes may hold, so they run beside this loop, one
        // pass at a time: a stuck row delays neither cron ticks nor leadership renewal.
        if last_reconcile.elapsed() >= settings.scheduler.reconcile()
            && upkeep.as_ref().is_none_or(|pass| pass.is_finished())
        {
            last_reconcile = tokio::time::Instant::now();
            let prune = last_prune.elapsed() >= PRUNE_EVERY;
            if prune {
                last_prune = last_reconcile;
            }
            upkeep = Some(tokio::spawn(upkeep_pass(
                db.clone(),
                queue.clone(),
                settings.clone(),
                prune,
            )));
        }
    }
    if let Some(pass) = upkeep {
        pass.abort();
    }
    if leading && let Err(e) = leadership.release(&db).await {
        warn!(error = %e, "could not release leadership; it expires by itself");
    }
    stop.cancel();
    let _ = server.await;
    info!("scheduler stopped");
    Ok(())
}

/// One recovery pass (and, when due, a prune), off the leader loop.
async fn upkeep_pass(
    db: sea_orm::DatabaseConnection,
    mut queue: queue::SyncStorage,
    settings: Settings,
    prune: bool,
) {
    if let Err(e) = recovery::recover(&db, &mut queue, &settings).await {
        warn!(error = %e, "recovery failed; retrying next time");
    }
    if prune && let Err(e) = recovery::prune(&db, &mut queue, &settings).await {
        warn!(error = %e, "prune failed; retrying next time");
    }
}
