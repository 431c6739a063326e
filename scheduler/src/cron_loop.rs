//! Cron ticks: integrations with a `schedule` (cron with seconds, UTC) get a run per tick. A tick is a
//! run row unique per (integration, scheduled time). Ticks missed while no scheduler led (downtime, a
//! slow loop) collapse into one catch-up run for the latest of them, not a burst. A disabled or deleted
//! integration is not followed (`definitions::lifecycle`).
//!
//! A step's work grows with the integrations due, not with all of them (a fleet has thousands): the
//! followed schedules wait in a min-heap by their next fire time, and definitions are read again only
//! when the versions table or the standings changed (`Seen`), then only the names that changed. The
//! due ticks go out together (`dispatch::dispatch_ticks`).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use ferry_shared::definitions::lifecycle::{self, Standing, State};
use ferry_shared::definitions::{IntegrationDef, latest_integration};
use ferry_shared::dispatch::dispatch_ticks;
use ferry_shared::queue::SyncStorage;
use ferry_shared::storage::entities::run;
use ferry_shared::storage::statement;
use sea_orm::prelude::DateTimeWithTimeZone;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};
use tracing::{debug, info, warn};

/// Bounds the walk over fire times after a long downtime with a very frequent schedule.
const MAX_FIRES_WALKED: usize = 100_000;

/// A schedule being followed, the last tick handled and the next one due.
#[derive(Debug)]
struct Followed {
    expression: String,
    schedule: cron::Schedule,
    last: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
}

/// The versions table as one snapshot saw it. Versions are only ever added (never updated or
/// deleted), so the count changes exactly when a version was added: the maximum id alone would miss
/// a version whose transaction took a lower id but committed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Versions {
    count: i64,
    max_id: i64,
}

/// What the followed schedules were last read from. While neither part changes, no schedule did.
#[derive(Debug, PartialEq)]
struct Seen {
    versions: Versions,
    /// Only integrations whose standing was ever changed have one: few, however large the fleet.
    standings: HashMap<String, Standing>,
}

/// An integration's schedule while it is live: the expression, and since when it is live when it
/// was enabled again.
type Live = (String, Option<DateTime<Utc>>);

/// The leader's cron state. Rebuilt from the database whenever leadership is (re)gained.
#[derive(Debug, Default)]
pub struct Cron {
    followed: HashMap<String, Followed>,
    /// Next fire times. An entry whose time is no longer its integration's `next` is stale and
    /// dropped when it comes up (a changed schedule pushes a new entry instead of finding the old).
    due: BinaryHeap<Reverse<(DateTime<Utc>, String)>>,
    seen: Option<Seen>,
}

impl Cron {
    /// The earliest next fire time followed, if it is still ahead of `now`: the loop wakes then, so a
    /// tick is enqueued at its time instead of at the first step after it (up to `tick_ms` later). A
    /// time already past (a tick whose enqueue failed stays due) is left to the regular step, so a
    /// failing database cannot make the loop spin.
    pub fn next_wake(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.due
            .peek()
            .map(|Reverse((at, _))| *at)
            .filter(|at| *at > now)
    }

    /// Forgets everything; the next step re-reads the schedules and last ticks from the database.
    pub fn reset(&mut self) {
        *self = Cron::default();
    }

    /// Follows schedule changes and enqueues what is due at `now`.
    pub async fn step(
        &mut self,
        db: &DatabaseConnection,
        queue: &mut SyncStorage,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.follow_changes(db, now).await?;
        let ticks = self.take_due(now);
        if ticks.is_empty() {
            return Ok(());
        }
        // A refused tick (its integration disabled meanwhile, or a run of it already queued) is
        // handled like an enqueued one; a failed batch is retried whole next step.
        match dispatch_ticks(db, queue, &ticks).await {
            Ok(done) => {
                for run in &done.created {
                    debug!(integration = %run.integration, run_id = run.run_id, "scheduled run enqueued");
                }
                info!(
                    due = ticks.len(),
                    enqueued = done.created.len(),
                    pending = done.pending,
                    "scheduled runs enqueued"
                );
                for (name, tick) in ticks {
                    self.handled(name, tick);
                }
            }
            Err(e) => {
                warn!(due = ticks.len(), error = %e, "ticks not enqueued; retrying next step");
                for (name, _) in ticks {
                    self.retry(name);
                }
            }
        }
        Ok(())
    }

