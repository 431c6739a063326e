//! `ferry integrations` (each integration's version, connection, schedule and next tick, standing and
//! last run) and `ferry show NAME [--version N]` (a stored version as the TOML `apply` takes).

use std::process::ExitCode;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Utc};
use ferry_shared::definitions::lifecycle::{self, State};
use ferry_shared::definitions::{self, IntegrationDef};
use ferry_shared::runs;
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::storage::entities::integration;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

/// One integration as `ferry integrations` and `GET /api/v1/integrations` show it.
#[derive(Debug, Clone, Serialize)]
pub struct IntegrationSummary {
    pub name: String,
    pub version: i32,
    pub connection: String,
    pub schedule: Option<String>,
    /// The next cron tick, when it is scheduled and enabled.
    pub next_run: Option<DateTime<Utc>>,
    /// `enabled` or `disabled` (deleted integrations are not listed).
    pub state: State,
    pub enabled: bool,
    pub state_changed_at: Option<DateTime<FixedOffset>>,
    pub state_changed_by: Option<String>,
    pub last_run: Option<LastRun>,
}

/// The integration's latest run.
#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    pub run_id: i64,
    pub status: String,
    /// When it last moved: finished, or started, or was queued.
    pub at: DateTime<FixedOffset>,
    pub age_secs: i64,
}

/// Every integration not deleted, in name order.
pub async fn list(db: &DatabaseConnection) -> anyhow::Result<Vec<IntegrationSummary>> {
    let mut listed = Vec::new();
    for def in definitions::stored_integrations(db).await? {
        if let Some(summary) = summary(db, &def.name).await? {
            listed.push(summary);
        }
    }
    Ok(listed)
}

/// Integration `name` as listed; `None` when it was never applied or was deleted.
pub async fn summary(
    db: &DatabaseConnection,
    name: &str,
) -> anyhow::Result<Option<IntegrationSummary>> {
    let Some((version, def)) = definitions::latest_integration(db, name).await? else {
        return Ok(None);
    };
    let standing = lifecycle::standing(db, name).await?;
    if standing.state == State::Deleted {
        return Ok(None);
    }
    let now = Utc::now();
    let enabled = standing.state == State::Enabled;
    let next_run = def
        .schedule
        .as_deref()
        .filter(|_| enabled)
        .and_then(|s| cron::Schedule::from_str(s).ok())
        .and_then(|s| s.after(&now).next());
    let last_run = runs::list(db, Some(name), 1)
        .await?
        .into_iter()
        .next()
        .map(|run| {
            let at = run.finished_at.or(run.started_at).unwrap_or(run.queued_at);
            LastRun {
                run_id: run.id,
                status: run.state,
                at,
                age_secs: (now - at.with_timezone(&Utc)).num_seconds().max(0),
            }
        });
    Ok(Some(IntegrationSummary {
        name: def.name.clone(),
        version,
        connection: def.connection.clone(),
        schedule: def.schedule.clone(),
        next_run,
        state: standing.state,
        enabled,
        state_changed_at: standing.changed_at,
        state_changed_by: standing.changed_by,
        last_run,
    }))
}

/// A stored version of integration `name` (the latest without `version`), deleted or not.
pub async fn stored(
    db: &DatabaseConnection,
    name: &str,
    version: Option<i32>,
) -> anyhow::Result<Option<(i32, IntegrationDef)>> {
    let mut query = integration::Entity::find()
        .filter(integration::Column::Name.eq(name))
        .order_by_desc(integration::Column::Version);
    if let Some(version) = version {
        query = query.filter(integration::Column::Version.eq(version));
    }
    let Some(row) = query.one(db).await? else {
        return Ok(None);
    };
    Ok(Some((row.version, serde_json::from_str(&row.definition)?)))
}

/// A definition as a TOML file `ferry apply` takes, and stores as exactly this definition.
pub fn to_toml(def: &IntegrationDef) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct File<'a> {
        integration: [&'a IntegrationDef; 1],
    }
    Ok(toml::to_string(&File { integration: [def] })?)
}

/// "5s", "3m", "2h", "4d".
fn age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7_200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

pub(super) async fn list_command(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let listed = list(&db).await?;
    if json {
        println!("{}", serde_json::to_string(&listed)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:>7}  {:<16} {:<18} {:<20} {:<8} {:<12} {:>6}",
        "NAME", "VERSION", "CONNECTION", "SCHEDULE", "NEXT", "ENABLED", "LAST RUN", "AGE"
    );
    for s in &listed {
        let (last, ago) = match &s.last_run {
            Some(run) => (run.status.clone(), age(run.age_secs)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<24} {:>7}  {:<16} {:<18} {:<20} {:<8} {:<12} {:>6}",
            s.name,
            s.version,
            s.connection,
            s.schedule.as_deref().unwrap_or("-"),
            s.next_run
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into()),
            if s.enabled { "yes" } else { "no" },
            last,
            ago
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn show_command(
    settings: &Settings,
    name: &str,
    version: Option<i32>,
) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let Some((shown, def)) = stored(&db, name, version).await? else {
        match version {
            Some(v) => eprintln!("error: integration {name:?} has no version {v}"),
            None => eprintln!("error: no integration named {name:?} has been applied"),
        }
        return Ok(ExitCode::FAILURE);
    };
    print!("{}", to_toml(&def)?);
    let standing = lifecycle::standing(&db, name).await?;
    eprintln!("# {name} version {shown}, {}", standing.state);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `show` prints what `apply` would store: the printed TOML loads back into the same definition.
    #[test]
    fn shown_toml_applies_as_the_same_definition() {
        let text = r#"
[[connection]]
name = "bc"
kind = "business_central"
url = "http://127.0.0.1:1/api"
company = "CRONUS"
[connection.auth]
flow = "client_credentials"
authority = "http://127.0.0.1:1"
tenant = "t"
client_id = "ferry"
client_secret_env = "SECRET"
scope = "s"

[[integration]]
name = "customers"
connection = "bc"
schedule = "0 */5 * * * *"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber", filter = "City eq 'Oslo'" }
target = { table = "customer", key = ["bc_no"], create = true }
fields = [
  { from = "No", to = "bc_no" },
  { from = "Email", to = "email", transform = "lower" },
  { to = "origin", value = "bc" },
]
"#;
        let dir = std::env::temp_dir().join(format!("ferry-show-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.toml");
        std::fs::write(&file, text).unwrap();
        let set = definitions::load_files(std::slice::from_ref(&file), &[]).unwrap();
        let def = &set.integrations[0].1;
        let shown = to_toml(def).unwrap();
        let connection = text.split("[[integration]]").next().unwrap();
        std::fs::write(&file, format!("{connection}\n{shown}")).unwrap();
        let again = definitions::load_files(std::slice::from_ref(&file), &[]).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            serde_json::to_string(&again.integrations[0].1).unwrap(),
            serde_json::to_string(def).unwrap(),
            "{shown}"
        );
    }
}
