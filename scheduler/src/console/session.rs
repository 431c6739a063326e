//! The console's sign-in: signed, expiring session cookies, the CSRF token each form carries, and
//! one-time sign-in links (`ferry demo --keep-running` prints one).
//!
//! Everything is signed with a key derived from `api.token`, so any scheduler replica accepts a session
//! another one issued, and changing the token signs every session out. What is remembered in memory
//! is only what must be used once or no more: the one-time links already used and the sessions signed
//! out, each until it would have expired anyway.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How long a session lasts from sign-in.
pub const SESSION_SECS: i64 = 12 * 3600;
/// How long a one-time sign-in link may wait to be opened.
pub const LINK_SECS: i64 = 15 * 60;
/// The session cookie's name.
pub const COOKIE: &str = "ferry_session";
/// The cookie that carries the sign-in form's nonce before there is a session.
pub const SIGN_IN_COOKIE: &str = "ferry_sign_in";
/// Entries remembered at most (used links, signed-out sessions): a flood cannot grow memory.
const MAX_REMEMBERED: usize = 10_000;

/// The signing key, derived from the API token.
#[derive(Clone)]
pub struct Keys {
    mac: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(…)")
    }
}

impl Keys {
    /// The console's key for `token`; a different token gives keys that accept nothing of this one.
    pub fn from_token(token: &SecretString) -> Keys {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"ferry console v1");
        Keys {
            mac: mac.finalize().into_bytes().into(),
        }
    }

    fn sign(&self, purpose: &str, parts: &[&str]) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.mac).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        for part in parts {
            mac.update(b".");
            mac.update(part.as_bytes());
        }
        hex(&mac.finalize().into_bytes())
    }

    fn verify(&self, purpose: &str, parts: &[&str], signature: &str) -> bool {
        let expected = self.sign(purpose, parts);
        expected.as_bytes().ct_eq(signature.as_bytes()).into()
    }

    /// A new session, valid from `now` (unix seconds).
    pub fn new_session(&self, now: i64) -> Session {
        let expires = now + SESSION_SECS;
        let nonce = nonce();
        let signature = self.sign("session", &[&expires.to_string(), &nonce]);
        Session {
            cookie: format!("{expires}.{nonce}.{signature}"),
            nonce,
            expires,
        }
    }

    /// The session a cookie value stands for, when it is this key's, unexpired at `now`.
    pub fn session(&self, cookie: &str, now: i64) -> Option<Session> {
        let mut parts = cookie.splitn(3, '.');
        let (expires, nonce, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if !self.verify("session", &[expires, nonce], signature) {
            return None;
        }
        let expires: i64 = expires.parse().ok()?;
        (now < expires).then(|| Session {
            cookie: cookie.to_string(),
            nonce: nonce.to_string(),
            expires,
        })
    }

    /// The CSRF token of the forms a holder of `nonce` (a session's, or the sign-in cookie's) sends.
    pub fn csrf(&self, nonce: &str) -> String {
        self.sign("csrf", &[nonce])
    }

    /// Whether `given` is the CSRF token of `nonce`, compared in constant time.
    pub fn csrf_matches(&self, nonce: &str, given: &str) -> bool {
        self.verify("csrf", &[nonce], given)
    }

    /// A one-time sign-in code, valid from `now` for `LINK_SECS`.
    pub fn one_time_code(&self, now: i64) -> String {
        let expires = now + LINK_SECS;
        let nonce = nonce();
        let signature = self.sign("once", &[&expires.to_string(), &nonce]);
        format!("{expires}.{nonce}.{signature}")
    }

    /// The nonce and expiry of a one-time code when it is this key's and unexpired at `now`.
    fn one_time(&self, code: &str, now: i64) -> Option<(String, i64)> {
        let mut parts = code.splitn(3, '.');
        let (expires, nonce, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if !self.verify("once", &[expires, nonce], signature) {
            return None;
        }
        let expires: i64 = expires.parse().ok()?;
        (now < expires).then(|| (nonce.to_string(), expires))
    }
}

/// A signed-in operator's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The cookie's value.
    pub cookie: String,
    /// What the CSRF token is derived from.
    pub nonce: String,
    /// Unix seconds.
    pub expires: i64,
}

