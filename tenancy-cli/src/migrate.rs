//! `migrate`: every selected tenant, concurrently, with a progress bar on a
//! terminal (one line per tenant otherwise), stopping cleanly between
//! tenants on Ctrl-C.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tenancy_sqlx::migrate::{MigrationProgress, MigrationStatus, TenantOutcome};
use tenancy_sqlx::{MigrateOptions, MigrationReport, TenantLifecycle};

use crate::admin::{CommandError, Outcome, chain};
use crate::args::MigrateArgs;
use crate::output::Output;

/// Runs `migrate`.
pub(crate) async fn run(
    lifecycle: &dyn TenantLifecycle,
    args: &MigrateArgs,
    output: Output,
) -> Result<Outcome, CommandError> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_interrupts(Arc::clone(&interrupted)));
    let progress = Progress::new(output);
    let flag = Arc::clone(&interrupted);
    let reporter = progress.clone();
    let mut options = MigrateOptions::new()
        .filter(args.select.filter()?)
        .on_progress(move |step| reporter.step(step))
        .stop_when(move || flag.load(Ordering::SeqCst));
    if let Some(concurrency) = args.concurrency {
        options = options.concurrency(usize::from(concurrency));
    }
    let report = lifecycle.migrate_all(options).await;
    watcher.abort();
    progress.finish();
    let report = report?;
    output.report(&report.to_string(), &report_json(&report))?;
    // Every selected tenant is reported, stopped ones too.
    args.select
        .require_found(report.tenants.iter().map(|tenant| &tenant.id))?;
    // A failure outranks the interruption: both leave work to do, but a
    // failed tenant needs a fix before the next run.
    Ok(if report.failed().next().is_some() {
        Outcome::Failed
    } else if report.stopped().next().is_some() {
        Outcome::Interrupted
    } else {
        Outcome::Done
    })
}

/// Sets `interrupted` on the first Ctrl-C (the run stops between tenants);
/// a second one ends the process at once.
async fn watch_interrupts(interrupted: Arc<AtomicBool>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    interrupted.store(true, Ordering::SeqCst);
    let _ignored = writeln!(
        io::stderr().lock(),
        "interrupted: finishing the tenants under way (Ctrl-C again to abort them); run migrate again to resume"
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        #[allow(clippy::exit, reason = "a second Ctrl-C aborts, as users expect")]
        std::process::exit(130);
    }
}

/// Per-tenant progress: a bar with rate and ETA on a terminal, else one
/// plain line per tenant; nothing with `--json`.
#[derive(Clone)]
struct Progress {
    output: Output,
    bar: Option<Arc<Mutex<Option<ProgressBar>>>>,
}

impl Progress {
    fn new(output: Output) -> Self {
        let bar = (!output.json && io::stderr().is_terminal()).then(|| Arc::new(Mutex::new(None)));
        Self { output, bar }
    }

    fn step(&self, step: &MigrationProgress<'_>) {
        let line = tenant_line(step.tenant);
        let Some(bar) = &self.bar else {
            let _ignored = self.output.line(&line);
            return;
        };
        let mut bar = bar.lock().unwrap_or_else(PoisonError::into_inner);
        let bar = bar.get_or_insert_with(|| new_bar(step.total));
        bar.set_position(step.done as u64);
        if step.tenant.is_failed() {
            bar.println(line);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar
            && let Some(bar) = bar.lock().unwrap_or_else(PoisonError::into_inner).take()
        {
            bar.finish_and_clear();
        }
    }
}

fn new_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    let style = ProgressStyle::with_template(
        "{bar:40} {pos}/{len} tenants  {per_sec:.1}  ETA {eta}  {elapsed_precise}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// `acme: migrated 2, 3 (12 ms)`, `acme: up to date`, `acme: FAILED: …`.
fn tenant_line(tenant: &TenantOutcome) -> String {
    let millis = tenant.elapsed.as_millis();
    match &tenant.status {
        MigrationStatus::UpToDate => format!("{}: up to date ({millis} ms)", tenant.id),
        MigrationStatus::Migrated { versions } => {
            let versions: Vec<String> = versions.iter().map(i64::to_string).collect();
            format!(
                "{}: migrated {} ({millis} ms)",
                tenant.id,
                versions.join(", ")
            )
        }
        MigrationStatus::Failed(error) => format!("{}: FAILED: {}", tenant.id, chain(error)),
        MigrationStatus::Stopped => format!("{}: not started (interrupted)", tenant.id),
        _ => format!("{}: {:?}", tenant.id, tenant.status),
    }
}

/// The report as JSON: counts, then one entry per tenant.
fn report_json(report: &MigrationReport) -> Value {
    let tenants: Vec<Value> = report
        .tenants
        .iter()
        .map(|tenant| {
            let mut entry = serde_json::Map::new();
            entry.insert("id".into(), json!(tenant.id.as_str()));
            let status = match &tenant.status {
                MigrationStatus::UpToDate => "up_to_date",
                MigrationStatus::Migrated { versions } => {
                    entry.insert("versions".into(), json!(versions));
                    "migrated"
                }
                MigrationStatus::Failed(error) => {
                    entry.insert("error".into(), json!(chain(error)));
                    "failed"
                }
                MigrationStatus::Stopped => "stopped",
                _ => "unknown",
            };
            entry.insert("status".into(), json!(status));
            entry.insert("elapsed_ms".into(), json!(tenant.elapsed.as_millis()));
            Value::Object(entry)
        })
        .collect();
    json!({
        "migrated": report.migrated().count(),
        "up_to_date": report.up_to_date().count(),
        "failed": report.failed().count(),
        "stopped": report.stopped().count(),
        "skipped": report.skipped,
        "elapsed_ms": report.elapsed.as_millis(),
        "tenants": tenants,
    })
}
