//! [`TenantDbRejection`]: why [`TenantDb`](crate::TenantDb) could not be
//! extracted or opened.

use std::fmt;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use tenancy_core::TenancyError;

use crate::error::{ErrorRenderer, JsonErrors, status_code};
use crate::rejection::{RejectionReason, TenantRejection};

/// Why [`TenantDb`](crate::TenantDb) could not be extracted, or its handle
/// not be opened ([`Open`](Self::Open)).
///
/// ```
/// use tenancy_actix::{DbRejectionReason, TenantDbRejection};
///
/// fn is_outage(rejection: &TenantDbRejection) -> bool {
///     matches!(rejection.reason(), DbRejectionReason::Open(error) if error.status() == 503)
/// }
/// # let _ = is_outage;
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum DbRejectionReason {
    /// The request has no usable tenant, as for
    /// [`CurrentTenant`](crate::CurrentTenant): it names none (`404
    /// TenantRequired`), no [`TenancyMiddleware`](crate::TenancyMiddleware)
    /// handled it, or the middleware's store does not hand out
    /// [`RegistryTenant`](tenancy_sqlx::RegistryTenant)s (`500 Configuration`).
    Tenant(RejectionReason),
    /// No `web::Data` of the requested access type is registered: a server
    /// misconfiguration, `500 Configuration`.
    MissingAccess {
        /// The access type the handler asked for.
        access: &'static str,
    },
    /// [`TenantAccess::open`](tenancy_sqlx::TenantAccess::open) failed, in
    /// [`TenantDb::open`](crate::TenantDb::open) or
    /// [`TenantDb::into_handle`](crate::TenantDb::into_handle): the
    /// error's own status (e.g. `503 StoreUnavailable` when the database
    /// cannot be reached).
    Open(TenancyError),
}

/// The rejection of [`TenantDb`](crate::TenantDb), and the error of its
/// [`open`](crate::TenantDb::open) and [`into_handle`](crate::TenantDb::into_handle): a [`ResponseError`].
///
/// Like [`TenantRejection`], it renders with the [`ErrorRenderer`] of the
/// middleware that handled the request (or [`JsonErrors`] without one).
/// Server errors are logged with their details (type names, error sources);
/// the response only carries the error's kind and message.
///
/// ```
/// use actix_web::{App, test, web};
/// use tenancy_actix::{TenancyMiddleware, TenantDb, TenantDbRejection};
/// use tenancy_core::{HeaderResolver, InMemoryStore, Tenancy, TenantId};
/// use tenancy_sqlx::{RegistryTenant, SchemaName, SchemaPool, Storage};
///
/// async fn handler(db: Result<TenantDb<SchemaPool>, TenantDbRejection>) -> String {
///     match db {
///         Ok(_) => "connected".to_owned(),
///         Err(rejection) => format!("{} {}", rejection.status().as_u16(), rejection.kind()),
///     }
/// }
///
/// # #[actix_web::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let acme = RegistryTenant::builder(
///     TenantId::new("acme")?,
///     "Acme Corp",
///     Storage::Schema(SchemaName::new("tenant_acme")?),
/// )
/// .build();
/// let tenancy = Tenancy::new(HeaderResolver::new("x-tenant-id")?, InMemoryStore::from_iter([acme]));
/// // No `web::Data<SchemaPool>` in this App: a configuration error.
/// let app = App::new().wrap(TenancyMiddleware::new(tenancy)).route("/", web::get().to(handler));
/// let app = test::init_service(app).await;
///
/// let request = test::TestRequest::get().uri("/").insert_header(("x-tenant-id", "acme"));
/// let body = test::call_and_read_body(&app, request.to_request()).await;
/// assert_eq!(body, "500 Configuration");
/// # Ok(()) }
/// ```
pub struct TenantDbRejection(Box<Inner>);

/// Boxed: a rejection is rare, and `TenancyError` is large.
struct Inner {
    reason: DbRejectionReason,
    renderer: Option<Arc<dyn ErrorRenderer>>,
}

