//! The items app on actix-web. `items-actix --help` lists the settings.

use std::process::ExitCode;

use actix_web::HttpServer;
use clap::Parser;
use tenancy_core::BoxError;
use tenancy_examples::items::{self, Config};
use tenancy_examples::{SHUTDOWN_GRACE, actix_app, announce, init_tracing};

#[actix_web::main]
async fn main() -> ExitCode {
    init_tracing();
    let config = Config::parse();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let error: &(dyn std::error::Error + 'static) = &*error;
            tracing::error!(error, "items-actix could not start");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), BoxError> {
    let app = items::build(&config).await?;
    let state = app.state.clone();
    // actix-web stops gracefully on SIGTERM / SIGINT by itself.
    let server = HttpServer::new(move || actix_app::app(state.clone()))
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .bind(config.listen)?;
    tracing::info!("serving the items app on actix-web: {}", app.description);
    for addr in server.addrs() {
        announce(addr);
    }
    server.run().await?;
    Ok(())
}
