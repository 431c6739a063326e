//! Sandbox configuration and the binary's command line.

use clap::Parser;

/// What the sandbox generates and where it pretends to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    pub customers: usize,
    pub contacts: usize,
    /// Same seed → byte-identical generated data.
    pub seed: u64,
    pub tenant: String,
    pub environment: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            customers: 1000,
            contacts: 1000,
            seed: 1,
            tenant: "sandbox".into(),
            environment: "production".into(),
        }
    }
}

/// `ferry-sandbox` command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ferry-sandbox",
    about = "Business Central (Resco API) and Microsoft identity emulator"
)]
pub struct Args {
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    #[arg(long, default_value_t = 1000)]
    pub customers: usize,
    #[arg(long, default_value_t = 1000)]
    pub contacts: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "sandbox")]
    pub tenant: String,
    #[arg(long, default_value = "production")]
    pub environment: String,
}

impl Args {
    pub fn config(&self) -> SandboxConfig {
        SandboxConfig {
            customers: self.customers,
            contacts: self.contacts,
            seed: self.seed,
            tenant: self.tenant.clone(),
            environment: self.environment.clone(),
        }
    }
}
