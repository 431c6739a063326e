//! The target side: creating the table an integration writes, and writing pages of mapped rows.

mod table;
mod unnest;
mod writer;

pub use table::{create_table, quote};
pub use writer::{PageCounts, PageWrite, write_page};
