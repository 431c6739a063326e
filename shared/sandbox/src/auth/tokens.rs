//! Access and refresh tokens the sandbox issued, with their expiry, owner and rotation state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Who a token acts for: the app itself (client credentials) or a signed-in user (device code).
/// Rate limits are counted per principal, as BC counts them per user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    pub client_id: Arc<str>,
    pub user: Arc<str>,
}

/// What a refresh token can be redeemed for.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub principal: Principal,
    /// The scopes of the original sign-in (space separated), kept across rotations.
    pub scope: String,
}

/// Everything the sandbox handed out, so leak tests can grep dumps and logs for it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Issued {
    pub access_tokens: Vec<String>,
    pub refresh_tokens: Vec<String>,
}

#[derive(Debug, Default)]
struct Inner {
    access: HashMap<String, (Instant, Principal)>,
    /// Live refresh tokens only: redeeming one removes it (rotation), so a reused one is unknown.
    refresh: HashMap<String, RefreshGrant>,
    issued: Issued,
}

/// Opaque tokens in memory. The access-token lifetime can change at run time so tests can make a
/// token expire in the middle of a sync.
#[derive(Debug)]
pub struct TokenStore {
    inner: Mutex<Inner>,
    lifetime: Mutex<Duration>,
}

/// A random opaque token with a recognizable prefix (handy when grepping logs for leaks).
fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl TokenStore {
    pub fn new(access_lifetime: Duration) -> Self {
        Self {
            inner: Mutex::default(),
            lifetime: Mutex::new(access_lifetime),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn lifetime(&self) -> Duration {
        *self.lifetime.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies to tokens issued from now on.
    pub fn set_lifetime(&self, lifetime: Duration) {
        *self.lifetime.lock().unwrap_or_else(|p| p.into_inner()) = lifetime;
    }

    /// Issues an access token for `principal`; expired ones are forgotten on the way.
    pub fn issue(&self, principal: Principal) -> String {
        let token = random_token("sbx-at-");
        let now = Instant::now();
        let expires = now + self.lifetime();
        let mut inner = self.inner();
        inner.access.retain(|_, (exp, _)| *exp > now);
        inner.access.insert(token.clone(), (expires, principal));
        inner.issued.access_tokens.push(token.clone());
        token
    }

    /// The principal of a live access token.
    pub fn validate(&self, token: &str) -> Option<Principal> {
        let inner = self.inner();
        let (exp, principal) = inner.access.get(token)?;
        (*exp > Instant::now()).then(|| principal.clone())
    }

    pub fn is_valid(&self, token: &str) -> bool {
        self.validate(token).is_some()
    }

    /// Makes every access token issued so far invalid (as if its hour had passed).
    pub fn expire_access_tokens(&self) {
        self.inner().access.clear();
    }

    pub fn issue_refresh(&self, grant: RefreshGrant) -> String {
        let token = random_token("sbx-rt-");
        let mut inner = self.inner();
        inner.refresh.insert(token.clone(), grant);
        inner.issued.refresh_tokens.push(token.clone());
        token
    }

    /// Redeems a refresh token issued to `client_id`: it is invalid from now on, whatever happens
    /// next (rotation). A token presented by another client is refused and stays valid.
    pub fn redeem_refresh(&self, token: &str, client_id: &str) -> Option<RefreshGrant> {
        let mut inner = self.inner();
        let grant = inner.refresh.get(token)?;
        if &*grant.principal.client_id != client_id {
            return None;
        }
        inner.refresh.remove(token)
    }

    pub fn issued(&self) -> Issued {
        self.inner().issued.clone()
    }
}
