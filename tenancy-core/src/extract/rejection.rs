//! [`RejectionReason`]: why a tenant or tenant-database extractor failed.

use std::fmt;

use http::StatusCode;

use crate::error::TenancyError;

/// Why an adapter's tenant extractor (`CurrentTenant`, `OptionalTenant`) or
/// database extractor (`TenantDb`) failed, or why opening the database
/// handle did; the same for both frameworks.
///
/// The response shows [`status`](Self::status), [`kind`](Self::kind) and the
/// text of the error it is rendered from ([`with_error`](Self::with_error));
/// [`Display`](fmt::Display) adds what only the operator should see (type
/// names), for logs.
///
/// ```
/// use tenancy_core::RejectionReason;
///
/// let reason = RejectionReason::MissingAccess { access: "SchemaPool" };
/// assert_eq!(reason.status(), 500);
/// assert_eq!(reason.kind(), "Configuration");
/// assert!(reason.to_string().contains("SchemaPool"));
/// assert!(!reason.into_error().to_string().contains("SchemaPool"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RejectionReason {
    /// The request names no tenant (a central host, or a central or optional
    /// route): `404 TenantRequired`.
    TenantRequired,
    /// No tenancy middleware ran for this request: a server
    /// misconfiguration, `500 Configuration`.
    MissingLayer,
    /// The middleware resolves tenants of another type than the handler asks
    /// for: `500 Configuration`.
    TenantTypeMismatch {
        /// The type the handler asked for.
        requested: &'static str,
        /// The tenant type of the middleware's store.
        provided: &'static str,
    },
    /// No access object of the requested type is configured for the route:
    /// `500 Configuration`.
    MissingAccess {
        /// The access type the handler asked for.
        access: &'static str,
    },
    /// Opening the tenant's database handle failed: the error's own status
    /// (e.g. `503 StoreUnavailable` when the database cannot be reached).
    Open(TenancyError),
}

impl RejectionReason {
    /// The HTTP status: 404 for `TenantRequired`, 500 for a configuration
    /// error, the error's own status when opening failed.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TenantRequired => StatusCode::NOT_FOUND,
            Self::Open(error) => error.status(),
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable error name, as rendered (`TenantRequired`,
    /// `Configuration`, or the opening error's kind).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TenantRequired => "TenantRequired",
            Self::Open(error) => error.kind(),
            _ => "Configuration",
        }
    }

    /// Calls `f` with the error the response is rendered from.
    /// Configuration messages stay generic: the type names are logged, not
    /// sent.
    pub fn with_error<R>(&self, f: impl FnOnce(&TenancyError) -> R) -> R {
        match self {
            Self::Open(error) => f(error),
            other => f(&other.generic_error()),
        }
    }

    /// The error the response is rendered from, by value.
    pub fn into_error(self) -> TenancyError {
        match self {
            Self::Open(error) => error,
            other => other.generic_error(),
        }
    }

    /// The response's error for every reason but `Open`.
    fn generic_error(&self) -> TenancyError {
        let configuration = |message: &str| TenancyError::Configuration {
            message: message.to_owned(),
        };
        match self {
            Self::TenantRequired => TenancyError::TenantRequired,
            Self::MissingLayer => configuration("no tenancy middleware handles this route"),
            Self::TenantTypeMismatch { .. } => configuration(
                "the route asks for another tenant type than the tenancy middleware provides",
            ),
            Self::MissingAccess { .. } | Self::Open(_) => {
                configuration("no tenant database access is configured for this route")
            }
        }
    }

    /// Logs a server-side rejection with what the response leaves out.
    pub fn log(&self) {
        match self {
            Self::Open(error) if error.is_server_error() => tracing::error!(
                error = error as &dyn std::error::Error,
                "opening tenant database access failed"
            ),
            Self::Open(_) | Self::TenantRequired => {
                tracing::debug!(rejection = %self, "tenant extractor refused the request");
            }
            _ => tracing::error!(rejection = %self, "tenant extractor misconfigured"),
        }
    }
}

impl fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TenantRequired => fmt::Display::fmt(&TenancyError::TenantRequired, f),
            Self::MissingLayer => f.write_str(
                "no tenancy middleware handles this route: wrap the app (router) with it",
            ),
            Self::TenantTypeMismatch {
                requested,
                provided,
            } => write!(
                f,
                "the route extracts the tenant type `{requested}`, but the tenancy middleware's \
                 store provides `{provided}`"
            ),
            Self::MissingAccess { access } => write!(
                f,
                "the route extracts `TenantDb<{access}>`, but no `{access}` is configured: hand it \
                 to the gate (`Gate::with_access(access)`) or add it to the app (axum: \
                 `.layer(Extension(access))`, actix-web: `.app_data(Data::new(access))`)"
            ),
            Self::Open(error) => write!(f, "opening tenant database access: {error}"),
        }
    }
}

impl std::error::Error for RejectionReason {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Open(error) => Some(error),
            _ => None,
        }
    }
}
