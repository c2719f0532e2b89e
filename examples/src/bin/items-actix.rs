//! The items app on actix-web. `items-actix --help` lists the settings.

use std::process::ExitCode;

use actix_web::middleware::from_fn;
use tenancy_core::BoxError;
use tenancy_examples::items::{self, Config};
use tenancy_examples::server::{self, Limits, actix_serve};
use tenancy_examples::{actix_app, announce, init_tracing};

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
    let listener = server::bind(config.listen)?.into_std()?;
    let addr = listener.local_addr()?;
    // Header, keep-alive and request time-outs, the connection cap and the
    // graceful shutdown (SIGTERM / SIGINT): see `server::actix_serve`.
    let server = actix_serve::serve(listener, limits, move || {
        actix_app::app(state.clone()).wrap(from_fn(move |request, next| {
            actix_serve::request_timeout(request_timeout, request, next)
        }))
    })?;
    tracing::info!("serving the items app on actix-web: {}", app.description);
    announce(addr);
    server.await?;
    Ok(())
}
