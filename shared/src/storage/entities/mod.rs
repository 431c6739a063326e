//! SeaORM entities for Ferry's own tables (created by `storage::migration`).

pub mod checkpoint;
pub mod connection;
pub mod coupling;
pub mod credential;
pub mod integration;
pub mod integration_lifecycle;
pub mod run;
pub mod run_error;
