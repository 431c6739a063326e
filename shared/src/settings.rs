//! Layered settings: built-in defaults (`config/default.toml`, compiled in), an optional file given with
//! `--config`, then `FERRY__SECTION__KEY` environment variables, deserialized once into typed settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// The defaults ship inside the binaries so `ferry` runs from any folder.
const DEFAULTS: &str = include_str!("../../config/default.toml");

/// Every setting Ferry reads; unknown keys are rejected so a typo is an error, not a silent default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub queue: QueueSettings,
    pub worker: WorkerSettings,
    pub scheduler: SchedulerSettings,
    pub retry: RetrySettings,
    pub api: ApiSettings,
    pub retention: RetentionSettings,
    pub lookups: LookupSettings,
    pub log: LogSettings,
    /// How much of each kind of answer is read (`limits.rs`).
    #[serde(default)]
    pub limits: crate::limits::Limits,
    /// Absent from the defaults on purpose: the master key comes from the environment or a key file.
    #[serde(default)]
    pub secrets: SecretsSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://…` or `sqlite:…`.
    pub url: String,
    pub max_connections: u32,
    /// PostgreSQL's `lock_timeout` on Ferry's sessions (0: none).
    pub lock_timeout_ms: u64,
    /// PostgreSQL's `statement_timeout` on Ferry's sessions (0: none).
    pub statement_timeout_ms: u64,
    /// PostgreSQL's `idle_in_transaction_session_timeout` on Ferry's sessions (0: none).
    pub idle_in_transaction_timeout_ms: u64,
    /// A PEM file with the CA that signed a managed PostgreSQL's certificate (a private CA the public
    /// roots do not include). Given, the connection checks the server's certificate and host name
    /// against it (`sslmode=verify-full` unless the URL names `verify-ca`); the same as
    /// `sslrootcert=` in the URL, which may be used instead (not both).
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// `redis://…`, `rediss://…` (TLS) or `sqlite:…`. Better without a password: give it as
    /// `password` (`FERRY__QUEUE__PASSWORD`), so the URL can sit in a file.
    pub url: String,
    /// Prefix of every Redis key, so installations (and tests) sharing one Redis never meet.
    pub prefix: String,
    /// The password Redis requires (`requirepass`, or the ACL user's named in the URL), from the
    /// environment rather than a file. Set but empty reads as none.
    #[serde(default, deserialize_with = "non_empty_secret")]
    pub password: Option<SecretString>,
    /// A PEM file with the CA that signed a `rediss://` server's certificate, trusted instead of the
    /// public roots (a managed Redis with a private CA).
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub lease_secs: u64,
    pub poll_interval_ms: u64,
    pub page_size: u32,
    pub shutdown_grace_secs: u64,
    /// How far one run may move a version checkpoint (`checkpoint/jump.rs`).
    #[serde(default = "default_max_version_jump")]
    pub max_version_jump: i64,
    /// Whether a read of everything of a version-ordered Business Central or OData source goes in key
    /// order from a high-water mark read first (`sync/scan.rs`), rather than ordered by the version
    /// as a delta is. BC has no index on the Resco `RowVersionNumber`; turn this off only for a
    /// source whose version is indexed (or to measure the difference, as `ferry-bench` does).
    #[serde(default = "default_scan_in_key_order")]
    pub scan_in_key_order: bool,
}

fn default_scan_in_key_order() -> bool {
    true
}

fn default_max_version_jump() -> i64 {
    crate::checkpoint::jump::DEFAULT_MAX_VERSION_JUMP
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSettings {
    pub tick_ms: u64,
    pub reconcile_secs: u64,
    pub requeue_after_secs: u64,
    pub leader_lease_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    pub max_attempts: i32,
    pub base_ms: u64,
    pub max_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    pub listen: String,
    /// Bearer token for `/api/v1/*`; a secret, so never printed. Set but empty (`FERRY__API__TOKEN=`)
    /// reads as none: an empty token would match a request that sends no token at all.
    #[serde(default, deserialize_with = "non_empty_secret")]
    pub token: Option<SecretString>,
    /// A second bearer token that opens `/metrics` and nothing else, for Prometheus, so the scraper
    /// never holds the token that triggers, cancels and deletes. `/metrics` takes either.
    #[serde(default, deserialize_with = "non_empty_secret")]
    pub metrics_token: Option<SecretString>,
    /// Key of the HMAC signature on run callbacks. Without one, runs with a callback are refused:
    /// a callback is never signed with the API token (whoever receives it could then call the API).
    #[serde(default, deserialize_with = "non_empty_secret")]
    pub callback_secret: Option<SecretString>,
    /// Lets a trigger's `callback_url` name a loopback, link-local or private address. Off by default:
    /// a caller of the API could otherwise make Ferry POST to services inside its network.
    #[serde(default)]
    pub allow_private_callbacks: bool,
}

/// The shortest API token the API starts with: 32 characters, as `openssl rand -hex 16` prints.
pub const MIN_API_TOKEN_CHARS: usize = 32;

/// Why the API cannot start with a configured token. Says which and how long it is, never what it is.
#[derive(Debug, thiserror::Error)]
#[error(
    "{setting} is {chars} characters long; the API needs at least {MIN_API_TOKEN_CHARS}. Make one \
     with `openssl rand -hex 32` (or `ferry keys generate`), or leave it unset to keep {guards} \
     closed (401)"
)]
pub struct WeakApiToken {
    /// The setting and its variable, e.g. `api.token (FERRY__API__TOKEN)`.
    pub setting: &'static str,
    /// The routes it opens.
    pub guards: &'static str,
    pub chars: usize,
}

