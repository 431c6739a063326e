//! `ferry connection set-secret NAME`: store a client secret, read from standard input so it never
//! appears in a shell history, a process list or a definition file.

use std::io::Read;
use std::process::ExitCode;

use ferry_shared::auth::binding;
use ferry_shared::definitions::load_connection;
use ferry_shared::secrets::Credentials;
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use secrecy::{ExposeSecret, SecretString};

/// Seals and stores `secret` for the stored connection `name`, bound to its endpoints as stored now
/// (it opens for no others).
pub async fn set_secret(
    credentials: &Credentials,
    name: &str,
    secret: &SecretString,
) -> anyhow::Result<()> {
    let Some(connection) = load_connection(credentials.db(), name).await? else {
        anyhow::bail!("no connection named {name:?} is stored; `ferry apply` it first");
    };
    if secret.expose_secret().is_empty() {
        anyhow::bail!("the secret read from standard input is empty");
    }
    credentials
        .set_client_secret(name, &binding(&connection), secret)
        .await?;
    Ok(())
}

pub(super) async fn command(settings: &Settings, name: &str) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let credentials = Credentials::new(db, &settings.secrets)?;
    credentials.keyring()?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let secret = SecretString::from(input.trim_end_matches(['\r', '\n']).to_string());
    drop(input);
    set_secret(&credentials, name, &secret).await?;
    eprintln!("stored the client secret of connection {name:?} (encrypted)");
    Ok(ExitCode::SUCCESS)
}
