//! The OData v4 surface: query options, `$filter`, paging, `$metadata`, serialization and errors.

pub mod error;
pub mod filter;
pub mod metadata;
pub mod paging;
pub mod query;
pub mod serialize;

pub use error::ODataError;
