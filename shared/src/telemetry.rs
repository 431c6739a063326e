//! Log output: human lines on a terminal, one JSON object per line for machines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber once; later calls (tests start many apps in one process) are no-ops.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| filter(&settings.level));
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
