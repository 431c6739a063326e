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

/// Sign-ins started from the console, by connection: the latest one each, with the number that tells
/// it from the ones it replaced (so an older code's late answer cannot overwrite a newer sign-in).
#[derive(Debug, Default)]
pub struct Logins(Mutex<HashMap<String, (u64, Login)>>);

impl Logins {
    /// Records a new sign-in of `connection`; returns its number.
    pub fn start(&self, connection: &str, login: Login) -> u64 {
        let mut logins = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let number = logins.get(connection).map_or(1, |(n, _)| n + 1);
        logins.insert(connection.to_string(), (number, login));
        number
    }

    /// Records how sign-in `number` of `connection` ended, unless a newer one started since.
    pub fn finish(&self, connection: &str, number: u64, login: Login) {
        let mut logins = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((current, state)) = logins.get_mut(connection)
            && *current == number
        {
            *state = login;
        }
    }

    pub fn get(&self, connection: &str) -> Option<Login> {
        let logins = self.0.lock().unwrap_or_else(|e| e.into_inner());
        logins.get(connection).map(|(_, login)| login.clone())
    }
}
