//! OData v4: reading `$metadata` and pages of rows.

pub mod batch;
pub mod catalog;
pub mod client;
pub mod csdl;
pub mod key;
pub mod multipart;
pub mod prefer;
pub mod query;
pub mod removed;
pub mod rows;
