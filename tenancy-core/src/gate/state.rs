//! [`AdapterState`]: what a framework middleware shares between its
//! services, futures and extractors.

use std::fmt;

use crate::error::TenancyError;
use crate::extract::Admitted;
use crate::gate::{Gate, Outcome, log_refusal};
use crate::store::TenantStore;
use crate::tenancy::Resolved;

/// A [`Gate`] and the mark (with the adapter's error renderer `R`) left on
/// every request the middleware lets through: the state of the axum layer
/// and the actix-web middleware, and of every service they make.
///
/// ```
/// use tenancy_core::{Gate, InMemoryStore, SubdomainResolver, Tenancy};
/// use tenancy_core::adapter::{AdapterState, Decision, Outcome};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, InMemoryStore::new());
/// // The renderer of a real adapter turns an error into its framework's response.
/// let state = AdapterState::new(Gate::new(tenancy), "render as JSON");
///
/// let request = http::Request::builder().header("host", "example.com").uri("/items").body(())?;
/// let Decision::Ready(outcome) = state.gate().decide(&request) else { unreachable!() };
/// let span = tenancy_core::adapter::request_span();
/// let refused = state.admit(outcome, &span, |_resolved| Ok(())).unwrap_err();
/// assert_eq!(refused.kind(), "TenantRequired");
/// # Ok(()) }
/// ```
pub struct AdapterState<S, R> {
    gate: Gate<S>,
    admitted: Admitted<R>,
}

impl<S: TenantStore + 'static, R: Clone> AdapterState<S, R> {
    /// The state of a middleware running `gate`, rendering with `renderer`.
    pub fn new(gate: impl Into<Gate<S>>, renderer: R) -> Self {
        let gate = gate.into();
        let admitted = Admitted::with_accesses::<S::Tenant>(renderer, gate.accesses());
        Self { gate, admitted }
    }

    /// The same gate, rendering with `renderer`.
    #[must_use]
    pub fn with_renderer(self, renderer: R) -> Self {
        Self::new(self.gate, renderer)
    }

    /// The gate.
    pub fn gate(&self) -> &Gate<S> {
        &self.gate
    }

    /// The error renderer.
    pub fn renderer(&self) -> &R {
        self.admitted.renderer()
    }

    /// Carries out the gate's `outcome` for one request: hands a tenant to
    /// `attach` (which puts it on the request), and returns the mark to put
    /// in the request's extensions.
    ///
    /// # Errors
    ///
    /// The refusal, logged (inside `span`): answer the request with it.
    pub fn admit(
        &self,
        outcome: Outcome<S::Tenant>,
        span: &tracing::Span,
        attach: impl FnOnce(Resolved<S::Tenant>) -> Result<(), TenancyError>,
    ) -> Result<Admitted<R>, TenancyError> {
        match outcome.admit(span, attach) {
            Ok(()) => Ok(self.admitted.clone()),
            Err(error) => {
                span.in_scope(|| log_refusal(&error));
                Err(error)
            }
        }
    }
}

impl<S, R: Clone> Clone for AdapterState<S, R> {
    fn clone(&self) -> Self {
        Self {
            gate: self.gate.clone(),
            admitted: self.admitted.clone(),
        }
    }
}

impl<S: fmt::Debug, R> fmt::Debug for AdapterState<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterState")
            .field("gate", &self.gate)
            .field("admitted", &self.admitted)
            .finish()
    }
}
