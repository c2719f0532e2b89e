//! The items app on actix-web. `items-actix --help` lists the settings.

use std::process::ExitCode;

use actix_web::HttpServer;
use actix_web::middleware::from_fn;
use tenancy_core::BoxError;
use tenancy_examples::items::{self, Config};
use tenancy_examples::server::limits::ACCEPT_BACKLOG;
use tenancy_examples::server::{self, Limits, actix_serve};
use tenancy_examples::{SHUTDOWN_GRACE, actix_app, announce, init_tracing};

#[actix_web::main]
async fn main() -> ExitCode {
    init_tracing();
    let (config, limits) = server::parse_cli();
    match run(config, limits).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let error: &(dyn std::error::Error + 'static) = &*error;
            tracing::error!(error, "items-actix could not start");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config, limits: Limits) -> Result<(), BoxError> {
    let app = items::build(&config).await?;
    let state = app.state.clone();
    let request_timeout = limits.request_timeout();
    let workers = actix_serve::workers();
    // actix-web stops gracefully on SIGTERM / SIGINT by itself. The limits:
    // see `server::actix_serve`.
    let server = HttpServer::new(move || {
        actix_app::app(state.clone()).wrap(from_fn(move |request, next| {
            actix_serve::request_timeout(request_timeout, request, next)
        }))
    })
    .workers(workers)
    .backlog(ACCEPT_BACKLOG)
    .max_connections(actix_serve::per_worker_connections(
        limits.max_connections,
        workers,
    ))
    .client_request_timeout(limits.header_timeout())
    .keep_alive(limits.keep_alive())
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    .bind(config.listen)?;
    tracing::info!("serving the items app on actix-web: {}", app.description);
    for addr in server.addrs() {
        announce(addr);
    }
    server.run().await?;
    Ok(())
}
