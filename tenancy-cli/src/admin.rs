//! [`Admin`]: runs the admin commands against one tenant lifecycle.

use std::fmt;
use std::process::ExitCode;
use std::sync::Arc;

use tenancy_core::TenancyError;
use tenancy_sqlx::TenantLifecycle;

use crate::args::{TenancyArgs, TenancyCommand};
use crate::fleet::{self, Fleet};
use crate::output::Output;
use crate::spares::{self, Spares};
use crate::{migrate, status, tenants};

/// How a command ended, and the process exit status it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Everything asked was done: exit status 0.
    Done,
    /// The command, or at least one tenant of it, failed: exit status 1.
    Failed,
    /// The command line asks for something it must not do as it stands
    /// (e.g. `delete` without `--yes`): exit status 2, as for clap's usage
    /// errors.
    Usage,
    /// Stopped by Ctrl-C between tenants: exit status 130 (as a shell
    /// reports an interrupted command). Running it again resumes.
    Interrupted,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Done => ExitCode::SUCCESS,
            Outcome::Failed => ExitCode::from(1),
            Outcome::Usage => ExitCode::from(2),
            Outcome::Interrupted => ExitCode::from(130),
        }
    }
}

/// Runs [`TenancyArgs`] against a tenant lifecycle: any isolation mode's
/// manager, on any backend, with your compiled migrations.
///
/// ```no_run
/// use std::process::ExitCode;
/// use std::sync::Arc;
/// use clap::Parser;
/// use tenancy_cli::{Admin, TenancyArgs};
/// use tenancy_sqlx::database::{DatabaseManager, PoolConfig, SqliteDatabases, TenantPools};
/// use tenancy_sqlx::{AnyRegistry, TenantMigrations};
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     tenancy: TenancyArgs,
/// }
///
/// # async fn example() -> Result<ExitCode, Box<dyn std::error::Error>> {
/// let cli = Cli::parse();
/// let registry = AnyRegistry::connect("sqlite://./data/registry.db").await?;
/// let migrations = TenantMigrations::from_sql([(1, "items", "CREATE TABLE items (id INTEGER PRIMARY KEY)")])?;
/// let pools = TenantPools::new(SqliteDatabases::new("./data/tenants")?, PoolConfig::new());
/// let manager = DatabaseManager::new(registry, pools, migrations);
/// Ok(Admin::new(Arc::new(manager)).run(&cli.tenancy).await.into())
/// # }
/// ```
#[derive(Clone)]
pub struct Admin {
    lifecycle: Arc<dyn TenantLifecycle>,
    spares: Option<Arc<dyn Spares>>,
    fleet: Option<Arc<dyn Fleet>>,
}

impl Admin {
    /// Commands against `lifecycle` (a `SchemaManager`, `DatabaseManager`, …).
    pub fn new(lifecycle: Arc<dyn TenantLifecycle>) -> Self {
        Self {
            lifecycle,
            spares: None,
            fleet: None,
        }
    }

    /// Database mode: `servers`, `tenants move` and placement on
    /// `tenants create` use this manager's servers (pass the
    /// `DatabaseManager` given to [`new`](Self::new) again).
    #[must_use]
    pub fn with_fleet(mut self, fleet: Arc<dyn Fleet>) -> Self {
        self.fleet = Some(fleet);
        self
    }

    /// Schema mode: `spares` manages this manager's spare schemas (pass the
    /// `SchemaManager` given to [`new`](Self::new) again).
    #[must_use]
    pub fn with_spares(mut self, spares: Arc<dyn Spares>) -> Self {
        self.spares = Some(spares);
        self
    }

    /// The lifecycle the commands drive.
    pub fn lifecycle(&self) -> &dyn TenantLifecycle {
        self.lifecycle.as_ref()
    }

    /// Runs one command. Results go to stdout (a JSON document with
    /// `--json`); errors, and on a terminal `migrate`'s progress bar, to
    /// stderr. The [`Outcome`] is the exit status.
    ///
    /// `migrate` handles Ctrl-C itself while it runs (the first stops the
    /// run between tenants, a second ends the process with status 130), and
    /// Tokio keeps SIGINT from its default action for the rest of the
    /// process: a long-running binary that mounts these commands should
    /// exit after running one.
    pub async fn run(&self, args: &TenancyArgs) -> Outcome {
        let output = Output { json: args.json };
        let result = match &args.command {
            TenancyCommand::Tenants(command) => {
                tenants::run_tenants(self.lifecycle(), self.fleet.as_deref(), command, output).await
            }
            TenancyCommand::Domains(command) => {
                tenants::run_domains(self.lifecycle(), command, output).await
            }
            TenancyCommand::Migrate(command) => {
                migrate::run(self.lifecycle(), command, output).await
            }
            TenancyCommand::Status(select) => {
                status::run_status(self.lifecycle(), select, output).await
            }
            TenancyCommand::Audit => status::run_audit(self.lifecycle(), output).await,
            TenancyCommand::Spares(args) => spares::run(self.spares.as_deref(), args, output).await,
            TenancyCommand::Servers => fleet::run_servers(self.fleet.as_deref(), output).await,
        };
        result.unwrap_or_else(|error| {
            report_error(&error);
            match error {
                CommandError::Usage(_) => Outcome::Usage,
                _ => Outcome::Failed,
            }
        })
    }
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}

/// A command's failure: a lifecycle error, bad input, or stdout gone.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommandError {
    /// The lifecycle refused or failed.
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    /// Input the command cannot use.
    #[error("{0}")]
    Usage(String),
    /// `--tenant` named tenants the registry does not have.
    #[error("no such tenant: {0}")]
    NoSuchTenants(String),
    /// Writing the report failed.
    #[error("writing the report failed: {0}")]
    Output(#[from] std::io::Error),
}

/// Prints `error: …` with its causes on one line on stderr, as the
/// commands report theirs (for a binary's own start-up errors).
pub fn report_error(error: &dyn std::error::Error) {
    use std::io::Write as _;
    let _ignored = writeln!(std::io::stderr().lock(), "error: {}", chain(error));
}

/// An error and its causes on one line, `: `-separated; a cause whose text
/// the line already holds (sqlx repeats the database's message) is left out.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
