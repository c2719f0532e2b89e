//! The conformance cases: each builds an app through a `Harness` and checks
//! real HTTP outcomes (status, headers, body).

mod cache;
mod errors;
mod observability;
mod resolution;
mod routes;

pub(crate) use cache::*;
pub(crate) use errors::*;
pub(crate) use observability::*;
pub(crate) use resolution::*;
pub(crate) use routes::*;

use super::Harness;
use super::client::TestApp;
use super::fixture::{Fixture, Setup};

async fn app<H: Harness>(fixture: &Fixture) -> impl TestApp {
    H::app(fixture.setup()).await
}

async fn app_with<H: Harness>(setup: Setup) -> impl TestApp {
    H::app(setup).await
}
