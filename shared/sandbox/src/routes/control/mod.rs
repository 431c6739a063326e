//! Control endpoints for tests (no auth, meant for loopback): data, sign-in, faults, schema.

pub mod data;
pub mod identity;

pub use data::{mutate, rows};
