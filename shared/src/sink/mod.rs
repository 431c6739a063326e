//! The sink: creating the table an integration writes, writing pages of mapped rows, and the
//! coupling records that say which rows an integration owns.

pub mod coupling;
pub mod key_scan;
pub mod removed;
mod table;
pub mod vanished;
mod writer;

pub use table::{create_table, existing_columns, is_empty, quote, shape};
pub use writer::{PageCounts, PageWrite, write_rows};
