//! What the console keeps between requests, in the process: its signing keys, the one-time links used
//! and sessions signed out (`session::Spent`), and the device-code sign-ins started from its pages.
//! A leaf, so the state every handler shares can hold it.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::session;

#[derive(Debug, Default)]
pub struct Console {
    /// The signing key, from `api.token`; without a token the console is locked, as the API is.
    pub keys: Option<session::Keys>,
    /// One-time links already used and sessions signed out.
    pub spent: session::Spent,
    /// Device-code sign-ins started from the console.
    pub logins: Logins,
}

impl Console {
    pub fn new(settings: &ferry_shared::settings::Settings) -> Console {
        Console {
            keys: settings.api.token.as_ref().map(session::Keys::from_token),
            spent: session::Spent::default(),
            logins: Logins::default(),
        }
    }
}

/// Where a connection's sign-in from the console stands.
#[derive(Debug, Clone)]
pub enum Login {
    /// The provider gave a code; the person has not finished yet.
    Waiting {
        user_code: String,
        verification_uri: String,
        /// The provider's own instruction.
        message: String,
    },
    SignedIn {
        account: Option<String>,
        until: Option<DateTime<Utc>>,
    },
    Failed(String),
}

/// Sign-ins started from the console, by connection (the latest one each).
#[derive(Debug, Default)]
pub struct Logins(Mutex<HashMap<String, Login>>);

impl Logins {
    pub fn set(&self, connection: &str, login: Login) {
        let mut logins = self.0.lock().unwrap_or_else(|e| e.into_inner());
        logins.insert(connection.to_string(), login);
    }

    pub fn get(&self, connection: &str) -> Option<Login> {
        let logins = self.0.lock().unwrap_or_else(|e| e.into_inner());
        logins.get(connection).cloned()
    }
}
