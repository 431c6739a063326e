//! Export (ARCHITECTURE.md, "Export"): the same path as an import in the other direction. The local
//! table's change log (`capture`) is the source, the remote system the sink, couplings the memory of
//! what both sides last agreed on. `sync/export.rs` drives a run through these parts.
//!
//! - `outbound`: the mapping backwards (which columns go to which properties, as what JSON).
//! - `local`: the local rows a page of changes names.
//! - `couplings`: the couplings an export reads and writes.
//! - `plan`: what each change asks of the remote side.
//! - `remote`: the writes, through `$batch`, exactly once; `style`: each kind's batches and creates.

pub mod couplings;
pub mod local;
pub mod outbound;
pub mod plan;
pub mod remote;
pub mod style;

pub use outbound::Outbound;
pub use remote::{Outcome, Target};
pub use style::{Creates, Style};
