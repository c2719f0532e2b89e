//! Background jobs that carry their tenant: each queued job records a tenant
//! id; the worker looks the tenant up again when the job runs
//! (`TenantLifecycle::run_for`), so the job of a tenant deleted or
//! deactivated in the meantime fails with a typed error instead of touching
//! another tenant's data or a dropped database. Embedded SQLite, no server:
//! `cargo run -p tenancy-examples --bin jobs`. See README.md.

use std::collections::VecDeque;
use std::path::PathBuf;

use serde::Deserialize;
use tenancy_core::{BoxError, TenancyError, TenantId};
use tenancy_sqlx::database::{PoolConfig, SqliteDatabases};
use tenancy_sqlx::{
    AnyRegistry, DatabaseManager, NewTenant, TenantAccess, TenantLifecycle, TenantMigrations,
    TenantPools,
};

/// A queued job, as a queue would store it (JSON): the tenant it was queued
/// for, and what to do. `TenantId` validates the id when the job is read.
#[derive(Debug, Deserialize)]
struct Job {
    tenant: TenantId,
    note: String,
}

/// The queue, as stored: one JSON document per job.
const QUEUED: [&str; 5] = [
    r#"{"tenant": "acme", "note": "welcome"}"#,
    r#"{"tenant": "globex", "note": "invoice"}"#,
    r#"{"tenant": "initech", "note": "report"}"#,
    r#"{"tenant": "acme", "note": "reminder"}"#,
    r#"{"tenant": "../acme", "note": "forged"}"#,
];

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tenancy_examples::init_tracing();
    // A directory of its own: the registry and one database file per tenant.
    let dir = match std::env::var_os("TENANCY_JOBS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("tenancy-jobs-{}", std::process::id())),
    };
    std::fs::create_dir_all(dir.join("tenants"))?;
    let result = run(&dir).await;
    if std::env::var_os("TENANCY_JOBS_DIR").is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    result
}

// Printing each job's outcome is what this program does.
#[allow(clippy::print_stdout)]
async fn run(dir: &std::path::Path) -> Result<(), BoxError> {
    let registry =
        AnyRegistry::connect(&format!("sqlite://{}", dir.join("registry.db").display())).await?;
    let migrations = TenantMigrations::from_sql([(
        1,
        "notes",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)",
    )])?;
    let pools = TenantPools::new(
        SqliteDatabases::new(dir.join("tenants"))?,
        PoolConfig::new(),
    );
    let manager = DatabaseManager::new(registry, pools, migrations);
    for id in ["acme", "globex", "initech"] {
        manager
            .create(NewTenant::new(TenantId::new(id)?, id))
            .await?;
    }

    // Jobs are queued; by the time the worker gets to them, globex has been
    // deactivated and initech deleted (its database file is gone).
    let mut queue: VecDeque<&str> = QUEUED.into_iter().collect();
    manager.deactivate(&TenantId::new("globex")?).await?;
    manager.delete(&TenantId::new("initech")?).await?;

    while let Some(stored) = queue.pop_front() {
        let job: Job = match serde_json::from_str(stored) {
            Ok(job) => job,
            Err(error) => {
                println!("{stored}: refused, not a valid job ({error})");
                continue;
            }
        };
        let label = format!("{} {:?}", job.tenant, job.note);
        match work(&manager, job).await {
            Ok(notes) => println!("{label}: done, the tenant has {notes} note(s)"),
            // Gone or switched off since the job was queued: drop the job
            // (or park it, or retry later: the error says which case it is).
            Err(
                error @ (TenancyError::TenantNotFound { .. } | TenancyError::TenantInactive { .. }),
            ) => {
                println!("{label}: skipped, {}", error.kind());
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// Runs one job in its tenant's scope: adds its note to the tenant's own
/// database, which `open_current` opens from the scope, and counts them.
async fn work(manager: &DatabaseManager<SqliteDatabases>, job: Job) -> Result<i64, TenancyError> {
    let pools = manager.pools().clone();
    manager
        .run_for(&job.tenant, move |_tenant| async move {
            let mut conn = pools.open_current().await?;
            sqlx::query("INSERT INTO notes (body) VALUES (?)")
                .bind(&job.note)
                .execute(&mut *conn)
                .await
                .map_err(TenancyError::storage)?;
            sqlx::query_scalar("SELECT count(*) FROM notes")
                .fetch_one(&mut *conn)
                .await
                .map_err(TenancyError::storage)
        })
        .await
}
