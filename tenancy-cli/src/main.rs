//! `tenancy`: the standalone admin command line (see the crate docs).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tenancy_cli::{ConnectArgs, Outcome, TenancyArgs};

/// Administer the tenants of a tenancy-rs registry: tenants, domains, migrations.
#[derive(Debug, Parser)]
#[command(name = "tenancy", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    tenancy: TenancyArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let admin = match cli.connect.connect().await {
        Ok(admin) => admin,
        Err(error) => {
            tenancy_cli::report_error(&error);
            return Outcome::Failed.into();
        }
    };
    admin.run(&cli.tenancy).await.into()
}
