//! `ferry preview NAME [--limit N] [--full] [--reconcile] [--json]`: what the next run would do, record by record,
//! without writing anything anywhere (the library function is `ferry_shared::sync::preview`).

use std::process::ExitCode;

use clap::Args as ClapArgs;
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::sync::{Op, OutboundPreview, Preview, PreviewOptions, preview};

#[derive(Debug, ClapArgs)]
pub struct PreviewArgs {
    /// The integration to preview (its newest stored version).
    pub integration: String,
    /// At most this many records.
    #[arg(long)]
    pub limit: Option<u64>,
    /// As `ferry run --full` would read: everything, not just what changed since the checkpoint.
    #[arg(long)]
    pub full: bool,
    /// List the deletes a reconcile would make, even when the integration has no `deletes` setting
    /// (with one, they are always listed).
    #[arg(long)]
    pub reconcile: bool,
    /// One JSON object: {"records":[{"op","key","changes"?,"error"?}],"summary":{…}}.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn command(settings: &Settings, args: PreviewArgs) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let credentials = ferry_shared::secrets::Credentials::new(db.clone(), &settings.secrets)?;
    let result = preview(
        &db,
        &credentials,
        &ferry_shared::budget::Budgets::for_queue(&settings.queue, Default::default()),
        ferry_shared::odata::client::http_client(),
        settings.worker.page_size,
        &args.integration,
        PreviewOptions {
            limit: args.limit,
            full: args.full,
            reconcile: args.reconcile,
            max_defer: Some(settings.lookups.max_defer()),
        },
    )
    .await?;
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        print(&result);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(preview: &Preview) {
    if let Some(outbound) = &preview.outbound {
        print_outbound(outbound);
        if preview.summary.rows_read == 0 && preview.records.is_empty() {
            return;
        }
    }
    for record in &preview.records {
        let op = serde_json::to_value(record.op).unwrap_or_default();
        let op = op.as_str().unwrap_or_default();
        println!("{op:<9} {}", record.key);
        if let Some(changes) = &record.changes {
            for (column, change) in changes {
                println!("          {column}: {} → {}", change.before, change.after);
            }
        }
        if let Some(error) = &record.error
            && record.op != Op::Insert
        {
            println!("          {error}");
        }
    }
    let s = &preview.summary;
    match &s.reads_everything_because {
        Some(why) => println!("{why}, so the run reads everything again"),
        None if s.read_from > 0 => println!(
            "read from version {} (the checkpoint less source.overlap), as the run would",
            s.read_from
        ),
        None => {}
    }
    if s.parked > 0 {
        println!(
            "{} parked record(s) replayed first, as the run would",
            s.parked
        );
    }
    println!(
        "read {}: {} insert, {} update, {} unchanged, {} delete, {} deferred, {} skipped, {} error",
        s.rows_read, s.insert, s.update, s.unchanged, s.delete, s.deferred, s.skipped, s.error
    );
    if let Some(refused) = &s.delete_refused {
        println!("deletes: {refused}");
    }
}

/// What the run would send: each record with the properties it changes, then the counts.
fn print_outbound(outbound: &OutboundPreview) {
    for record in &outbound.records {
        let op = serde_json::to_value(record.op).unwrap_or_default();
        let op = op.as_str().unwrap_or_default();
        println!("send {op:<9} {}", record.key);
        if let Some(changes) = &record.changes {
            for (property, change) in changes {
                println!(
                    "               {property}: {} → {}",
                    change.before, change.after
                );
            }
        }
        if let Some(error) = &record.error {
            println!("               {error}");
        }
    }
    let s = &outbound.summary;
    println!(
        "send {} change(s): {} create, {} update, {} delete, {} uncouple, {} conflict, {} held, {} unchanged, {} error",
        s.changes,
        s.create,
        s.update,
        s.delete,
        s.uncouple,
        s.conflict,
        s.held,
        s.unchanged,
        s.error
    );
}
