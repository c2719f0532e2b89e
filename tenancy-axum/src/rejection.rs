//! [`TenantRejection`]: why a tenant extractor failed.

use std::fmt;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tenancy_core::TenancyError;

use crate::error::{ErrorRenderer, JsonErrors};

/// Why [`CurrentTenant`](crate::CurrentTenant) or
/// [`OptionalTenant`](crate::OptionalTenant) could not be extracted.
///
/// With feature `sqlx`, the tenant part of a `TenantDbRejection` too.
///
/// ```
/// use tenancy_axum::{RejectionReason, TenantRejection};
///
/// fn is_misconfigured(rejection: &TenantRejection) -> bool {
///     !matches!(rejection.reason(), RejectionReason::TenantRequired)
/// }
/// # let _ = is_misconfigured;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionReason {
    /// The request names no tenant (a central host, or a central or optional
    /// route): `404 TenantRequired`.
    TenantRequired,
    /// No [`TenancyLayer`](crate::TenancyLayer) ran for this request: a
    /// server misconfiguration, `500`.
    MissingLayer,
    /// The layer resolves tenants of another type than the handler asks for:
    /// a server misconfiguration, `500`.
    TenantTypeMismatch {
        /// The type the handler asked for.
        requested: &'static str,
        /// The tenant type of the layer's store.
        provided: &'static str,
    },
}

/// The rejection of the tenant extractors.
///
/// It renders with the [`ErrorRenderer`] of the layer that handled the
/// request (so a replaced renderer applies to extractor rejections too), or
/// with [`JsonErrors`] when there is no layer.
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
#[derive(Clone)]
pub struct TenantRejection {
    reason: RejectionReason,
    renderer: Option<Arc<dyn ErrorRenderer>>,
}

impl TenantRejection {
    pub(crate) fn new(reason: RejectionReason, renderer: Option<Arc<dyn ErrorRenderer>>) -> Self {
        Self { reason, renderer }
    }

    /// The reason and the renderer, to build another rejection from them.
    #[cfg(feature = "sqlx")]
    pub(crate) fn into_parts(self) -> (RejectionReason, Option<Arc<dyn ErrorRenderer>>) {
        (self.reason, self.renderer)
    }

    /// Why the extractor failed.
    pub fn reason(&self) -> &RejectionReason {
        &self.reason
    }

    /// The HTTP status: 404 for [`TenantRequired`](RejectionReason::TenantRequired), else 500.
    pub fn status(&self) -> StatusCode {
        self.reason.status()
    }

    /// The machine-readable error name: `TenantRequired` or `Configuration`.
    pub fn kind(&self) -> &'static str {
        self.reason.kind()
    }

    /// The rejection as the [`TenancyError`] it is rendered as.
    ///
    /// Configuration messages stay generic: the type names are logged, not sent.
    pub fn to_error(&self) -> TenancyError {
        self.reason.to_error()
    }
}

impl RejectionReason {
    /// See [`TenantRejection::status`].
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::TenantRequired => StatusCode::NOT_FOUND,
            Self::MissingLayer | Self::TenantTypeMismatch { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// See [`TenantRejection::kind`].
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::TenantRequired => "TenantRequired",
            Self::MissingLayer | Self::TenantTypeMismatch { .. } => "Configuration",
        }
    }

    /// See [`TenantRejection::to_error`].
    pub(crate) fn to_error(&self) -> TenancyError {
        match self {
            Self::TenantRequired => TenancyError::TenantRequired,
            Self::MissingLayer => TenancyError::Configuration {
                message: "no tenancy layer handles this route".to_owned(),
            },
            Self::TenantTypeMismatch { .. } => TenancyError::Configuration {
                message: "the route asks for another tenant type than the tenancy layer provides"
                    .to_owned(),
            },
        }
    }

    /// The operator-facing description (with type names), for logs.
    pub(crate) fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TenantRequired => fmt::Display::fmt(&TenancyError::TenantRequired, f),
            Self::MissingLayer => f.write_str(
                "no `TenancyLayer` handles this route: wrap the router with `TenancyLayer::layer`",
            ),
            Self::TenantTypeMismatch {
                requested,
                provided,
            } => write!(
                f,
                "the route extracts the tenant type `{requested}`, but the `TenancyLayer`'s store \
                 provides `{provided}`"
            ),
        }
    }
}

impl fmt::Display for TenantRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason.describe(f)
    }
}

impl fmt::Debug for TenantRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantRejection")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl std::error::Error for TenantRejection {}

impl IntoResponse for TenantRejection {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::error!(rejection = %self, "tenant extractor misconfigured");
        }
        let error = self.to_error();
        match &self.renderer {
            Some(renderer) => renderer.render(&error),
            None => JsonErrors.render(&error),
        }
    }
}
