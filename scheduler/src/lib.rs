//! `ferry`: Ferry's control plane and command line. Each command is a library function first, so the
//! HTTP API and tests call the same code the CLI does.

pub mod api;
pub mod bench;
pub mod cli;
pub mod console;
pub mod cron_loop;
pub mod demo;
pub mod depth;
pub mod leader;
pub mod recovery;
pub mod serve;
pub mod service;
pub mod state;
