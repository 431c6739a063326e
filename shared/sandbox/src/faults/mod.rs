//! Misbehaviour on demand: BC's per-user service limits, and injected faults (error statuses,
//! latency, dropped connections, damaged bodies) so Ferry's retry and backoff paths get exercised.

pub mod counts;
pub mod glob;
pub mod limits;
pub mod middleware;
mod respond;
pub mod rule;
pub mod sort_cost;

pub use counts::CountsSnapshot;
pub use limits::{Limits, RateLimiter};
pub use rule::{FaultSet, FaultSpec, Kind};
