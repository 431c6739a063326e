//! `ferry conflicts [NAME] [--json]`: records changed on both sides that a two-way integration with
//! `conflict = "manual"` holds, with both versions; `ferry conflicts resolve ID --keep local|remote`
//! keeps one side.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use ferry_shared::conflicts::{self, Keep, ResolveError, Stored};
use ferry_shared::settings::Settings;
use ferry_shared::storage;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ConflictsArgs {
    #[command(subcommand)]
    pub resolve: Option<ConflictCommand>,
    /// Only conflicts of this integration.
    pub integration: Option<String>,
    /// One JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConflictCommand {
    /// Keep one side of a conflict: `local` is sent by the next run, `remote` is written locally now.
    Resolve {
        id: i64,
        #[arg(long, value_enum)]
        keep: Side,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Side {
    Local,
    Remote,
}

pub(super) async fn command(settings: &Settings, args: ConflictsArgs) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    if let Some(ConflictCommand::Resolve { id, keep }) = args.resolve {
        let keep = match keep {
            Side::Local => Keep::Local,
            Side::Remote => Keep::Remote,
        };
        return match conflicts::resolve(&db, id, keep).await {
            Ok(conflict) => {
                match keep {
                    Keep::Local => println!(
                        "conflict {id} ({}): the local version goes with the next run of {}",
                        conflict.remote_key, conflict.integration
                    ),
                    Keep::Remote => println!(
                        "conflict {id} ({}): the remote version is written locally",
                        conflict.remote_key
                    ),
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(
                e @ (ResolveError::Unknown(_)
                | ResolveError::Resolved(_)
                | ResolveError::Cannot { .. }),
            ) => {
                eprintln!("error: {e}");
                Ok(ExitCode::FAILURE)
            }
            Err(e) => Err(e.into()),
        };
    }
    let open = conflicts::open(&db, args.integration.as_deref()).await?;
    if args.json {
        println!("{}", serde_json::to_string(&open)?);
    } else {
        print(&open);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(open: &[Stored]) {
    if open.is_empty() {
        println!("no open conflicts");
        return;
    }
    println!(
        "{:<6} {:<20} {:<16} {:<7} DIFFERS",
        "ID", "INTEGRATION", "RECORD", "KIND"
    );
    for c in open {
        println!(
            "{:<6} {:<20} {:<16} {:<7} {}",
            c.id,
            c.integration,
            c.remote_key,
            c.kind,
            differs(c)
        );
    }
}

/// The columns whose values differ between the two versions, as `column: local → remote`.
fn differs(c: &Stored) -> String {
    let (Some(local), Some(remote)) = (
        c.local.as_ref().and_then(|v| v.as_object()),
        c.remote.as_ref().and_then(|v| v.as_object()),
    ) else {
        return if c.local.is_none() {
            "deleted locally".into()
        } else {
            "deleted remotely".into()
        };
    };
    let changed: Vec<String> = remote
        .iter()
        .filter(|(column, value)| local.get(*column).is_some_and(|l| l != *value))
        .map(|(column, value)| format!("{column}: {} → {value}", local[column]))
        .collect();
    changed.join("; ")
}