impl TenantDbRejection {
    pub(crate) fn new(reason: DbRejectionReason, renderer: Option<Arc<dyn ErrorRenderer>>) -> Self {
        Self(Box::new(Inner { reason, renderer }))
    }

    /// Why the extractor, or opening the handle, failed.
    pub fn reason(&self) -> &DbRejectionReason {
        &self.0.reason
    }

    /// The HTTP status: 404 for `TenantRequired`, 500 for a configuration
    /// error, the error's own status when opening failed.
    pub fn status(&self) -> StatusCode {
        match &self.0.reason {
            DbRejectionReason::Tenant(reason) => reason.status(),
            DbRejectionReason::MissingAccess { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            DbRejectionReason::Open(error) => status_code(error),
        }
    }

    /// The machine-readable error name, as in the rendered body
    /// (`TenantRequired`, `Configuration`, `StoreUnavailable`, ...).
    pub fn kind(&self) -> &'static str {
        match &self.0.reason {
            DbRejectionReason::Tenant(reason) => reason.kind(),
            DbRejectionReason::MissingAccess { .. } => "Configuration",
            DbRejectionReason::Open(error) => error.kind(),
        }
    }

    /// The rejection as the [`TenancyError`] it is rendered as.
    ///
    /// Configuration messages stay generic: the type names are logged, not sent.
    pub fn into_error(self) -> TenancyError {
        match self.0.reason {
            DbRejectionReason::Tenant(reason) => reason.to_error(),
            DbRejectionReason::MissingAccess { .. } => missing_access(),
            DbRejectionReason::Open(error) => error,
        }
    }

    fn render(&self, error: &TenancyError) -> HttpResponse {
        match &self.0.renderer {
            Some(renderer) => renderer.render(error),
            None => JsonErrors.render(error),
        }
    }
}

/// The error a missing access object is rendered as.
fn missing_access() -> TenancyError {
    TenancyError::Configuration {
        message: "no tenant database access is configured for this route".to_owned(),
    }
}

impl From<TenantRejection> for TenantDbRejection {
    fn from(rejection: TenantRejection) -> Self {
        let (reason, renderer) = rejection.into_parts();
        Self::new(DbRejectionReason::Tenant(reason), renderer)
    }
}

impl fmt::Display for TenantDbRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.reason {
            DbRejectionReason::Tenant(reason) => reason.describe(f),
            DbRejectionReason::MissingAccess { access } => write!(
                f,
                "the route extracts `TenantDb<{access}>`, but no `web::Data<{access}>` is \
                 registered: add it with `App::app_data(web::Data::new(access))`"
            ),
            DbRejectionReason::Open(error) => write!(f, "opening tenant database access: {error}"),
        }
    }
}

impl fmt::Debug for TenantDbRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantDbRejection")
            .field("reason", &self.0.reason)
            .finish_non_exhaustive()
    }
}

impl std::error::Error for TenantDbRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.reason {
            DbRejectionReason::Open(error) => Some(error),
            _ => None,
        }
    }
}

impl ResponseError for TenantDbRejection {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let generic;
        let error = match &self.0.reason {
            DbRejectionReason::Tenant(reason) => {
                generic = reason.to_error();
                &generic
            }
            DbRejectionReason::MissingAccess { .. } => {
                generic = missing_access();
                &generic
            }
            DbRejectionReason::Open(error) => error,
        };
        if error.is_server_error() {
            log(self);
        }
        self.render(error)
    }
}

/// Logs a server-side rejection with what the response leaves out.
fn log(rejection: &TenantDbRejection) {
    match &rejection.0.reason {
        DbRejectionReason::Open(error) => tracing::error!(
            error = error as &dyn std::error::Error,
            "opening tenant database access failed"
        ),
        _ => tracing::error!(%rejection, "tenant database extractor misconfigured"),
    }
}
