//! The scheduler: enqueues integrations that have a `schedule` on their cron (with seconds), in UTC.
//! A tick is a run row unique per (integration, scheduled time), so a tick is never enqueued twice.

use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use ferry_shared::definitions::IntegrationDef;
use ferry_shared::queue;
use ferry_shared::runs::{self, Mode, Trigger};
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::storage::entities::integration;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use tracing::{info, warn};

/// A schedule being followed and its next tick.
#[derive(Debug)]
struct Due {
    expression: String,
    schedule: cron::Schedule,
    next: DateTime<Utc>,
}

/// Runs until `shutdown` completes.
pub async fn run(settings: &Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let db = storage::connect(&settings.database).await?;
    let mut queue = queue::storage(&settings.queue, settings.worker.lease() / 3).await?;
    let mut due: HashMap<String, Due> = HashMap::new();
    let mut tick = tokio::time::interval(settings.scheduler.tick());
    tokio::pin!(shutdown);
    info!("scheduler started");
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = step(&db, &mut queue, &mut due, Utc::now()).await {
            warn!(error = %e, "scheduler step failed; retrying next tick");
        }
    }
    info!("scheduler stopped");
    Ok(())
}

/// One pass: follow schedule changes, enqueue what is due.
async fn step(
    db: &DatabaseConnection,
    queue: &mut queue::SyncStorage,
    due: &mut HashMap<String, Due>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let schedules = current_schedules(db).await?;
    due.retain(|name, _| schedules.contains_key(name));
    for (name, expression) in schedules {
        let entry = due.get(&name);
        if entry.is_none_or(|d| d.expression != expression) {
            let Ok(schedule) = cron::Schedule::from_str(&expression) else {
                continue;
            };
            let Some(next) = schedule.after(&now).next() else {
                continue;
            };
            due.insert(
                name.clone(),
                Due {
                    expression,
                    schedule,
                    next,
                },
            );
            continue;
        }
        let Some(entry) = due.get_mut(&name) else {
            continue;
        };
        if entry.next > now {
            continue;
        }
        let tick = entry.next;
        entry.next = entry
            .schedule
            .after(&now)
            .next()
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let enqueued = runs::enqueue(
            db,
            &name,
            Mode::Incremental,
            Trigger::Schedule,
            Some(tick.fixed_offset()),
        )
        .await?;
        if enqueued.created {
            queue::push(queue, enqueued.run_id, None).await?;
            info!(integration = %name, run_id = enqueued.run_id, %tick, "scheduled run enqueued");
        }
    }
    Ok(())
}

/// The schedule of the current version of every integration that has one.
async fn current_schedules(db: &DatabaseConnection) -> anyhow::Result<HashMap<String, String>> {
    let rows = integration::Entity::find()
        .order_by_asc(integration::Column::Version)
        .all(db)
        .await?;
    let mut latest: HashMap<String, Option<String>> = HashMap::new();
    for row in rows {
        let def: IntegrationDef = serde_json::from_str(&row.definition)?;
        latest.insert(row.name, def.schedule);
    }
    Ok(latest
        .into_iter()
        .filter_map(|(name, schedule)| schedule.map(|s| (name, s)))
        .collect())
}
