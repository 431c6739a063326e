//! `ferry`: Ferry's control plane and command line. Each command is a library function first, so the
//! HTTP API and tests call the same code the CLI does.

pub mod cli;
pub mod cron_loop;
