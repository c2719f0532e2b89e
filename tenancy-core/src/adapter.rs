//! For authors of web framework adapters (`tenancy-axum` and
//! `tenancy-actix` are two): what a middleware and its extractors share, so
//! that an adapter is only glue between its framework's types and these.
//!
//! - Per request: [`AdapterState::admit`] carries out the [`Decision`] of
//!   [`Gate::decide`](crate::Gate::decide) — an [`Outcome`] now, or after a
//!   [`Pending`] store look-up — inside the span of [`request_span`].
//! - The middleware leaves an [`Admitted`] mark on each request it lets
//!   through; the extractors read it with [`current_tenant`],
//!   [`optional_tenant`] and [`tenant_access`] over the request's
//!   [`TypeMap`], failing with a [`Rejection`].
//! - Refusals are logged, and the tenant's id recorded on the span, by
//!   [`AdapterState::admit`]: the same way in every adapter.
//!
//! The conformance kit (`testing`, feature `testing`) checks an adapter
//! built on these against the shared HTTP suite.

pub use crate::extract::{
    Admitted, Rejection, TypeMap, current_tenant, optional_tenant, tenant_access,
};
pub use crate::gate::{AdapterState, Decision, Outcome, Pending, request_span};
