//! The live line `ferry run --wait` keeps on a terminal's stderr while it waits: the run's state,
//! rows read, their rate, pages committed and the time so far. Nothing of it goes to stdout, and nothing at all when
//! stderr is not a terminal or `--json` was asked, so scripts see only the summary.

use std::io::Write;
use std::time::Instant;

use ferry_shared::storage::entities::run;

/// Rewrites one stderr line per poll.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    /// Rows read when the run was first seen running, and when: the rate is measured from there.
    first: Option<(i64, Instant)>,
    shown: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            started: Instant::now(),
            first: None,
            shown: false,
        }
    }

    /// Shows the run as this poll found it.
    pub fn show(&mut self, run: &run::Model) {
        let line = self.line(run);
        let mut err = std::io::stderr().lock();
        // Carriage return, the line, then clear what a longer earlier line left.
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
        self.shown = true;
    }

    /// Clears the line before the summary is printed.
    pub fn finish(&self) {
        if self.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }

    fn line(&mut self, run: &run::Model) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        if run.state != "running" {
            return format!("run {}: {} ({elapsed:.0} s)", run.id, run.state);
        }
        let now = Instant::now();
        let (rows0, at0) = *self.first.get_or_insert((run.rows_read, now));
        let seconds = now.duration_since(at0).as_secs_f64();
        let rate = if seconds > 0.5 {
            format!(", {:.0} rows/s", (run.rows_read - rows0) as f64 / seconds)
        } else {
            String::new()
        };
        let attempt = if run.attempt > 1 {
            format!(", attempt {}", run.attempt)
        } else {
            String::new()
        };
        let pages = match run.pages {
            1 => ", 1 page".to_string(),
            n => format!(", {n} pages"),
        };
        format!(
            "run {}: running, {} rows read{rate}{pages}{attempt} ({elapsed:.0} s)",
            run.id, run.rows_read
        )
    }
}
