//! [`TenantRejection`]: why a tenant extractor failed, as a response error.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use tenancy_core::adapter::Rejection;
use tenancy_core::{RejectionReason, TenancyError};

use crate::error::{ErrorRenderer, JsonErrors};

/// The rejection of [`CurrentTenant`](crate::CurrentTenant),
/// [`OptionalTenant`](crate::OptionalTenant) and [`TenantDb`](crate::TenantDb),
/// and the error of [`TenantDb::open`](crate::TenantDb::open): a
/// [`ResponseError`].
///
/// Its [`reason`](Self::reason) has the status and kind; it renders with the [`ErrorRenderer`] of the middleware that handled the
/// request, or with [`JsonErrors`] without one. Server errors are logged
/// with their details (type names, error sources); the response carries only
/// the error's kind and message.
///
/// ```
/// use actix_web::{App, test, web};
/// use tenancy_actix::{CurrentTenant, TenantRejection};
/// use tenancy_core::TenantRecord;
///
/// async fn handler(tenant: Result<CurrentTenant<TenantRecord>, TenantRejection>) -> String {
///     match tenant {
///         Ok(CurrentTenant(tenant)) => tenant.name.to_string(),
///         Err(rejection) => format!("{} {}", rejection.reason().status().as_u16(), rejection.reason().kind()),
///     }
/// }
///
/// # #[actix_web::main] async fn main() {
/// // No middleware wraps this App: a configuration error.
/// let app = test::init_service(App::new().route("/", web::get().to(handler))).await;
/// let body = test::call_and_read_body(&app, test::TestRequest::get().uri("/").to_request()).await;
/// assert_eq!(body, "500 Configuration");
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TenantRejection(#[from] Rejection<Arc<dyn ErrorRenderer>>);

impl ResponseError for TenantRejection {
    fn status_code(&self) -> StatusCode {
        let status = self.reason().status().as_u16();
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let render = |renderer: Option<&Arc<dyn ErrorRenderer>>, error: &TenancyError| {
            renderer.map_or_else(
                || JsonErrors.render(error),
                |renderer| renderer.render(error),
            )
        };
        self.0.respond(render)
    }
}

impl TenantRejection {
    /// Why: the reason's `status()`, `kind()` and details.
    pub fn reason(&self) -> &RejectionReason {
        self.0.reason()
    }
}

impl From<TenantRejection> for TenancyError {
    fn from(rejection: TenantRejection) -> Self {
        rejection.0.into_error()
    }
}