impl ApiSettings {
    /// The one check of the configured token, made before the API listens: no token keeps the
    /// protected routes closed, a short one (a placeholder such as `CHANGE-ME`, a guessable word)
    /// would open them to anyone who guesses it.
    pub fn check_token(&self) -> Result<(), WeakApiToken> {
        use secrecy::ExposeSecret;
        let tokens = [
            (
                &self.token,
                "api.token (FERRY__API__TOKEN)",
                "/api/v1/* and /metrics",
            ),
            (
                &self.metrics_token,
                "api.metrics_token (FERRY__API__METRICS_TOKEN)",
                "it",
            ),
        ];
        for (token, setting, guards) in tokens {
            if let Some(token) = token
                && token.expose_secret().chars().count() < MIN_API_TOKEN_CHARS
            {
                return Err(WeakApiToken {
                    setting,
                    guards,
                    chars: token.expose_secret().chars().count(),
                });
            }
        }
        Ok(())
    }
}

/// An optional secret where an empty (or blank) value counts as unset: environment files and
/// Kubernetes Secrets write `NAME=` for "no value", and a blank secret protects nothing.
fn non_empty_secret<'de, D>(deserializer: D) -> Result<Option<SecretString>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let text: Option<String> = Option::deserialize(deserializer)?;
    Ok(text
        .filter(|t| !t.trim().is_empty())
        .map(SecretString::from))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    pub runs_days: u64,
    pub jobs_hours: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter. Unset, each process picks its own (`telemetry::Process`): daemons log at
    /// info, one-shot commands at warn, so `ferry runs` prints its answer and nothing else.
    #[serde(default)]
    pub level: Option<String>,
}

/// Where the master key for stored secrets comes from (see `crate::secrets`). Each is optional;
/// `FERRY_MASTER_KEY` / `FERRY_PREVIOUS_MASTER_KEYS` in the environment are used when these are unset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    /// The current key, base64 of 32 bytes.
    #[serde(default)]
    pub master_key: Option<secrecy::SecretString>,
    /// A file whose first line is the current key and whose later lines are older keys.
    #[serde(default)]
    pub key_file: Option<std::path::PathBuf>,
    /// Older keys still accepted for decryption, until `ferry keys rotate` has re-sealed everything.
    #[serde(default)]
    pub previous_keys: Vec<secrecy::SecretString>,
    /// When set, every connection's `client_secret_env` must start with it (e.g. `SOURCE_SECRET_`),
    /// so a changed definition can only name a variable meant to be a connection's secret, never
    /// another one of the process's environment. Checked at `apply` and again where it is read.
    #[serde(default)]
    pub env_prefix: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human on a terminal, JSON when stderr is not one (a service manager, a container).
    Auto,
    Human,
    Json,
}

/// Why settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings: {0}")]
    Read(#[from] config::ConfigError),
    #[error("invalid settings: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// The largest page Business Central serves: a larger `odata.maxpagesize` is refused with 413.
pub const MAX_PAGE_SIZE: u32 = 20_000;

impl Settings {
    /// Reads defaults, then `file` when given, then the environment (`FERRY__DATABASE__URL`, …).
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        let settings = builder
            .add_source(
                config::Environment::with_prefix("FERRY")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize::<Settings>()?;
        let problems = settings.problems();
        if !problems.is_empty() {
            return Err(SettingsError::Invalid(problems));
        }
        crate::limits::install(&settings.limits);
        Ok(settings)
    }

    /// Values that parse but cannot work, each named by its setting.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let page_size = self.worker.page_size;
        if page_size == 0 || page_size > MAX_PAGE_SIZE {
            problems.push(format!(
                "worker.page_size must be between 1 and {MAX_PAGE_SIZE} (the largest page Business \
                 Central serves), not {page_size}"
            ));
        }
        problems.extend(self.queue.problems());
        problems.extend(self.database.problems());
        problems
    }
}

impl QueueSettings {
    /// Queue settings that contradict each other, each named by its setting.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let url = url::Url::parse(&self.url).ok();
        let scheme = url.as_ref().map(|u| u.scheme().to_string());
        if self.tls_ca_file.is_some() && scheme.as_deref() != Some("rediss") {
            problems.push(
                "queue.tls_ca_file is set, but queue.url does not start with rediss:// (Redis over \
                 TLS); write rediss:// or leave queue.tls_ca_file unset"
                    .to_string(),
            );
        }
        if self.password.is_some() {
            if crate::queue::is_sqlite(&self.url) {
                problems.push("queue.password is set, but queue.url names a SQLite queue".into());
            } else if url.as_ref().is_some_and(|u| u.password().is_some()) {
                problems.push(
                    "queue.password (FERRY__QUEUE__PASSWORD) is set and queue.url holds a password \
                     too; keep one (better the setting, so the URL holds no secret)"
                        .into(),
                );
            }
        }
        problems
    }
}

