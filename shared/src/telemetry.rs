//! Log output: human lines on a terminal, one JSON object per line for machines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::{LogFormat, LogSettings};

/// What kind of process is logging, which decides the level when neither `RUST_LOG` nor `log.level`
/// names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// Runs until stopped (`ferry scheduler`, `worker`, `serve`, `ferry-worker`): its log is how an
    /// operator follows it, so info.
    Daemon,
    /// Does one thing and exits (`ferry runs`, `ferry run --json`, …): its output is the answer, and
    /// the routine lines of every start (migrations, connections) would bury it, so warnings only.
    OneShot,
}

impl Process {
    fn default_level(self) -> &'static str {
        match self {
            Process::Daemon => "info",
            Process::OneShot => "warn",
        }
    }
}

/// Installs the global subscriber once; later calls (tests start many apps in one process) are no-ops.
/// `RUST_LOG` wins, then `log.level`, then the process kind's own level.
pub fn init(settings: &LogSettings, process: Process) {
    let level = settings.level.as_deref().unwrap_or(process.default_level());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| filter(level));
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// The filter for `log.level`. Postgres NOTICEs, which sqlx logs at INFO, are kept to warnings: every
/// start would otherwise print "relation \"ferry_migrations\" already exists, skipping". `RUST_LOG`
/// replaces all of this.
fn filter(level: &str) -> EnvFilter {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    match "sqlx::postgres::notice=warn".parse() {
        Ok(quiet) => filter.add_directive(quiet),
        Err(_) => filter,
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn postgres_notices_are_quiet_at_info_and_the_rest_is_not() {
        let subscriber = tracing_subscriber::registry().with(super::filter("info"));
        tracing::subscriber::with_default(subscriber, || {
            assert!(!tracing::enabled!(target: "sqlx::postgres::notice", Level::INFO));
            assert!(tracing::enabled!(target: "sqlx::postgres::notice", Level::WARN));
            assert!(tracing::enabled!(target: "ferry_shared::sync", Level::INFO));
            assert!(!tracing::enabled!(target: "ferry_shared::sync", Level::DEBUG));
        });
    }
}
