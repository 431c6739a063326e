//! `ferry keys generate|rotate`: master keys for stored secrets.

use std::process::ExitCode;

use ferry_shared::secrets::{self, Credentials};
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use secrecy::ExposeSecret;

/// Prints a fresh key for FERRY_MASTER_KEY (stdout only: it is meant to be captured).
pub(super) fn generate() -> anyhow::Result<ExitCode> {
    println!("{}", secrets::generate_key().expose_secret());
    Ok(ExitCode::SUCCESS)
}

/// Re-encrypts every stored credential under the current key.
pub(super) async fn rotate(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let credentials = Credentials::new(db, &settings.secrets)?;
    let rotation = secrets::rotate(&credentials).await?;
    if json {
        println!("{}", serde_json::to_string(&rotation)?);
    } else {
        println!(
            "re-encrypted {} credential(s) under key {}; {} already used it",
            rotation.resealed, rotation.key_id, rotation.already_current
        );
        if rotation.unbound > 0 {
            println!(
                "{} credential(s) were stored before secrets were bound to their connection's \
                 endpoints and open for nobody: sign in again (`ferry connection set-secret` or \
                 `ferry auth login`)",
                rotation.unbound
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
