//! `items-admin`: the tenancy admin commands mounted in the items app's own
//! binary (the `manage.py` / `artisan` pattern): the app's settings pick the
//! registry and isolation mode, and its compiled migrations are the ones
//! `migrate` applies.
//!
//! ```text
//! items-admin tenants list
//! items-admin migrate --concurrency 8
//! TENANCY_DATABASE_URL=postgres://… TENANCY_ISOLATION=schema items-admin --json tenants show acme
//! ```

use std::process::ExitCode;

use clap::Parser;
use tenancy_cli::{Admin, Outcome, TenancyArgs};
use tenancy_examples::items::{self, Config};

/// The items app's tenant administration.
#[derive(Debug, Parser)]
#[command(name = "items-admin", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(flatten)]
    tenancy: TenancyArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match items::lifecycle(&cli.config).await {
        Ok(lifecycle) => Admin::new(lifecycle).run(&cli.tenancy).await.into(),
        Err(error) => {
            tenancy_cli::report_error(&*error);
            Outcome::Failed.into()
        }
    }
}
