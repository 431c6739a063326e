//! Definitions: reading TOML files, validating them (every error at once), and storing them as versions.

mod apply;
mod changes;
mod diff;
pub mod edit;
pub mod lifecycle;
mod load;
mod model;
mod rebind;
mod schedule;
mod targets;
mod validate;
#[cfg(test)]
mod validate_tests;
mod warnings;

pub use apply::{
    Applied, ApplyError, ApplyOutcome, apply, apply_dry_run, latest_integration, load_connection,
    stored_connection, stored_integrations,
};
pub use load::{DefinitionError, DefinitionSet, load_files, load_files_against};
pub use model::*;
pub use targets::shared_target_errors;
pub use validate::{is_identifier, parse_every, secret_env_refusal, transform_known};
