//! The items app on axum. `items-axum --help` lists the settings.

use std::process::ExitCode;

use tenancy_core::BoxError;
use tenancy_examples::items::{self, Config};
use tenancy_examples::server::{self, Limits, axum_serve};
use tenancy_examples::{SHUTDOWN_GRACE, announce, axum_app, init_tracing, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let (config, limits) = server::parse_cli();
    match run(config, limits).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let error: &(dyn std::error::Error + 'static) = &*error;
            tracing::error!(error, "items-axum could not start");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config, limits: Limits) -> Result<(), BoxError> {
    let app = items::build(&config).await?;
    let listener = axum_serve::bind(config.listen)?;
    tracing::info!("serving the items app on axum: {}", app.description);
    announce(listener.local_addr()?);
    let service = axum_app::app(&app.state);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Header, keep-alive and request time-outs and the connection cap: see
    // `server::axum_serve` (`axum::serve` enforces none of them).
    let server = axum_serve::serve(listener, service, limits, async move {
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