    /// The latest due tick of every integration whose next fire time has come, each once.
    fn take_due(&mut self, now: DateTime<Utc>) -> Vec<(String, DateTime<Utc>)> {
        let mut names = BTreeSet::new();
        while let Some(Reverse((at, _))) = self.due.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, name))) = self.due.pop() else {
                break;
            };
            if self.followed.get(&name).is_some_and(|f| f.next == Some(at)) {
                names.insert(name);
            }
        }
        let mut ticks = Vec::with_capacity(names.len());
        for name in names {
            let Some(followed) = self.followed.get(&name) else {
                continue;
            };
            match latest_fire(&followed.schedule, followed.last, now) {
                Some(tick) => ticks.push((name, tick)),
                // Not due after all (cannot happen while `next` follows `last`): wait for the next.
                None => self.handled(name, now),
            }
        }
        ticks
    }

    /// `tick` is handled: the integration waits for its next fire time after it.
    fn handled(&mut self, name: String, tick: DateTime<Utc>) {
        let Some(followed) = self.followed.get_mut(&name) else {
            return;
        };
        followed.last = followed.last.max(tick);
        followed.next = followed.schedule.after(&followed.last).next();
        if let Some(next) = followed.next {
            self.due.push(Reverse((next, name)));
        }
    }

    /// The integration's tick failed: it stays due, for the next step.
    fn retry(&mut self, name: String) {
        if let Some(next) = self.followed.get(&name).and_then(|f| f.next) {
            self.due.push(Reverse((next, name)));
        }
    }

    /// Reads again what changed since the last step: nothing when the versions and standings are as
    /// they were, the changed names when versions were added in id order, everything otherwise.
    async fn follow_changes(
        &mut self,
        db: &DatabaseConnection,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let since_id = self.seen.as_ref().map_or(0, |s| s.versions.max_id);
        let (versions, added) = versions_since(db, since_id).await?;
        let standings = lifecycle::standings(db).await?;
        let changed: Option<BTreeSet<String>> = match &self.seen {
            None => None,
            Some(seen) if seen.versions.count + added.len() as i64 != versions.count => None,
            Some(seen) => {
                let mut names: BTreeSet<String> = added.into_iter().collect();
                for name in seen.standings.keys().chain(standings.keys()) {
                    if seen.standings.get(name) != standings.get(name) {
                        names.insert(name.clone());
                    }
                }
                Some(names)
            }
        };
        match changed {
            None => {
                let live = all_live(db, &standings).await?;
                self.followed.retain(|name, _| live.contains_key(name));
                self.follow(db, live, now, true).await?;
            }
            Some(names) => {
                let mut live = HashMap::new();
                for name in names {
                    match name_live(db, &name, standings.get(&name)).await? {
                        Some(schedule) => {
                            live.insert(name, schedule);
                        }
                        None => {
                            self.followed.remove(&name);
                        }
                    }
                }
                self.follow(db, live, now, false).await?;
            }
        }
        self.seen = Some(Seen {
            versions,
            standings,
        });
        Ok(())
    }

    /// Follows each live schedule not followed yet or changed. `many`: read every last tick in one
    /// query rather than one per integration.
    async fn follow(
        &mut self,
        db: &DatabaseConnection,
        live: HashMap<String, Live>,
        now: DateTime<Utc>,
        many: bool,
    ) -> anyhow::Result<()> {
        let fresh: Vec<(String, Live)> = live
            .into_iter()
            .filter(|(name, (expression, _))| {
                self.followed
                    .get(name)
                    .is_none_or(|f| f.expression != *expression)
            })
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let mut ticks = match many {
            true => last_ticks(db).await?,
            false => HashMap::new(),
        };
        for (name, (expression, live_since)) in fresh {
            let Ok(schedule) = cron::Schedule::from_str(&expression) else {
                self.followed.remove(&name);
                continue;
            };
            let tick = match many {
                true => ticks.remove(&name),
                false => last_tick(db, &name).await?,
            };
            // Ticks from before the integration was last enabled (or applied again after a
            // delete) are not caught up: it was not live for them.
            let last = match (tick, live_since) {
                (Some(tick), Some(since)) => tick.max(since.min(now)),
                (Some(tick), None) => tick,
                (None, _) => now,
            };
            let next = schedule.after(&last).next();
            if let Some(next) = next {
                self.due.push(Reverse((next, name.clone())));
            }
            self.followed.insert(
                name,
                Followed {
                    expression,
                    schedule,
                    last,
                    next,
                },
            );
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

/// The versions table now, and the names of the versions added above `since_id`, read in one
/// statement so both come from the same snapshot: a step with no change reads one row.
async fn versions_since(
    db: &DatabaseConnection,
    since_id: i64,
) -> anyhow::Result<(Versions, Vec<String>)> {
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT c.n, c.m, i.name FROM \
             (SELECT count(*) AS n, CAST(COALESCE(max(id), 0) AS BIGINT) AS m \
             FROM ferry_integrations) c \
             LEFT JOIN ferry_integrations i ON i.id > ?",
            [since_id.into()],
        ))
        .await?;
    let mut versions = Versions {
        count: 0,
        max_id: 0,
    };
    let mut added = Vec::new();
    for row in rows {
        versions = Versions {
            count: row.try_get_by_index(0)?,
            max_id: row.try_get_by_index(1)?,
        };
        if let Some(name) = row.try_get_by_index::<Option<String>>(2)? {
            added.push(name);
        }
    }
    Ok((versions, added))
}

