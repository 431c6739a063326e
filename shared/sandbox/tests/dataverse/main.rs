//! Dataverse's Web API in the sandbox, over real HTTP, against what Microsoft documents ("Query
//! data using the Web API", "Page results", "Use change tracking to synchronize data with
//! external systems", "Service protection API limits"). One test binary for all of it.

mod batch;
mod control;
mod env;
mod limits;
mod lost_reply;
mod paging;
mod read;
mod tracking;
mod write;