impl DatabaseSettings {
    /// Database settings that contradict each other (`storage::tls_problems`).
    fn problems(&self) -> Vec<String> {
        crate::storage::tls_problems(&self.url, self.tls_ca_file.as_deref())
    }
}

/// How lookups behave across runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupSettings {
    /// How long a record may stay parked by a `defer` lookup before it becomes a failed record with
    /// the reason: nothing waits for ever unseen.
    pub max_defer_hours: u64,
}

impl LookupSettings {
    pub fn max_defer(&self) -> Duration {
        Duration::from_secs(self.max_defer_hours * 3_600)
    }
}

impl WorkerSettings {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

impl SchedulerSettings {
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms)
    }
    pub fn reconcile(&self) -> Duration {
        Duration::from_secs(self.reconcile_secs)
    }
    pub fn requeue_after(&self) -> Duration {
        Duration::from_secs(self.requeue_after_secs)
    }
    pub fn leader_lease(&self) -> Duration {
        Duration::from_secs(self.leader_lease_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let settings = Settings::load(None).unwrap();
        assert!(settings.database.url.starts_with("postgres://"));
        assert_eq!(settings.queue.prefix, "ferry");
        assert!(settings.worker.page_size <= MAX_PAGE_SIZE);
    }

    #[test]
    fn a_page_size_no_source_serves_is_refused_at_start() {
        let dir = std::env::temp_dir().join(format!("ferry-settings-page-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for size in [0, MAX_PAGE_SIZE + 1] {
            let file = dir.join("ferry.toml");
            std::fs::write(&file, format!("[worker]\npage_size = {size}\n")).unwrap();
            let error = Settings::load(Some(&file)).unwrap_err().to_string();
            assert!(
                error.contains("worker.page_size") && error.contains(&format!("not {size}")),
                "{error}"
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("ferry-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ferry.toml");
        std::fs::write(&file, "[queue]\nprefix = \"other\"\n").unwrap();
        let settings = Settings::load(Some(&file)).unwrap();
        assert_eq!(settings.queue.prefix, "other");
        assert_eq!(settings.worker.lease_secs, 60);
    }

    #[test]
    fn a_queue_ca_without_tls_or_a_password_given_twice_is_refused_at_start() {
        let dir = std::env::temp_dir().join(format!("ferry-settings-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ferry.toml");
        let load = |queue: &str| {
            std::fs::write(&file, format!("[queue]\n{queue}\n")).unwrap();
            Settings::load(Some(&file)).map_err(|e| e.to_string())
        };
        let plain = load("url = \"redis://h:6379\"\ntls_ca_file = \"/ca.pem\"").unwrap_err();
        assert!(plain.contains("rediss://"), "{plain}");
        let twice = load("url = \"rediss://:pw1@h:6380\"\npassword = \"pw2\"").unwrap_err();
        assert!(twice.contains("keep one"), "{twice}");
        assert!(!twice.contains("pw1") && !twice.contains("pw2"), "{twice}");
        let managed =
            load("url = \"rediss://h:6380\"\npassword = \"pw\"\ntls_ca_file = \"/ca.pem\"")
                .unwrap();
        assert!(managed.queue.password.is_some());
        std::fs::remove_dir_all(&dir).ok();
    }

    fn api(token: Option<&str>) -> ApiSettings {
        let mut table = toml::Table::new();
        table.insert("listen".into(), "127.0.0.1:0".into());
        if let Some(token) = token {
            table.insert("token".into(), token.into());
            table.insert("callback_secret".into(), token.into());
        }
        table.try_into().unwrap()
    }

    #[test]
    fn an_empty_token_is_no_token_and_a_short_one_is_refused_without_being_shown() {
        for blank in ["", "   "] {
            let settings = api(Some(blank));
            assert!(settings.token.is_none() && settings.callback_secret.is_none());
            assert!(
                settings.check_token().is_ok(),
                "no token: the API stays closed"
            );
        }
        let short = api(Some("CHANGE-ME"))
            .check_token()
            .unwrap_err()
            .to_string();
        assert!(short.contains("9 characters") && short.contains("openssl rand -hex 32"));
        assert!(!short.contains("CHANGE-ME"), "{short}");
        assert!(
            api(Some(&"x".repeat(MIN_API_TOKEN_CHARS)))
                .check_token()
                .is_ok()
        );
        assert!(api(None).check_token().is_ok());
        let mut metrics = api(Some(&"x".repeat(MIN_API_TOKEN_CHARS)));
        metrics.metrics_token = Some("CHANGE-ME".to_string().into());
        let refused = metrics.check_token().unwrap_err().to_string();
        assert!(refused.contains("api.metrics_token"), "{refused}");
        assert!(!refused.contains("CHANGE-ME"), "{refused}");
    }
}
