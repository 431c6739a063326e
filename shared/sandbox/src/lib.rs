//! Ferry's Business Central sandbox: an HTTP server emulating BC's Resco extension API (OData v4,
//! server-driven paging, `$filter`/`$orderby`/`$select`/…) and Microsoft's token endpoint, with
//! deterministic seeded data and control endpoints to mutate it. Used by tests, benchmarks and
//! the demo.

pub mod auth;
pub mod cli;
pub mod config;
pub mod faults;
pub mod model;
pub mod odata;
pub mod routes;
mod sandbox;
pub mod state;

pub use config::SandboxConfig;
pub use model::{HeldMutation, MutateRequest, MutateResponse, SchemaChange};
pub use sandbox::Sandbox;
