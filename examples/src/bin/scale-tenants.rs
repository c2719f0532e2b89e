//! Creates and migrates many tenants of the items app through the library,
//! for the scale benchmark (`bench/scale.sh`).
//!
//! It builds the manager the items app builds for a PostgreSQL isolation
//! mode — a [`PgRegistry`] in the app's database with the app's tenant
//! migrations ([`items::backends::migrations`]) under a [`SchemaManager`]
//! (schema mode) or an [`RlsManager`] (shared mode, row-level security) — so
//! that an items app started afterwards on the same database serves the
//! tenants it made. Then:
//!
//! - `create --tenants N [--start S] [--width W] [--concurrency C]
//!   [--with-note-column]` creates tenants `t{S}` … `t{S+N-1}`, numbers
//!   zero-padded to `W` digits (`t00001` with the default width 5), at most
//!   `C` at once, and prints the creation rate (with `--with-note-column`,
//!   under the migrations `migrate-all` applies);
//! - `migrate-all [--concurrency C]` migrates every tenant to the app's
//!   migrations plus one more (`ALTER TABLE items ADD COLUMN note text`), as
//!   a release adding a nullable column would, and prints the wall time, the
//!   tenants migrated and the failures.
//!
//! Each prints one `key=value` result line on stdout (the benchmark parses
//! it), progress on stderr, and exits with a failure when any tenant failed.
//!
//! ```text
//! TENANCY_DATABASE_URL=postgres://postgres@127.0.0.1/bench TENANCY_ISOLATION=schema \
//!     scale-tenants create --tenants 10000 --concurrency 8
//! TENANCY_DATABASE_URL=postgres://postgres@127.0.0.1/bench TENANCY_ISOLATION=schema \
//!     scale-tenants migrate-all
//! ```

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use futures_util::StreamExt;
use sqlx::migrate::{Migration, MigrationType};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, SqlSafeStr};
use tenancy_core::{BoxError, TenancyError, TenantId};
use tenancy_examples::items::backends::migrations;
use tenancy_examples::items::{self, Backend};
use tenancy_sqlx::shared::rls::RlsManager;
use tenancy_sqlx::{
    Ident, MigrateOptions, MigrationReport, NewTenant, PgRegistry, RegistryConfig, RlsPool,
    SchemaManager, SchemaPool, TenantLifecycle, TenantMigrations,
};

/// Creates or migrates tenants of the items app in bulk (benchmarks).
#[derive(Debug, Parser)]
#[command(name = "scale-tenants", version, about)]
struct Cli {
    /// The items app's PostgreSQL database (it must exist).
    #[arg(long, env = "TENANCY_DATABASE_URL")]
    database_url: String,
    /// The isolation mode of the app that will serve the tenants.
    #[arg(long, env = "TENANCY_ISOLATION", value_enum, default_value = "schema")]
    isolation: Mode,
    #[command(subcommand)]
    command: Command,
}

