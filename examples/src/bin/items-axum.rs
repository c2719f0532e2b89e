//! The items app on axum. `items-axum --help` lists the settings.

use std::process::ExitCode;

use axum::ServiceExt;
use axum::extract::Request;
use clap::Parser;
use tenancy_core::BoxError;
use tenancy_examples::items::{self, Config};
use tenancy_examples::{SHUTDOWN_GRACE, announce, axum_app, init_tracing, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let config = Config::parse();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let error: &(dyn std::error::Error + 'static) = &*error;
            tracing::error!(error, "items-axum could not start");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), BoxError> {
    let app = items::build(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!("serving the items app on axum: {}", app.description);
    announce(listener.local_addr()?);
    let service = axum_app::app(&app.state);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, ServiceExt::<Request>::into_make_service(service))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
    // In-flight requests finish, but never for longer than the grace period.
    let deadline = async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = server => served?,
        () = deadline => tracing::warn!("requests still running after the grace period; exiting"),
    }
    Ok(())
}
