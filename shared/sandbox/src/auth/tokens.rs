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

/// The API a token was issued for (the resource of its `{resource}/.default` scope): Microsoft
/// issues one audience per token, and each API refuses tokens for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Business Central (`https://api.businesscentral.dynamics.com/.default`, or any scope that
    /// does not name the Dataverse environment: the sandbox's BC tests ask for odd ones).
    BusinessCentral,
    /// Dataverse: the scope `{environment URL}/.default`, the environment being the sandbox itself.
    Dataverse,
}

impl Audience {
    /// The audience of `scope` (space separated) when the Dataverse environment is at `env_url`.
    pub fn of_scope(scope: &str, env_url: &str) -> Self {
        let env = env_url.trim_end_matches('/');
        let names_env = |s: &str| {
            s.strip_prefix(env)
                .is_some_and(|rest| rest.starts_with('/') && !rest.starts_with("//"))
        };
        if scope.split_whitespace().any(names_env) {
            Audience::Dataverse
        } else {
            Audience::BusinessCentral
        }
    }
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
    access: HashMap<String, (Instant, Principal, Audience)>,
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

    /// Issues a Business Central access token for `principal`.
    pub fn issue(&self, principal: Principal) -> String {
        self.issue_for(principal, Audience::BusinessCentral)
    }

    /// Issues an access token for `principal` and `audience`; expired ones are forgotten on the
    /// way.
    pub fn issue_for(&self, principal: Principal, audience: Audience) -> String {
        let token = random_token("sbx-at-");
        let now = Instant::now();
        let expires = now + self.lifetime();
        let mut inner = self.inner();
        inner.access.retain(|_, (exp, _, _)| *exp > now);
        inner
            .access
            .insert(token.clone(), (expires, principal, audience));
        inner.issued.access_tokens.push(token.clone());
        token
    }

    /// The principal of a live access token, whatever its audience.
    pub fn validate(&self, token: &str) -> Option<Principal> {
        let inner = self.inner();
        let (exp, principal, _) = inner.access.get(token)?;
        (*exp > Instant::now()).then(|| principal.clone())
    }

    /// The principal of a live access token issued for `audience`.
    pub fn validate_for(&self, token: &str, audience: Audience) -> Option<Principal> {
        let inner = self.inner();
        let (exp, principal, issued_for) = inner.access.get(token)?;
        (*exp > Instant::now() && *issued_for == audience).then(|| principal.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_names_the_audience() {
        let env = "http://127.0.0.1:4000";
        assert_eq!(
            Audience::of_scope("http://127.0.0.1:4000/.default offline_access", env),
            Audience::Dataverse
        );
        assert_eq!(
            Audience::of_scope("https://api.businesscentral.dynamics.com/.default", env),
            Audience::BusinessCentral
        );
        assert_eq!(
            Audience::of_scope("http://127.0.0.1:40000/.default", env),
            Audience::BusinessCentral,
            "another port is another resource"
        );
        let store = TokenStore::new(Duration::from_secs(60));
        let who = Principal {
            client_id: "c".into(),
            user: "u".into(),
        };
        let token = store.issue_for(who.clone(), Audience::Dataverse);
        assert_eq!(
            store.validate_for(&token, Audience::Dataverse),
            Some(who.clone())
        );
        assert_eq!(store.validate_for(&token, Audience::BusinessCentral), None);
        assert_eq!(store.validate(&token), Some(who));
    }
}