/// Whether an integration of this standing is scheduled, and since when it is live when it was
/// enabled again.
fn live_since(standing: Option<&Standing>) -> Option<Option<DateTime<Utc>>> {
    match standing {
        Some(standing) if standing.state != State::Enabled => None,
        Some(standing) => Some(standing.changed_at.map(|at| at.with_timezone(&Utc))),
        None => Some(None),
    }
}

/// The schedule of the current version of every enabled integration that has one (a disabled or
/// deleted integration is not scheduled). Reads each integration's latest version only.
async fn all_live(
    db: &DatabaseConnection,
    standings: &HashMap<String, Standing>,
) -> anyhow::Result<HashMap<String, Live>> {
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT i.name, i.definition FROM ferry_integrations i WHERE i.version = \
             (SELECT max(l.version) FROM ferry_integrations l WHERE l.name = i.name)",
            [],
        ))
        .await?;
    let mut live = HashMap::new();
    for row in rows {
        let name: String = row.try_get_by_index(0)?;
        let Some(since) = live_since(standings.get(&name)) else {
            continue;
        };
        let def: IntegrationDef = serde_json::from_str(&row.try_get_by_index::<String>(1)?)?;
        if let Some(schedule) = def.schedule {
            live.insert(name, (schedule, since));
        }
    }
    Ok(live)
}

/// `all_live` for one integration: its schedule when it has one and is enabled.
async fn name_live(
    db: &DatabaseConnection,
    name: &str,
    standing: Option<&Standing>,
) -> anyhow::Result<Option<Live>> {
    let Some(since) = live_since(standing) else {
        return Ok(None);
    };
    let Some((_, def)) = latest_integration(db, name).await? else {
        return Ok(None);
    };
    Ok(def.schedule.map(|schedule| (schedule, since)))
}

/// The latest tick already enqueued for an integration (by any scheduler, ever).
async fn last_tick(db: &DatabaseConnection, name: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
    let last: Option<Option<DateTimeWithTimeZone>> = run::Entity::find()
        .select_only()
        .column_as(run::Column::ScheduledFor.max(), "last")
        .filter(run::Column::Integration.eq(name))
        .filter(run::Column::ScheduledFor.is_not_null())
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.flatten().map(|t| t.with_timezone(&Utc)))
}

/// `last_tick` of every integration, in one query (when the whole schedule is read).
async fn last_ticks(db: &DatabaseConnection) -> anyhow::Result<HashMap<String, DateTime<Utc>>> {
    let rows: Vec<(String, Option<DateTimeWithTimeZone>)> = run::Entity::find()
        .select_only()
        .column(run::Column::Integration)
        .column_as(run::Column::ScheduledFor.max(), "last")
        .filter(run::Column::ScheduledFor.is_not_null())
        .group_by(run::Column::Integration)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, last)| last.map(|t| (name, t.with_timezone(&Utc))))
        .collect())
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
