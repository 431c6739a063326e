//! Shared server state.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::auth::{DeviceCodes, TokenStore};
use crate::config::SandboxConfig;
use crate::faults::sort_cost::SortCost;
use crate::faults::{FaultSet, RateLimiter};
use crate::model::company::CompanyGenerator;
use crate::model::{Store, Table};
use crate::request_log::RequestLog;

#[derive(Debug)]
pub struct AppState {
    pub config: SandboxConfig,
    /// `http://127.0.0.1:PORT`: the OAuth authority and the fallback origin for absolute links.
    pub base_url: String,
    pub companies: Table,
    /// Entity data. Readers hold the guard for one page (milliseconds); writers for one mutation.
    pub store: RwLock<Store>,
    pub tokens: TokenStore,
    /// Device-code sign-ins in progress.
    pub devices: DeviceCodes,
    /// Per-user request budget and concurrency.
    pub limiter: RateLimiter,
    /// Dataverse's service protection limits, counted apart from BC's.
    pub dataverse_limiter: RateLimiter,
    /// Injected faults.
    pub faults: FaultSet,
    /// The latency charged for a sort by the version field (`faults::sort_cost`).
    pub sort_cost: SortCost,
    /// What the data routes were asked (`request_log`).
    pub requests: RequestLog,
}

impl AppState {
    pub fn new(config: SandboxConfig, base_url: String) -> Self {
        let store = Store::generate(&config);
        let companies = Table::fixed(Arc::new(CompanyGenerator::from_seed(config.seed)), 1);
        Self {
            base_url,
            companies,
            store: RwLock::new(store),
            tokens: TokenStore::new(config.access_token_lifetime),
            devices: DeviceCodes::default(),
            limiter: RateLimiter::new(config.limits),
            dataverse_limiter: RateLimiter::new(config.dataverse_limits),
            faults: FaultSet::new(config.seed),
            sort_cost: SortCost::new(config.sort_cost_us_per_row),
            requests: RequestLog::default(),
            config,
        }
    }

    /// A poisoned lock only means a handler panicked mid-read; the data is still consistent enough
    /// for a test double, so keep serving.
    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|p| p.into_inner())
    }
}
