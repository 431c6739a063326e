//! `ferry discover CONNECTION [ENTITY]` and `ferry discover --metadata FILE`: what a source offers.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use ferry_shared::drift::Checker;
use ferry_shared::odata::catalog::Catalog;
use ferry_shared::odata::client::http_client;
use ferry_shared::odata::csdl::Metadata;
use ferry_shared::secrets::Credentials;
use ferry_shared::settings::Settings;
use ferry_shared::storage;

/// Where the metadata comes from.
#[derive(Debug)]
pub enum From<'a> {
    Connection(&'a str),
    File(&'a Path),
}

pub(super) async fn command(
    settings: &Settings,
    from: From<'_>,
    entity: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let metadata = match from {
        From::File(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            Metadata::read_off_thread(file).await?
        }
        From::Connection(name) => {
            let db = storage::connect(&settings.database).await?;
            let checker = Checker {
                credentials: Credentials::new(db.clone(), &settings.secrets)?,
                db,
                budgets: ferry_shared::budget::Budgets::for_queue(
                    &settings.queue,
                    Default::default(),
                ),
                http: http_client(),
            };
            checker.metadata(name).await.map_err(anyhow::Error::msg)?
        }
    };
    let catalog = Catalog::new(&metadata, entity);
    if let Some(entity) = entity
        && catalog.entity_sets.is_empty()
    {
        anyhow::bail!("no entity set named {entity:?} (run without ENTITY to list them)");
    }
    let mut out = String::new();
    if json {
        writeln!(out, "{}", serde_json::to_string(&catalog)?)?;
    } else if entity.is_some() {
        for set in &catalog.entity_sets {
            writeln!(
                out,
                "{} ({}), key {}",
                set.name,
                set.entity_type,
                set.key.join(", ")
            )?;
            for p in &set.properties {
                let mut facets = Vec::new();
                if let Some(n) = p.max_length {
                    facets.push(format!("max {n}"));
                }
                if let Some(n) = p.precision {
                    facets.push(format!("precision {n}"));
                }
                if let Some(n) = p.scale {
                    facets.push(format!("scale {n}"));
                }
                if !p.nullable {
                    facets.push("not null".into());
                }
                writeln!(
                    out,
                    "  {:<32} {:<28} {}",
                    p.name,
                    p.edm_type,
                    facets.join(", ")
                )?;
            }
            for n in &set.navigation {
                let many = if n.collection { "many" } else { "one" };
                writeln!(out, "  → {:<30} {} ({many})", n.name, n.target)?;
            }
        }
    } else {
        writeln!(
            out,
            "{:<40} {:<40} {:>6}  KEY",
            "ENTITY SET", "ENTITY TYPE", "FIELDS"
        )?;
        for set in &catalog.entity_sets {
            writeln!(
                out,
                "{:<40} {:<40} {:>6}  {}",
                set.name,
                set.entity_type,
                set.properties.len(),
                set.key.join(", ")
            )?;
        }
    }
    emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the listing at once; a reader that stops early (`| head`) is not an error.
fn emit(text: &str) -> std::io::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
