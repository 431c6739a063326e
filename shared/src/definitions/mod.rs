//! Definitions: reading TOML files, validating them (every error at once), and storing them as versions.

mod apply;
mod load;
mod model;
mod validate;
#[cfg(test)]
mod validate_tests;

pub use apply::{
    Applied, ApplyError, ApplyOutcome, apply, latest_integration, load_connection,
    stored_connection,
};
pub use load::{DefinitionError, DefinitionSet, load_files};
pub use model::*;
pub use validate::{is_identifier, parse_every, transform_known};
