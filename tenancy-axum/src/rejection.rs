//! [`TenantRejection`]: why a tenant extractor failed, as a response.

use std::ops::Deref;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use tenancy_core::adapter::Rejection;
use tenancy_core::{RejectionReason, TenancyError};

use crate::error::{ErrorRenderer, JsonErrors};

/// The rejection of [`CurrentTenant`](crate::CurrentTenant),
/// [`OptionalTenant`](crate::OptionalTenant) and [`TenantDb`](crate::TenantDb),
/// and the error of [`TenantDb::open`](crate::TenantDb::open).
///
/// It dereferences to its [`RejectionReason`] (`status()`, `kind()`), converts
/// into the [`TenancyError`] it is rendered from, and renders with the [`ErrorRenderer`] of the layer that handled the request
/// (so a replaced renderer applies to extractor rejections too), or with
/// [`JsonErrors`] when there is no layer. Server errors are logged with
/// their details (type names, error sources); the response carries only the
/// error's kind and message.
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use tenancy_axum::{CurrentTenant, TenantRejection};
/// use tenancy_core::TenantRecord;
/// use tower::ServiceExt;
///
/// async fn handler(tenant: Result<CurrentTenant<TenantRecord>, TenantRejection>) -> String {
///     match tenant {
///         Ok(CurrentTenant(tenant)) => tenant.name.to_string(),
///         Err(rejection) => format!("{} {}", rejection.status().as_u16(), rejection.kind()),
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // No layer wraps this router: a configuration error.
/// let app = Router::new().route("/", get(handler));
/// let response = app.oneshot(Request::get("/").body(Body::empty())?).await?;
/// let body = axum::body::to_bytes(response.into_body(), 1024).await?;
/// assert_eq!(body, "500 Configuration");
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TenantRejection(#[from] Rejection<Arc<dyn ErrorRenderer>>);

impl Deref for TenantRejection {
    type Target = RejectionReason;

    fn deref(&self) -> &RejectionReason {
        self.0.reason()
    }
}

impl From<TenantRejection> for TenancyError {
    fn from(rejection: TenantRejection) -> Self {
        rejection.0.into_error()
    }
}

impl IntoResponse for TenantRejection {
    fn into_response(self) -> Response {
        self.0.respond(|renderer, error| match renderer {
            Some(renderer) => renderer.render(error),
            None => JsonErrors.render(error),
        })
    }
}
