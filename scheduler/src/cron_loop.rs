//! Cron ticks: integrations with a `schedule` (cron with seconds, UTC) get a run per tick. A tick is a
//! run row unique per (integration, scheduled time). Ticks missed while no scheduler led (downtime, a
//! slow loop) collapse into one catch-up run for the latest of them, not a burst. A disabled or deleted
//! integration is not followed (`definitions::lifecycle`).

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use ferry_shared::definitions::IntegrationDef;
use ferry_shared::definitions::lifecycle::{self, State};
use ferry_shared::dispatch::dispatch;
use ferry_shared::queue::SyncStorage;
use ferry_shared::runs::{Mode, NewRun, RunError, Trigger};
use ferry_shared::storage::entities::{integration, run};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use tracing::{info, warn};

/// Bounds the walk over fire times after a long downtime with a very frequent schedule.
const MAX_FIRES_WALKED: usize = 100_000;

/// A schedule being followed and the last tick handled.
#[derive(Debug)]
struct Followed {
    expression: String,
    schedule: cron::Schedule,
    last: DateTime<Utc>,
}

/// The leader's cron state. Rebuilt from the database whenever leadership is (re)gained.
#[derive(Debug, Default)]
pub struct Cron {
    followed: HashMap<String, Followed>,
}

impl Cron {
    /// Forgets everything; the next step re-reads the last ticks from the database.
    pub fn reset(&mut self) {
        self.followed.clear();
    }

    /// Follows schedule changes and enqueues what is due at `now`.
    pub async fn step(
        &mut self,
        db: &DatabaseConnection,
        queue: &mut SyncStorage,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let schedules = current_schedules(db).await?;
        self.followed.retain(|name, _| schedules.contains_key(name));
        for (name, (expression, live_since)) in schedules {
            if self
                .followed
                .get(&name)
                .is_none_or(|f| f.expression != expression)
            {
                let Ok(schedule) = cron::Schedule::from_str(&expression) else {
                    continue;
                };
                // Ticks from before the integration was last enabled (or applied again after a
                // delete) are not caught up: it was not live for them.
                let last = match (last_tick(db, &name).await?, live_since) {
                    (Some(tick), Some(since)) => tick.max(since.min(now)),
                    (Some(tick), None) => tick,
                    (None, _) => now,
                };
                self.followed.insert(
                    name.clone(),
                    Followed {
                        expression,
                        schedule,
                        last,
                    },
                );
            }
            let Some(followed) = self.followed.get_mut(&name) else {
                continue;
            };
            let Some(tick) = latest_fire(&followed.schedule, followed.last, now) else {
                continue;
            };
            let new = NewRun {
                trigger: Trigger::Schedule,
                scheduled_for: Some(tick.fixed_offset()),
                ..NewRun::manual(&name, Mode::Incremental)
            };
            // One integration's refusal (a mode conflict with its queued run) or failure is its own:
            // the others' ticks still go out. A refused tick is not retried; a failed one is.
            match dispatch(db, queue, &new).await {
                Ok(enqueued) => {
                    followed.last = tick;
                    if enqueued.created {
                        info!(integration = %name, run_id = enqueued.run_id, %tick, "scheduled run enqueued");
                    }
                }
                Err(
                    e @ (RunError::ModeConflict { .. }
                    | RunError::Disabled { .. }
                    | RunError::Deleted { .. }),
                ) => {
                    followed.last = tick;
                    warn!(integration = %name, %tick, error = %e, "tick skipped");
                }
                Err(e) => {
                    warn!(integration = %name, %tick, error = %e, "tick not enqueued; retrying next step")
                }
            }
        }
        Ok(())
    }
}

/// The latest fire time in `(after, now]`, if any.
fn latest_fire(
    schedule: &cron::Schedule,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    schedule
        .after(&after)
        .take(MAX_FIRES_WALKED)
        .take_while(|t| *t <= now)
        .last()
}

/// The latest tick already enqueued for an integration (by any scheduler, ever).
async fn last_tick(db: &DatabaseConnection, name: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
    Ok(run::Entity::find()
        .filter(run::Column::Integration.eq(name))
        .filter(run::Column::ScheduledFor.is_not_null())
        .order_by_desc(run::Column::ScheduledFor)
        .one(db)
        .await?
        .and_then(|r| r.scheduled_for)
        .map(|t| t.with_timezone(&Utc)))
}

/// The schedule of the current version of every enabled integration that has one, and since when it is
/// live when it was enabled again (a disabled or deleted integration is not scheduled).
async fn current_schedules(
    db: &DatabaseConnection,
) -> anyhow::Result<HashMap<String, (String, Option<DateTime<Utc>>)>> {
    let standings = lifecycle::standings(db).await?;
    let rows = integration::Entity::find()
        .order_by_asc(integration::Column::Version)
        .all(db)
        .await?;
    let mut latest: HashMap<String, Option<String>> = HashMap::new();
    for row in rows {
        let def: IntegrationDef = serde_json::from_str(&row.definition)?;
        latest.insert(row.name, def.schedule);
    }
    let mut live = HashMap::new();
    for (name, schedule) in latest {
        let Some(schedule) = schedule else { continue };
        let since = match standings.get(&name) {
            Some(standing) if standing.state != State::Enabled => continue,
            Some(standing) => standing.changed_at.map(|at| at.with_timezone(&Utc)),
            None => None,
        };
        live.insert(name, (schedule, since));
    }
    Ok(live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_ticks_collapse_into_the_latest() {
        let schedule = cron::Schedule::from_str("0 */5 * * * *").unwrap();
        let after = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let now = "2026-01-01T01:02:00Z".parse::<DateTime<Utc>>().unwrap();
        let tick = latest_fire(&schedule, after, now).unwrap();
        assert_eq!(
            tick,
            "2026-01-01T01:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            latest_fire(&schedule, tick, now),
            None,
            "nothing due until 01:05"
        );
    }
}
