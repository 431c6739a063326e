//! What every HTTP handler can reach, the API's and the console's alike. A leaf: it knows the parts
//! a request needs, not the routes that use them.

use std::sync::Arc;

use ferry_shared::queue::SyncStorage;
use ferry_shared::settings::Settings;
use sea_orm::DatabaseConnection;

use crate::api::lockout::Lockout;
use crate::console::memory::Console;

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub queue: SyncStorage,
    pub settings: Settings,
    /// Failed sign-ins per client address, shared by every request (the API's and the console's).
    pub lockout: Arc<Lockout>,
    /// The web console's keys and memory.
    pub console: Arc<Console>,
    /// The connections' request budgets, for what the console sends (previews, checks, tests).
    pub budgets: ferry_shared::budget::Budgets,
}

impl AppState {
    /// The stored secrets, sealed with `secrets.master_key` (refused without one where one is needed).
    pub fn credentials(
        &self,
    ) -> Result<ferry_shared::secrets::Credentials, ferry_shared::secrets::SecretsError> {
        ferry_shared::secrets::Credentials::new(self.db.clone(), &self.settings.secrets)
    }

    pub fn new(db: DatabaseConnection, queue: SyncStorage, settings: Settings) -> AppState {
        AppState {
            console: Arc::new(Console::new(&settings)),
            budgets: ferry_shared::budget::Budgets::for_queue(&settings.queue, Default::default()),
            db,
            queue,
            settings,
            lockout: Arc::default(),
        }
    }
}
