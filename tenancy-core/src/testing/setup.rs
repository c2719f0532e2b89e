//! [`Setup`] and [`Renderer`]: what a harness builds its test app from.

use std::sync::Arc;

use crate::{Gate, Tenancy, TenancyError};

use super::fixture::{Fixture, Store};

/// How the test app renders tenancy errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renderer {
    /// The adapter's default: `{"error": kind, "message": text}` as
    /// `application/json`, with the error's status.
    Json,
    /// A custom renderer, configured the adapter's way: the error's status,
    /// `text/plain`, and the body [`Renderer::text_body`].
    Text,
}

impl Renderer {
    /// The body of [`Renderer::Text`]: `"{kind}: {message}"`.
    pub fn text_body(error: &TenancyError) -> String {
        format!("{}: {error}", error.kind())
    }
}

/// What a [`Harness`](super::Harness) builds its test app from: the
/// adapter's middleware made from [`gate`](Self::gate), rendering errors as
/// [`renderer`](Self::renderer) says, in front of the routes of the
/// [module docs](super).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Setup {
    /// The gate to build the adapter's middleware from, ready: the
    /// pipeline, `central_route("/health")`, `optional_route("/")`,
    /// `optional_route("/maybe")`, `optional_route("/strict")`, and
    /// `.optional()` when the case asks for it.
    pub gate: Gate<Store>,
    /// How the middleware (and the tenant extractors) render errors.
    pub renderer: Renderer,
}

impl Setup {
    /// The default setup of `tenancy`: the suite's route policies, a tenant
    /// required on every other route, JSON errors.
    pub fn new(tenancy: Arc<Tenancy<Store>>) -> Self {
        let gate = Gate::new(tenancy)
            .central_route("/health")
            .optional_route("/")
            .optional_route("/maybe")
            .optional_route("/strict");
        Self {
            gate,
            renderer: Renderer::Json,
        }
    }

    /// Makes a tenant optional on every route without its own policy
    /// ([`Gate::optional`]).
    #[must_use]
    pub fn optional(self) -> Self {
        Self {
            gate: self.gate.optional(),
            ..self
        }
    }

    /// Renders errors with `renderer`.
    #[must_use]
    pub fn with_renderer(self, renderer: Renderer) -> Self {
        Self { renderer, ..self }
    }
}

impl Fixture {
    /// The default setup over this fixture's pipeline (see [`Setup::new`]).
    pub fn setup(&self) -> Setup {
        Setup::new(Arc::clone(&self.tenancy))
    }
}
