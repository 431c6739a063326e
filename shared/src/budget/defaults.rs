//! A connection's budget in numbers: the operator's `[connection.budget]`, and what it leaves out
//! taken from the kind's published limits (ARCHITECTURE.md, "Outside facts").

use std::fmt;
use std::time::Duration;

use crate::definitions::{ConnectionDef, ConnectionKind};

/// How much of a service every Ferry process together may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests in flight at once.
    pub concurrent: u32,
    /// Requests sent within a sliding window; `None` counts none.
    pub window: Option<Window>,
}

/// `requests` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub requests: u32,
    pub per: Duration,
}

/// Business Central: 5 concurrent requests per user, 6,000 per 5 minutes.
const BUSINESS_CENTRAL: Budget = Budget {
    concurrent: 5,
    window: Some(Window {
        requests: 6_000,
        per: Duration::from_secs(300),
    }),
};

/// Dataverse's service protection: 52 concurrent requests per user, 6,000 per 300 s.
const DATAVERSE: Budget = Budget {
    concurrent: 52,
    window: Some(Window {
        requests: 6_000,
        per: Duration::from_secs(300),
    }),
};

/// A generic OData service publishes no limits, so none is counted per window (a guessed cap would
/// only slow a service that has none). Requests in flight are still bounded: a fleet of workers
/// should not open unbounded parallel requests to a service of unknown capacity, and 10 is twice
/// what Business Central, the strictest service Ferry knows, allows.
const ODATA: Budget = Budget {
    concurrent: 10,
    window: None,
};

impl Budget {
    /// `connection`'s budget: its `[connection.budget]` over its kind's default.
    pub fn of(connection: &ConnectionDef) -> Budget {
        let default = match connection.kind {
            ConnectionKind::BusinessCentral => BUSINESS_CENTRAL,
            ConnectionKind::Dataverse => DATAVERSE,
            ConnectionKind::Odata => ODATA,
        };
        let Some(set) = &connection.budget else {
            return default;
        };
        // Validation makes `requests` and `per_secs` come together (`definitions/validate.rs`).
        let window = match (set.requests, set.per_secs) {
            (Some(requests), Some(secs)) => Some(Window {
                requests: requests.max(1),
                per: Duration::from_secs(secs.max(1)),
            }),
            _ => default.window,
        };
        Budget {
            concurrent: set.concurrent.unwrap_or(default.concurrent).max(1),
            window,
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at once", self.concurrent)?;
        if let Some(window) = self.window {
            write!(f, ", {} per {} s", window.requests, window.per.as_secs())?;
        }
        Ok(())
    }
}
