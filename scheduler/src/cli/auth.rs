//! `ferry auth login CONNECTION` (device-code sign-in) and `ferry auth status [CONNECTION]`.

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, FixedOffset};
use ferry_shared::auth::begin_login;
use ferry_shared::definitions::{AuthFlow, load_connection};
use ferry_shared::odata::client::http_client;
use ferry_shared::secrets::Credentials;
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::storage::entities::connection;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use serde::Serialize;

pub(super) async fn login(settings: &Settings, name: &str) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let credentials = Credentials::new(db.clone(), &settings.secrets)?;
    let def = load_connection(&db, name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no connection named {name:?} is stored"))?;
    let http = http_client();
    let pending = begin_login(&def, &credentials, &http).await?;
    // The server's own words: they name the page and the code.
    println!("{}", pending.message());
    std::io::stdout().flush()?;
    let signed_in = pending.finish(&http, &credentials).await?;
    let who = signed_in
        .account
        .map(|a| format!(" as {a}"))
        .unwrap_or_default();
    let until = signed_in
        .expires_at
        .map(|t| format!(" until {}", t.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    println!("Signed in to {name}{who}{until}.");
    Ok(ExitCode::SUCCESS)
}

/// One connection's sign-in state, as `ferry auth status --json` prints it. Never a token.
#[derive(Debug, Clone, Serialize)]
pub struct AuthStatus {
    pub connection: String,
    pub url: String,
    pub flow: String,
    pub signed_in: bool,
    pub account: Option<String>,
    /// When the stored refresh token expires, when the provider said.
    pub expires_at: Option<DateTime<FixedOffset>>,
    /// When the last access token expires.
    pub access_expires_at: Option<DateTime<FixedOffset>>,
    pub client_secret_stored: bool,
}

/// The sign-in state of every stored connection (or of `name`).
pub async fn status(
    db: &DatabaseConnection,
    credentials: &Credentials,
    name: Option<&str>,
) -> anyhow::Result<Vec<AuthStatus>> {
    let rows = connection::Entity::find()
        .order_by_asc(connection::Column::Name)
        .all(db)
        .await?;
    let stored = credentials.status(name).await?;
    let mut out = Vec::new();
    for row in rows
        .into_iter()
        .filter(|r| name.is_none_or(|n| n == r.name))
    {
        let def = load_connection(db, &row.name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("connection {:?} vanished", row.name))?;
        let sign_in = stored
            .iter()
            .find(|s| s.connection == row.name && s.kind == "refresh_token");
        out.push(AuthStatus {
            flow: match def.auth.flow {
                AuthFlow::ClientCredentials => "client_credentials",
                AuthFlow::DeviceCode => "device_code",
                AuthFlow::None => "none",
            }
            .into(),
            url: def.url,
            signed_in: sign_in.is_some(),
            account: sign_in.and_then(|s| s.account.clone()),
            expires_at: sign_in.and_then(|s| s.expires_at),
            access_expires_at: sign_in.and_then(|s| s.access_expires_at),
            client_secret_stored: stored
                .iter()
                .any(|s| s.connection == row.name && s.kind == "client_secret"),
            connection: row.name,
        });
    }
    if let Some(name) = name
        && out.is_empty()
    {
        anyhow::bail!("no connection named {name:?} is stored");
    }
    Ok(out)
}

pub(super) async fn status_command(
    settings: &Settings,
    name: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let credentials = Credentials::new(db.clone(), &settings.secrets)?;
    let statuses = status(&db, &credentials, name).await?;
    if json {
        println!("{}", serde_json::to_string(&statuses)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<20} {:<19} {:<28} {:<20} URL",
        "CONNECTION", "FLOW", "SIGNED IN AS", "UNTIL"
    );
    for s in statuses {
        let who = match (&s.flow[..], s.signed_in) {
            ("device_code", true) => s.account.clone().unwrap_or_else(|| "(signed in)".into()),
            ("device_code", false) => "not signed in".into(),
            ("client_credentials", _) if s.client_secret_stored => "app (stored secret)".into(),
            ("client_credentials", _) => "app (secret from env)".into(),
            _ => "-".into(),
        };
        let until = s
            .expires_at
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| {
                if s.signed_in {
                    "until revoked".into()
                } else {
                    "-".into()
                }
            });
        println!(
            "{:<20} {:<19} {:<28} {:<20} {}",
            s.connection, s.flow, who, until, s.url
        );
    }
    Ok(ExitCode::SUCCESS)
}
