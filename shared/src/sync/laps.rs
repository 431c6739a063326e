//! Where a run's time goes, phase by phase, for the worker's debug log (`RUST_LOG=ferry_shared::sync=
//! debug`): a short run's start (claim, definition, `$metadata`, column types, checkpoint), its
//! overlap window and its end (settle, callbacks, the next queued run) show in no page's timing.

use std::fmt::Write;
use std::time::{Duration, Instant};

use tracing::debug;

/// The phases a run went through so far, each with the time it took.
#[derive(Debug)]
pub(super) struct Laps {
    began: Instant,
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl Laps {
    pub fn start() -> Laps {
        let now = Instant::now();
        Laps {
            began: now,
            last: now,
            laps: Vec::new(),
        }
    }

    /// Ends the phase `name` now.
    pub fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        self.laps.push((name, now - self.last));
        self.last = now;
    }

    /// Logs every phase (in ms, to a tenth) and the total, at debug level.
    pub fn log(&self, run_id: i64, what: &'static str) {
        let mut phases = String::new();
        for (name, took) in &self.laps {
            let _ = write!(phases, "{name}={:.1} ", took.as_secs_f64() * 1000.0);
        }
        debug!(
            run_id,
            phases = phases.trim_end(),
            total_ms = format!("{:.1}", self.began.elapsed().as_secs_f64() * 1000.0),
            "{what}"
        );
    }
}
