//! The tenancy-rs admin command line: tenants, domains and migrations for
//! every isolation mode and backend, from the shell.
//!
//! Two forms, one code base:
//!
//! - **Mounted in your binary** ([`TenancyArgs`] + [`Admin`]): a subcommand
//!   of your own app, which knows your compiled tenant migrations and
//!   manager (the `manage.py` / `artisan` pattern).
//! - **Standalone**, the `tenancy` binary ([`ConnectArgs`]): a registry URL,
//!   an isolation mode and a migrations folder in sqlx's layout.
//!
//! ```text
//! $ tenancy --isolation schema --migrations ./tenant-migrations tenants create acme --domain acme.example.com
//! $ tenancy --isolation schema --migrations ./tenant-migrations migrate --concurrency 8
//! ```
//!
//! Commands: `tenants list | show | create | clone | rename | activate |
//! deactivate | delete`, `domains add | remove`, `migrate` (every tenant or those
//! `--tenant`/`--pattern` select, `--concurrency N`; tenants already up to
//! date are skipped, so a run stopped by a failure or Ctrl-C resumes when
//! run again), `status` (each tenant's applied version, pending migrations
//! and drift), `audit` (the mode's safety checks and migration drift),
//! `spares` (schema mode's spare schemas, [`Spares`]), `servers` and
//! `tenants move` (database mode across servers, [`Fleet`]). A progress bar with rate and ETA on a terminal, one line
//! per tenant otherwise; `--json` prints one JSON document; the exit
//! status is non-zero when anything failed ([`Outcome`]).

mod admin;
mod args;
mod connect;
mod fleet;
mod migrate;
mod output;
mod select;
mod spares;
mod status;
mod tenants;

pub use admin::report_error;
pub use admin::{Admin, Outcome};
pub use args::{
    DomainsCommand, MigrateArgs, SparesArgs, TenancyArgs, TenancyCommand, TenantSelection,
    TenantsCommand,
};
pub use connect::{ConnectArgs, Isolation};
pub use fleet::Fleet;
pub use spares::Spares;

/// The README's examples, compiled as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
