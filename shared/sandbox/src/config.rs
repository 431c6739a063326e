//! Sandbox configuration and the binary's command line.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Parser;

use crate::faults::Limits;

/// What the sandbox generates and where it pretends to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    pub customers: usize,
    pub contacts: usize,
    /// Dataverse `accounts` rows.
    pub accounts: usize,
    /// Dataverse `contacts` rows (BC's contacts are `contacts`).
    pub dv_contacts: usize,
    /// Same seed → byte-identical generated data.
    pub seed: u64,
    pub tenant: String,
    pub environment: String,
    /// How long issued access tokens live (Microsoft: about an hour). Short in tests that need a
    /// token to expire mid-run; `POST /_sandbox/tokens` changes it at run time.
    pub access_token_lifetime: Duration,
    /// `expires_in` of a device code (Microsoft: 15 minutes). Zero makes every poll `expired_token`.
    pub device_code_lifetime: Duration,
    /// The device-code `interval` in seconds (Microsoft: 5); polling faster gets `slow_down`.
    pub device_code_interval: u64,
    /// BC's per-user request budget and concurrency cap; `POST /_sandbox/limits` changes them.
    pub limits: Limits,
    /// Dataverse's service protection limits ("Service protection API limits": 6,000 requests per
    /// 300 s and 52 concurrent per user; beyond either, 429 with Retry-After, no queueing).
    pub dataverse_limits: Limits,
    /// How long a change-tracking delta token stays valid (Dataverse: `ExpireChangeTrackingInDays`,
    /// default 7 days); older ones answer ExpiredVersionStamp.
    pub delta_token_lifetime: Duration,
    /// Row counts of the other entities by entity set name (e.g. `"RescoItem" => 5000`); missing
    /// ones get `model::catalog::DEFAULT_SIZES`.
    pub sizes: BTreeMap<String, usize>,
    /// Microseconds charged per row of an entity to a query ordered by its version field, which BC
    /// has no index for (`faults::sort_cost`); 0: nothing.
    pub sort_cost_us_per_row: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            customers: 1000,
            contacts: 1000,
            accounts: 50,
            dv_contacts: 100,
            seed: 1,
            tenant: "sandbox".into(),
            environment: "production".into(),
            access_token_lifetime: Duration::from_secs(3600),
            device_code_lifetime: Duration::from_secs(900),
            device_code_interval: 5,
            limits: Limits::default(),
            dataverse_limits: Limits::dataverse(),
            delta_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            sizes: BTreeMap::new(),
            sort_cost_us_per_row: 0,
        }
    }
}

/// `ferry-sandbox` command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ferry-sandbox",
    about = "Business Central (Resco API) and Microsoft identity emulator"
)]
pub struct Args {
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    #[arg(long, default_value_t = 1000)]
    pub customers: usize,
    #[arg(long, default_value_t = 1000)]
    pub contacts: usize,
    /// Dataverse accounts.
    #[arg(long, default_value_t = 50)]
    pub accounts: usize,
    /// Dataverse contacts.
    #[arg(long, default_value_t = 100)]
    pub dv_contacts: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "sandbox")]
    pub tenant: String,
    #[arg(long, default_value = "production")]
    pub environment: String,
    /// Access-token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub token_lifetime: u64,
    /// Size of another entity, `Entity=N` (repeatable), e.g. `--size RescoItem=5000`.
    #[arg(long = "size", value_parser = parse_size)]
    pub sizes: Vec<(String, usize)>,
    /// Device-code polling interval in seconds.
    #[arg(long, default_value_t = 5)]
    pub device_code_interval: u64,
    /// Requests per user per 5-minute window before 429 (BC: 6,000).
    #[arg(long, default_value_t = 6000)]
    pub requests_per_window: usize,
    /// Concurrent requests per user before queueing (BC: 5).
    #[arg(long, default_value_t = 5)]
    pub max_concurrent: usize,
    /// Microseconds charged per row of an entity to a query ordered by its row version (an
    /// unindexed sort on BC); ordering by the key costs nothing.
    #[arg(long, default_value_t = 0)]
    pub sort_cost_us_per_row: u64,
}

impl Args {
    pub fn config(&self) -> SandboxConfig {
        SandboxConfig {
            customers: self.customers,
            contacts: self.contacts,
            accounts: self.accounts,
            dv_contacts: self.dv_contacts,
            seed: self.seed,
            tenant: self.tenant.clone(),
            environment: self.environment.clone(),
            access_token_lifetime: Duration::from_secs(self.token_lifetime),
            device_code_interval: self.device_code_interval,
            sizes: self.sizes.iter().cloned().collect(),
            sort_cost_us_per_row: self.sort_cost_us_per_row,
            limits: Limits {
                requests_per_window: self.requests_per_window,
                max_concurrent: self.max_concurrent,
                ..Limits::default()
            },
            ..SandboxConfig::default()
        }
    }
}

/// `Entity=N`.
fn parse_size(text: &str) -> Result<(String, usize), String> {
    let (entity, n) = text
        .split_once('=')
        .ok_or_else(|| format!("expected Entity=N, got '{text}'"))?;
    let n = n
        .trim()
        .parse()
        .map_err(|_| format!("'{n}' is not a row count"))?;
    Ok((entity.trim().to_owned(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_sizes_and_limits() {
        let args = Args::try_parse_from([
            "ferry-sandbox",
            "--customers",
            "200000",
            "--size",
            "RescoItem=5000",
            "--size",
            "salesOrders = 10",
            "--max-concurrent",
            "2",
            "--accounts",
            "7",
            "--dv-contacts",
            "9",
        ])
        .unwrap();
        let config = args.config();
        assert_eq!(config.customers, 200_000);
        assert_eq!(config.sizes["RescoItem"], 5000);
        assert_eq!(config.sizes["salesOrders"], 10);
        assert_eq!(config.limits.max_concurrent, 2);
        assert_eq!(config.limits.requests_per_window, 6000);
        assert_eq!((config.accounts, config.dv_contacts), (7, 9));
        assert_eq!(config.dataverse_limits.max_concurrent, 52);
        assert!(Args::try_parse_from(["ferry-sandbox", "--size", "RescoItem"]).is_err());
    }
}
