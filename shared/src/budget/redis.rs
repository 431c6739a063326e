//! The budget kept in Redis, shared by every process on the queue, under the queue's key prefix.
//!
//! Per connection there are two sorted sets. `…:leases` holds one member per request in flight, scored
//! with the time its lease runs out: a worker renews its leases while their requests run, so the slot
//! of a worker that died (kill -9, a lost host) comes back when its lease runs out, without anyone
//! cleaning up. `…:window` holds one member per request sent, scored with when, and is trimmed to the
//! window. One Lua script trims, counts and takes a slot atomically, on Redis' own clock, so workers
//! on hosts whose clocks differ still agree.

use std::time::Duration;

use ::redis::aio::ConnectionManager;
use tokio::sync::OnceCell;
use tokio::task::AbortHandle;

use super::{Budget, Entry, Held, poll_again};
use crate::settings::QueueSettings;

/// How long a slot stays taken without renewal: a dead worker's slot comes back within this. A
/// live one renews every third of it, so a stalled Redis round trip does not lose a slot.
pub(super) const LEASE: Duration = Duration::from_secs(15);

/// Trims both sets, then takes a slot and counts the request, or says why not: `0` granted, `-1` every
/// slot taken, `n > 0` the window is spent for `n` more milliseconds.
/// KEYS: leases, window. ARGV: member, concurrent, requests (0: none counted), window ms, lease ms.
const ENTER: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return -1
end
local requests = tonumber(ARGV[3])
if requests > 0 then
  local per = tonumber(ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - per)
  if redis.call('ZCARD', KEYS[2]) >= requests then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return math.max(1, tonumber(oldest[2]) + per - now)
  end
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], per)
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return 0
";

/// Moves a lease's end on, if it is still held. KEYS: leases. ARGV: member, lease ms.
const RENEW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + lease, ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], lease)
end
return 0
";

/// The Redis side of every connection's budget, for one process.
#[derive(Debug)]
pub(super) struct Shared {
    settings: QueueSettings,
    lease: Duration,
    /// Opened on the first request (`queue/redis_client.rs`, like every Redis connection), so a
    /// command that sends none never needs Redis.
    connection: OnceCell<ConnectionManager>,
}

/// A slot taken in Redis: renewed while held, removed when dropped.
#[derive(Debug)]
pub(super) struct Lease {
    connection: ConnectionManager,
    key: String,
    member: String,
    renewal: AbortHandle,
}

impl Shared {
    pub(super) fn new(settings: QueueSettings, lease: Duration) -> Shared {
        Shared {
            settings,
            lease,
            connection: OnceCell::new(),
        }
    }

    /// One try at a slot of `connection`. Errors are the reason Redis failed, without its password.
    pub(super) async fn try_enter(
        &self,
        connection: &str,
        budget: Budget,
    ) -> Result<Entry, String> {
        let mut redis = self
            .connection
            .get_or_try_init(|| crate::queue::redis_client::connection_manager(&self.settings))
            .await
            .map_err(|e| e.to_string())?
            .clone();
        let keys = keys(&self.settings.prefix, connection);
        let member = uuid::Uuid::new_v4().simple().to_string();
        let (requests, per) = match budget.window {
            Some(window) => (window.requests, window.per.as_millis() as u64),
            None => (0, 0),
        };
        let lease = self.lease.as_millis() as u64;
        let answer: i64 = ::redis::cmd("EVAL")
            .arg(ENTER)
            .arg(2)
            .arg(&keys.leases)
            .arg(&keys.window)
            .arg(&member)
            .arg(budget.concurrent)
            .arg(requests)
            .arg(per)
            .arg(lease)
            .query_async(&mut redis)
            .await
            .map_err(|e| crate::queue::redis_client::refused(&self.settings, &e).to_string())?;
        Ok(match answer {
            0 => Entry::Granted(Held::Redis(Lease::hold(
                redis,
                keys.leases,
                member,
                self.lease,
            ))),
            wait if wait > 0 => Entry::Wait(Duration::from_millis(wait as u64)),
            _ => Entry::Wait(poll_again()),
        })
    }
}

struct Keys {
    leases: String,
    window: String,
}

/// A connection's keys beneath the queue's prefix (which tests give each their own). Connection
/// names are letters, digits, `_`, `-` and `.` (`definitions/validate.rs`), so they cannot reach
/// another key.
fn keys(prefix: &str, connection: &str) -> Keys {
    Keys {
        leases: format!("{prefix}:budget:{connection}:leases"),
        window: format!("{prefix}:budget:{connection}:window"),
    }
}

impl Lease {
    /// Holds `member` of `key`, renewing it every third of `lease` until dropped.
    fn hold(connection: ConnectionManager, key: String, member: String, lease: Duration) -> Lease {
        let mut redis = connection.clone();
        let (renew_key, renew_member) = (key.clone(), member.clone());
        let renewal = tokio::spawn(async move {
            let mut every = tokio::time::interval(lease / 3);
            every.tick().await;
            loop {
                every.tick().await;
                let renewed: Result<i64, _> = ::redis::cmd("EVAL")
                    .arg(RENEW)
                    .arg(1)
                    .arg(&renew_key)
                    .arg(&renew_member)
                    .arg(lease.as_millis() as u64)
                    .query_async(&mut redis)
                    .await;
                if let Err(e) = renewed {
                    // The lease runs out at worst; the request goes on.
                    tracing::debug!(error = %e, "a budget lease was not renewed");
                }
            }
        })
        .abort_handle();
        Lease {
            connection,
            key,
            member,
            renewal,
        }
    }
}

impl Drop for Lease {
    /// Stops renewing and gives the slot back. Without a runtime (the process is ending) the lease
    /// simply runs out.
    fn drop(&mut self) {
        self.renewal.abort();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut redis = self.connection.clone();
        let key = std::mem::take(&mut self.key);
        let member = std::mem::take(&mut self.member);
        runtime.spawn(async move {
            let removed: Result<i64, _> = ::redis::cmd("ZREM")
                .arg(&key)
                .arg(&member)
                .query_async(&mut redis)
                .await;
            if let Err(e) = removed {
                tracing::debug!(error = %e, "a budget slot was not given back; its lease runs out");
            }
        });
    }
}
