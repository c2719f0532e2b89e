//! The command line, as clap types: [`TenancyArgs`] is what you mount in
//! your own binary; the standalone `tenancy` adds its connection options.

use clap::{Args, Subcommand};

/// The tenancy admin commands, with the output option shared by all of them.
///
/// Mount it as a subcommand of your own binary, which then knows your
/// compiled migrations (the `manage.py` / `artisan` pattern):
///
/// ```
/// use clap::{Parser, Subcommand};
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(subcommand)]
///     command: Command,
/// }
///
/// #[derive(Subcommand)]
/// enum Command {
///     /// Serves the app.
///     Serve,
///     /// Administers tenants.
///     Tenancy(tenancy_cli::TenancyArgs),
/// }
///
/// let cli = Cli::parse_from(["app", "tenancy", "migrate", "--concurrency", "4", "--json"]);
/// assert!(matches!(cli.command, Command::Tenancy(args) if args.json));
/// ```
#[derive(Debug, Clone, Args)]
pub struct TenancyArgs {
    /// Print a machine-readable JSON report on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: TenancyCommand,
}

/// One admin command.
#[derive(Debug, Clone, Subcommand)]
#[non_exhaustive]
pub enum TenancyCommand {
    /// List, show, create, rename, activate, deactivate or delete tenants.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Add or remove a tenant's domains.
    #[command(subcommand)]
    Domains(DomainsCommand),
    /// Apply pending migrations to every tenant (or the selected ones).
    Migrate(MigrateArgs),
    /// Where each tenant stands: applied version, pending migrations, drift.
    Status(TenantSelection),
    /// Check the setup: the mode's safety audit (row-level security, tenant
    /// columns) and migration drift (histories the migrations do not explain).
    Audit,
    /// Spare schemas (Postgres schema mode): count, replenish or drop them.
    Spares(SparesArgs),
    /// Database mode: the servers and how many tenants each holds.
    Servers,
}

/// `spares`: with no option, the count.
#[derive(Debug, Clone, Args)]
#[non_exhaustive]
pub struct SparesArgs {
    /// Create spares until this many are available.
    #[arg(long, value_name = "N")]
    pub replenish: Option<u16>,
    /// Drop every spare first (e.g. before replenishing after a migration).
    #[arg(long)]
    pub drop: bool,
}

/// `tenants …`.
#[derive(Debug, Clone, Subcommand)]
#[non_exhaustive]
pub enum TenantsCommand {
    /// Every tenant, by id, as a table.
    List {
        /// Only active tenants.
        #[arg(long, conflicts_with = "inactive")]
        active: bool,
        /// Only deactivated tenants.
        #[arg(long)]
        inactive: bool,
    },
    /// One tenant: name, state, storage, domains.
    Show {
        /// The tenant id.
        id: String,
    },
    /// Create a tenant: registry row, storage and migrations, as one unit.
    Create {
        /// The new tenant's id (lowercase letters, digits and `-`).
        id: String,
        /// Display name (default: the id).
        #[arg(long)]
        name: Option<String>,
        /// A domain of the tenant; the first is its primary domain. Repeatable.
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Register it deactivated (not served until `tenants activate`).
        #[arg(long)]
        inactive: bool,
        /// Database mode: the server its database goes to.
        #[arg(long, value_name = "NAME", conflicts_with = "least_used")]
        server: Option<String>,
        /// Database mode: the server with the fewest tenants.
        #[arg(long)]
        least_used: bool,
    },
    /// Create a tenant with a copy of another's data (not its domains).
    Clone {
        /// The tenant to copy.
        from: String,
        /// The new tenant's id.
        id: String,
        /// Display name (default: the source's).
        #[arg(long)]
        name: Option<String>,
        /// A domain of the new tenant; the first is its primary domain. Repeatable.
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Register it deactivated.
        #[arg(long)]
        inactive: bool,
    },
    /// Database mode: move a tenant's database to another server (it is
    /// deactivated meanwhile; a failure leaves it served from where it was).
    Move {
        /// The tenant id.
        id: String,
        /// The server to move it to.
        #[arg(long, value_name = "NAME")]
        to: String,
        /// Seconds to wait after deactivating it, for requests already under
        /// way in other processes to finish.
        #[arg(long, value_name = "SECONDS", default_value_t = 2)]
        drain: u64,
    },
    /// Rename a tenant, keeping its data and domains.
    Rename {
        /// The current id.
        from: String,
        /// The new id.
        to: String,
    },
    /// Serve a deactivated tenant again.
    Activate {
        /// The tenant id.
        id: String,
    },
    /// Stop serving a tenant; its data is kept.
    Deactivate {
        /// The tenant id.
        id: String,
    },
    /// Delete a tenant with its storage and every row of its data.
    Delete {
        /// The tenant id.
        id: String,
        /// Confirm: the tenant's data is dropped for good.
        #[arg(long)]
        yes: bool,
    },
}

/// `domains …`.
#[derive(Debug, Clone, Subcommand)]
#[non_exhaustive]
pub enum DomainsCommand {
    /// Give a tenant a domain (refused if another tenant has it).
    Add {
        /// The tenant id.
        id: String,
        /// The domain, e.g. `shop.acme.com`.
        domain: String,
        /// Make it the tenant's primary domain.
        #[arg(long)]
        primary: bool,
    },
    /// Take a domain away from whichever tenant has it.
    Remove {
        /// The domain.
        domain: String,
    },
}

/// Which tenants a command is about (every tenant by default).
#[derive(Debug, Clone, Default, Args)]
#[non_exhaustive]
pub struct TenantSelection {
    /// Only this tenant. Repeatable.
    #[arg(long = "tenant", value_name = "ID")]
    pub tenants: Vec<String>,
    /// Only tenants whose id matches this wildcard pattern (`*`, `?`), e.g. `acme-*`.
    #[arg(long, value_name = "GLOB")]
    pub pattern: Option<String>,
}

/// `migrate`: which tenants, how many at once.
#[derive(Debug, Clone, Args)]
#[non_exhaustive]
pub struct MigrateArgs {
    /// Which tenants.
    #[command(flatten)]
    pub select: TenantSelection,
    /// How many tenants are migrated at once (default: the mode's).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: Option<u16>,
}
