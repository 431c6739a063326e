//! Pending device-code sign-ins (RFC 8628): what the user has (not yet) done, and how fast the
//! device polls.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The state of one device authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pending,
    Approved,
    Declined,
    /// Tokens were issued; the device code cannot be redeemed again.
    Redeemed,
}

#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub expires: Instant,
    /// The current minimum gap between polls; grows by 5 s with every `slow_down` (RFC 8628 §3.5).
    pub interval: Duration,
    pub last_poll: Option<Instant>,
    pub decision: Decision,
}

/// What a token poll learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// Approved: issue tokens for this client and scope.
    Granted {
        client_id: String,
        scope: String,
    },
    Pending,
    SlowDown,
    Declined,
    Expired,
    /// Unknown device code, or one issued to another client.
    BadCode,
    /// Already exchanged for tokens.
    Redeemed,
}

/// User codes are 9 characters from an alphabet without look-alikes, as Microsoft's are.
const USER_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

#[derive(Debug, Default)]
pub struct DeviceCodes {
    by_device_code: Mutex<HashMap<String, DeviceAuthorization>>,
}

impl DeviceCodes {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, DeviceAuthorization>> {
        self.by_device_code
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub fn start(
        &self,
        client_id: &str,
        scope: &str,
        lifetime: Duration,
        interval: Duration,
    ) -> DeviceAuthorization {
        let random = uuid::Uuid::new_v4();
        let user_code: String = random.as_bytes()[..9]
            .iter()
            .map(|b| USER_CODE_ALPHABET[usize::from(*b) % USER_CODE_ALPHABET.len()] as char)
            .collect();
        let auth = DeviceAuthorization {
            device_code: format!(
                "sbx-dc-{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            user_code,
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            expires: Instant::now() + lifetime,
            interval,
            last_poll: None,
            decision: Decision::Pending,
        };
        self.lock().insert(auth.device_code.clone(), auth.clone());
        auth
    }

    /// Records the user's answer for `user_code` (case-insensitive, as the sign-in page accepts).
    /// False when no live, undecided authorization has that code.
    pub fn decide(&self, user_code: &str, approve: bool) -> bool {
        let now = Instant::now();
        let mut codes = self.lock();
        let Some(auth) = codes.values_mut().find(|a| {
            a.user_code.eq_ignore_ascii_case(user_code.trim())
                && a.decision == Decision::Pending
                && a.expires > now
        }) else {
            return false;
        };
        auth.decision = if approve {
            Decision::Approved
        } else {
            Decision::Declined
        };
        true
    }

    /// One token poll by `client_id` with `device_code`.
    pub fn poll(&self, device_code: &str, client_id: &str) -> Poll {
        let now = Instant::now();
        let mut codes = self.lock();
        let Some(auth) = codes.get_mut(device_code) else {
            return Poll::BadCode;
        };
        if auth.client_id != client_id {
            return Poll::BadCode;
        }
        if auth.expires <= now && auth.decision != Decision::Redeemed {
            return Poll::Expired;
        }
        let too_fast = auth
            .last_poll
            .is_some_and(|last| now.duration_since(last) < auth.interval);
        auth.last_poll = Some(now);
        match auth.decision {
            // slow_down is a variant of authorization_pending: only an undecided request is slowed.
            Decision::Pending if too_fast => {
                auth.interval += Duration::from_secs(5);
                Poll::SlowDown
            }
            Decision::Pending => Poll::Pending,
            Decision::Declined => Poll::Declined,
            Decision::Redeemed => Poll::Redeemed,
            Decision::Approved => {
                auth.decision = Decision::Redeemed;
                Poll::Granted {
                    client_id: auth.client_id.clone(),
                    scope: auth.scope.clone(),
                }
            }
        }
    }

    /// Every device code handed out (they are bearer secrets until redeemed).
    pub fn device_codes(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}