/// The PostgreSQL isolation modes with a manager of their own here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// A schema per tenant.
    Schema,
    /// Shared tables under row-level security.
    Shared,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates tenants t{start} … t{start+tenants-1}.
    Create {
        /// How many tenants.
        #[arg(long)]
        tenants: usize,
        /// The number of the first tenant.
        #[arg(long, default_value_t = 1)]
        start: usize,
        /// Digits of the zero-padded tenant number (`t00001` for 5).
        #[arg(long, default_value_t = 5)]
        width: usize,
        /// Creations at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Creates them with the migrations `migrate-all` applies (the
        /// next release's), as after that release.
        #[arg(long)]
        with_note_column: bool,
    },
    /// Migrates every tenant to the app's migrations plus a nullable column.
    MigrateAll {
        /// Tenants migrated at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tenancy_examples::init_tracing();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            let error: &(dyn std::error::Error + 'static) = &*error;
            tracing::error!(error, "scale-tenants failed");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; `Ok(false)` when some tenant failed.
async fn run(cli: Cli) -> Result<bool, BoxError> {
    let concurrency = match cli.command {
        Command::Create { concurrency, .. } | Command::MigrateAll { concurrency } => {
            concurrency.max(1)
        }
    };
    let extra_migration = match cli.command {
        Command::Create {
            with_note_column, ..
        } => with_note_column,
        Command::MigrateAll { .. } => true,
    };
    let manager = manager(&cli, concurrency, extra_migration).await?;
    match cli.command {
        Command::Create {
            tenants,
            start,
            width,
            ..
        } => create(manager.as_ref(), tenants, start, width, concurrency).await,
        Command::MigrateAll { .. } => migrate_all(manager.as_ref(), concurrency).await,
    }
}

/// The manager the items app builds for the mode, on a pool with room for
/// `concurrency` operations at once; with the extra migration when asked.
async fn manager(
    cli: &Cli,
    concurrency: usize,
    extra_migration: bool,
) -> Result<Box<dyn TenantLifecycle>, BoxError> {
    let options: PgConnectOptions = cli.database_url.parse()?;
    let size = u32::try_from(concurrency.saturating_add(2)).unwrap_or(u32::MAX);
    let pool = PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(options)
        .await?;
    let registry = PgRegistry::connect(pool, RegistryConfig::default()).await?;
    let isolation = match cli.isolation {
        Mode::Schema => items::Isolation::Schema,
        Mode::Shared => items::Isolation::Shared,
    };
    let mut migrations = migrations(Backend::Postgres, isolation)?;
    if extra_migration {
        migrations = with_note_column(&migrations)?;
    }
    Ok(match cli.isolation {
        Mode::Schema => {
            let schemas = SchemaPool::for_registry(&registry);
            Box::new(SchemaManager::new(registry, schemas, migrations))
        }
        Mode::Shared => {
            let rls = RlsPool::new(registry.connections().clone()).tables([Ident::new("items")?]);
            let manager = RlsManager::new(registry, rls, migrations);
            // As the app does at start-up: role, migrations, protection, audit.
            manager.setup().await?;
            Box::new(manager)
        }
    })
}

/// `migrations` and the next release's: a nullable column on `items`.
fn with_note_column(migrations: &TenantMigrations) -> Result<TenantMigrations, TenancyError> {
    let next = migrations.latest().unwrap_or(0).saturating_add(1);
    let note = Migration::new(
        next,
        "items note".into(),
        MigrationType::Simple,
        AssertSqlSafe("ALTER TABLE items ADD COLUMN note text").into_sql_str(),
        false,
    );
    TenantMigrations::from_migrations(migrations.iter().cloned().chain([note]))
}

/// Creates the tenants, `concurrency` at once; prints the rate.
async fn create(
    manager: &dyn TenantLifecycle,
    tenants: usize,
    start: usize,
    width: usize,
    concurrency: usize,
) -> Result<bool, BoxError> {
    let ids = (start..start.saturating_add(tenants))
        .map(|n| TenantId::new(format!("t{n:0width$}")))
        .collect::<Result<Vec<_>, _>>()?;
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let started = Instant::now();
    futures_util::stream::iter(ids)
        .map(|id| {
            let new = NewTenant::new(id.clone(), format!("Tenant {id}"));
            let done = &done;
            let failed = &failed;
            async move {
                if let Err(error) = manager.create(new).await {
                    // The first few failures in full; the count at the end.
                    if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                        progress(format_args!("creating {id} failed: {error}"));
                    }
                }
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if finished.is_multiple_of(1000) {
                    let rate = rate(finished, started.elapsed());
                    progress(format_args!(
                        "{finished}/{tenants} tenants ({rate:.1}/s so far)"
                    ));
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect::<()>()
        .await;
    let elapsed = started.elapsed();
    let failed = failed.into_inner();
    result(format_args!(
        "created={} failed={failed} seconds={:.3} per_second={:.1} concurrency={concurrency}",
        tenants.saturating_sub(failed),
        elapsed.as_secs_f64(),
        rate(tenants.saturating_sub(failed), elapsed),
    ))?;
    Ok(failed == 0)
}

/// Migrates every tenant; prints the wall time, the counts and the first failures.
async fn migrate_all(manager: &dyn TenantLifecycle, concurrency: usize) -> Result<bool, BoxError> {
    let started = Instant::now();
    let report: MigrationReport = manager
        .migrate_all(
            MigrateOptions::new()
                .concurrency(concurrency)
                .on_progress(|step| {
                    if step.done.is_multiple_of(1000) {
                        progress(format_args!(
                            "{}/{} tenants migrated",
                            step.done, step.total
                        ));
                    }
                }),
        )
        .await?;
    let elapsed = started.elapsed();
    for failure in report.failed().take(5) {
        progress(format_args!(
            "migrating {} failed: {:?}",
            failure.id, failure.status
        ));
    }
    let failed = report.failed().count();
    result(format_args!(
        "tenants={} migrated={} up_to_date={} failed={failed} seconds={:.3} per_second={:.1} concurrency={concurrency}",
        report.tenants.len(),
        report.migrated().count(),
        report.up_to_date().count(),
        elapsed.as_secs_f64(),
        rate(report.tenants.len(), elapsed),
    ))?;
    Ok(failed == 0)
}

/// `count` per second of `elapsed`.
fn rate(count: usize, elapsed: Duration) -> f64 {
    // Counts stay far below 2^52: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let count = count as f64;
    count / elapsed.as_secs_f64().max(f64::EPSILON)
}

/// A progress line on stderr (best effort).
fn progress(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The result line on stdout.
fn result(line: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}
