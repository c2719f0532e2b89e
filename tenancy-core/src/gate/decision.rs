//! [`Decision`], [`Outcome`] and [`Pending`]: what the [`Gate`](crate::Gate)
//! tells an adapter to do with a request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::TenancyError;
use crate::tenancy::{Resolve, Resolved};
use crate::tenant::Tenant;

/// What [`Gate::decide`](crate::Gate::decide) answers: an outcome now, or
/// after a store look-up.
#[derive(Debug)]
pub enum Decision<T> {
    /// Known without waiting.
    Ready(Outcome<T>),
    /// The store must be asked; await the [`Pending`] for the outcome.
    Lookup(Pending<T>),
}

/// What to do with a request.
#[derive(Debug)]
pub enum Outcome<T> {
    /// Run it without a tenant (a central route, or a request naming no
    /// tenant on an optional route).
    Pass,
    /// Run it with this tenant.
    Attach(Resolved<T>),
    /// Answer with this error instead of running it.
    Refuse(TenancyError),
}

impl<T: Tenant> Outcome<T> {
    /// Carries the outcome out: hands a tenant to `attach` (after recording
    /// its id on the request's `span`),
    /// lets a request without one pass, or gives back the refusal.
    ///
    /// # Errors
    ///
    /// The refusal, or the error of `attach`: the request is to be answered
    /// with it rather than run.
    pub(crate) fn admit(
        self,
        span: &tracing::Span,
        attach: impl FnOnce(Resolved<T>) -> Result<(), TenancyError>,
    ) -> Result<(), TenancyError> {
        match self {
            Self::Pass => Ok(()),
            Self::Attach(resolved) => {
                crate::gate::record_tenant(span, &resolved);
                attach(resolved)
            }
            Self::Refuse(error) => Err(error),
        }
    }
}

impl<T> Outcome<T> {
    /// The outcome of a finished resolution on a route that does or does
    /// not require a tenant.
    pub(crate) fn new(result: Result<Option<Resolved<T>>, TenancyError>, required: bool) -> Self {
        match result {
            Ok(Some(resolved)) => Self::Attach(resolved),
            Ok(None) if required => Self::Refuse(TenancyError::TenantRequired),
            Ok(None) => Self::Pass,
            Err(error) => Self::Refuse(error),
        }
    }
}

/// The store look-up of one request; resolves to its [`Outcome`].
///
/// `'static`, `Send` and `Unpin`: a middleware keeps it in its response
/// future beside the request.
#[must_use = "futures do nothing unless polled"]
pub struct Pending<T> {
    resolve: Resolve<'static, T>,
    required: bool,
}

impl<T> Pending<T> {
    pub(crate) fn new(resolve: Resolve<'static, T>, required: bool) -> Self {
        Self { resolve, required }
    }
}

impl<T> Future for Pending<T> {
    type Output = Outcome<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let required = self.required;
        Pin::new(&mut self.resolve)
            .poll(cx)
            .map(|result| Outcome::new(result, required))
    }
}

impl<T> fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}
