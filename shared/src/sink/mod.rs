//! The target side: creating the table an integration writes, writing pages of mapped rows, and the
//! coupling records that say which rows an integration owns.

pub mod coupling;
pub mod key_scan;
mod sqlite;
mod table;
mod unnest;
pub mod vanished;
mod writer;

pub(crate) use sqlite::stored as sqlite_stored;
pub use table::{create_table, quote};
pub use writer::{PageCounts, PageWrite, write_page};
