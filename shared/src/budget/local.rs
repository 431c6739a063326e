//! The budget counted in this process: one-process mode, where the SQLite queue means no other
//! process sends requests for this database's connections.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{Budget, Entry, Held as AnyHeld, poll_again};

/// Every connection's slots and recent requests in this process.
#[derive(Debug, Default)]
pub(super) struct Local {
    accounts: Mutex<HashMap<String, Arc<Account>>>,
}

/// One connection's slots and the times of its requests within the window.
#[derive(Debug)]
struct Account {
    /// The budget these were made for: a changed definition starts afresh.
    budget: Budget,
    slots: Arc<Semaphore>,
    sent: Mutex<VecDeque<Instant>>,
}

/// A slot taken in this process; dropping it frees the slot.
#[derive(Debug)]
pub(super) struct Held(#[allow(dead_code)] OwnedSemaphorePermit);

impl Local {
    /// One try at a slot of `connection`, counting the request in its window when it gets one.
    pub(super) fn try_enter(&self, connection: &str, budget: Budget) -> Entry {
        let account = self.account(connection, budget);
        let Ok(slot) = account.slots.clone().try_acquire_owned() else {
            return Entry::Wait(poll_again());
        };
        if let Some(window) = budget.window {
            let mut sent = account.sent.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            while sent
                .front()
                .is_some_and(|at| now.duration_since(*at) >= window.per)
            {
                sent.pop_front();
            }
            if sent.len() >= window.requests as usize {
                let oldest = sent.front().copied().unwrap_or(now);
                // The slot goes back (dropped here) until the oldest request leaves the window.
                return Entry::Wait(window.per.saturating_sub(now.duration_since(oldest)));
            }
            sent.push_back(now);
        }
        Entry::Granted(AnyHeld::Local(Held(slot)))
    }

    fn account(&self, connection: &str, budget: Budget) -> Arc<Account> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        match accounts.get(connection) {
            Some(account) if account.budget == budget => account.clone(),
            _ => {
                let account = Arc::new(Account {
                    budget,
                    slots: Arc::new(Semaphore::new(budget.concurrent as usize)),
                    sent: Mutex::default(),
                });
                accounts.insert(connection.to_string(), account.clone());
                account
            }
        }
    }
}
