//! Ferry's Business Central sandbox: an HTTP server that behaves like BC and Microsoft sign-in as
//! Microsoft documents them (ARCHITECTURE.md, "Outside facts"), so Ferry's tests, benchmarks and demo meet BC's real
//! behaviour, including its unkind parts.
//!
//! Served (all data routes need a bearer token the sandbox issued):
//! - `/v2.0/{tenant}/{env}/api/Resco/RescoIntegrations/v2.0/` — the Resco pages
//!   (`model::catalog` lists them), `/api/v2.0/` — the standard API, `/ODataV4/` — published
//!   pages; each with `$metadata`, `$filter`/`$orderby`/`$select`/`$top`/`$skip`/`$count`,
//!   keyset paging, POST/PATCH/DELETE with `If-Match`, and JSON `$batch`.
//! - `/api/data/v9.2/` — Dataverse's Web API (`accounts`, `contacts`; `routes::dataverse`), for
//!   tokens asked with the scope `{base URL}/.default`.
//! - `/{tenant}/oauth2/v2.0/token` (client credentials, device code, refresh token with
//!   rotation), `/{tenant}/oauth2/v2.0/devicecode`, `/devicelogin`.
//!
//! Control endpoints (no auth, loopback): `POST /_sandbox/mutate` (optionally `"hold"` or
//! `"commit_delay_ms"` for late commits) and `/_sandbox/release`, `GET /_sandbox/rows/{entity}`,
//! `POST /_sandbox/devicecode/approve|decline`, `POST /_sandbox/tokens`, `GET /_sandbox/issued`,
//! `POST|GET|DELETE /_sandbox/faults` (statuses, latency, damaged answers, and `lost_reply`: a
//! write applied whose answer never arrives; `faults::rule`), `GET|POST /_sandbox/limits`,
//! `POST /_sandbox/schema`, `POST /_sandbox/dataverse/expire_tokens`,
//! `GET|POST /_sandbox/dataverse/limits`.

pub mod auth;
pub mod cli;
pub mod config;
pub mod faults;
pub mod model;
pub mod odata;
pub mod request_log;
pub mod routes;
mod sandbox;
pub mod state;

pub use config::SandboxConfig;
pub use model::{HeldMutation, MutateRequest, MutateResponse, SchemaChange};
pub use sandbox::Sandbox;
