//! The conformance cases: each builds an app through a [`Harness`] over a
//! fresh [`Fixture`] and checks real HTTP outcomes (status, headers, body).
//!
//! Every case is an `async fn` generic over the harness, panicking when the
//! adapter does not conform; [`conformance_suite!`](crate::conformance_suite)
//! calls each of them from a test of its own.

mod cache;
mod errors;
mod observability;
mod resolution;
mod routes;

pub use cache::*;
pub use errors::*;
pub use observability::*;
pub use resolution::*;
pub use routes::*;

use super::Harness;
use super::client::TestApp;
use super::fixture::Fixture;
use super::setup::Setup;

/// The app of `H` for the fixture's default setup.
async fn app<H: Harness>(fixture: &Fixture) -> impl TestApp {
    H::app(fixture.setup()).await
}

/// The app of `H` for `setup`.
async fn app_with<H: Harness>(setup: Setup) -> impl TestApp {
    H::app(setup).await
}