/// What the console remembers: one-time codes already used, sessions signed out.
#[derive(Debug, Default)]
pub struct Spent {
    /// nonce → the unix second it expires at (after which the signature refuses it anyway).
    nonces: Mutex<HashMap<String, i64>>,
}

impl Spent {
    /// Uses the one-time `code` at `now`: true the first time for a valid code, false ever after.
    pub fn use_code(&self, keys: &Keys, code: &str, now: i64) -> bool {
        let Some((nonce, expires)) = keys.one_time(code, now) else {
            return false;
        };
        self.spend(format!("once.{nonce}"), expires, now)
    }

    /// Signs `session` out: its cookie is refused from now on. False when it could not be remembered
    /// (the memory is full of live entries), which the caller must say rather than pretend.
    pub fn sign_out(&self, session: &Session, now: i64) -> bool {
        self.spend(format!("session.{}", session.nonce), session.expires, now)
    }

    /// Whether `session` was signed out.
    pub fn signed_out(&self, session: &Session) -> bool {
        let nonces = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        nonces.contains_key(&format!("session.{}", session.nonce))
    }

    /// Records `key` until `expires`; false when it was recorded already.
    fn spend(&self, key: String, expires: i64, now: i64) -> bool {
        let mut nonces = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        if nonces.len() >= MAX_REMEMBERED {
            nonces.retain(|_, until| *until > now);
        }
        if nonces.len() >= MAX_REMEMBERED {
            // Still full of live entries: refusing is safe (a link is used at most once; a sign-out
            // that cannot be remembered is refused rather than pretended).
            return false;
        }
        nonces.insert(key, expires).is_none()
    }
}

/// 128 random bits as hex.
pub fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(token: &str) -> Keys {
        Keys::from_token(&SecretString::from(token.to_string()))
    }

    #[test]
    fn a_session_is_accepted_until_it_expires_and_only_by_its_key() {
        let keys = keys("a-token-of-thirty-two-characters");
        let session = keys.new_session(1_000);
        assert!(keys.session(&session.cookie, 1_001).is_some());
        assert!(
            keys.session(&session.cookie, 1_000 + SESSION_SECS)
                .is_none()
        );
        assert!(
            super::Keys::from_token(&SecretString::from("another-token".to_string()))
                .session(&session.cookie, 1_001)
                .is_none()
        );
        // A changed expiry breaks the signature.
        let forged = session.cookie.replacen(
            &(1_000 + SESSION_SECS).to_string(),
            &(9_000 + SESSION_SECS).to_string(),
            1,
        );
        assert!(keys.session(&forged, 1_001).is_none());
    }

    #[test]
    fn a_csrf_token_belongs_to_its_session() {
        let keys = keys("a-token-of-thirty-two-characters");
        let one = keys.new_session(0);
        let two = keys.new_session(0);
        let token = keys.csrf(&one.nonce);
        assert!(keys.csrf_matches(&one.nonce, &token));
        assert!(!keys.csrf_matches(&two.nonce, &token));
        assert!(!keys.csrf_matches(&one.nonce, ""));
    }

    #[test]
    fn a_one_time_code_works_once_and_not_after_it_expires() {
        let keys = keys("a-token-of-thirty-two-characters");
        let spent = Spent::default();
        let code = keys.one_time_code(100);
        assert!(spent.use_code(&keys, &code, 101));
        assert!(!spent.use_code(&keys, &code, 102));
        let late = keys.one_time_code(100);
        assert!(!spent.use_code(&keys, &late, 100 + LINK_SECS));
    }

    #[test]
    fn a_signed_out_session_stays_out() {
        let keys = keys("a-token-of-thirty-two-characters");
        let spent = Spent::default();
        let session = keys.new_session(0);
        assert!(!spent.signed_out(&session));
        assert!(spent.sign_out(&session, 1));
        assert!(spent.signed_out(&session));
    }
}
