//! [`TenancyError`]: every way tenancy can fail, each with an HTTP status.

use http::StatusCode;

use crate::domain::{DomainName, InvalidDomain};
use crate::host::InvalidHost;
use crate::id::{InvalidTenantId, TenantId};
use crate::key::Strategy;
use crate::key::TenantKey;

/// A boxed error kept as the source of a [`TenancyError`], never stringified.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every way resolving, looking up or managing a tenant can fail.
///
/// Each variant maps to an HTTP status ([`status`](Self::status)) and a stable
/// machine-readable name ([`kind`](Self::kind)) that adapters render as
/// `{"error": kind, "message": to_string()}`. Messages never repeat raw
/// request input beyond validated ids and domains.
///
/// ```
/// use http::StatusCode;
/// use tenancy_core::{TenancyError, TenantId};
///
/// let error = TenancyError::TenantInactive { id: TenantId::new("acme")? };
/// assert_eq!(error.status(), StatusCode::FORBIDDEN);
/// assert_eq!(error.kind(), "TenantInactive");
/// assert_eq!(error.to_string(), "tenant `acme` is inactive");
/// # Ok::<(), tenancy_core::InvalidTenantId>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TenancyError {
    /// The request names a tenant that does not exist.
    #[error("tenant `{key}` was not found")]
    TenantNotFound {
        /// The id or domain that was looked up.
        key: TenantKey,
    },

    /// The tenant exists but is deactivated.
    #[error("tenant `{id}` is inactive")]
    TenantInactive {
        /// The inactive tenant.
        id: TenantId,
    },

    /// A route that needs a tenant was reached without one (e.g. on a central host).
    #[error("this route needs a tenant and the request does not name one")]
    TenantRequired,

    /// A path segment, header value or other input is not a valid tenant id.
    #[error(transparent)]
    InvalidTenantId(#[from] InvalidTenantId),

    /// A domain name is not valid.
    #[error(transparent)]
    InvalidDomain(#[from] InvalidDomain),

    /// The request's host is malformed, repeated or ambiguous.
    #[error(transparent)]
    InvalidHost(#[from] InvalidHost),

    /// Two strategies (or two values of one header) name different tenants.
    #[error(
        "the request names two different tenants: `{first}` by {first_by} and `{second}` by {second_by}"
    )]
    TenantConflict {
        /// The key found first.
        first: TenantKey,
        /// The strategy that found `first`.
        first_by: Strategy,
        /// The key that disagrees with it.
        second: TenantKey,
        /// The strategy that found `second`.
        second_by: Strategy,
    },

    /// A tenant header is repeated with different values.
    #[error("the header `{header}` is repeated with different values")]
    HeaderConflict {
        /// The header name.
        header: String,
    },

    /// Creating or renaming onto an id that already exists.
    #[error("tenant `{id}` already exists")]
    TenantExists {
        /// The id that is taken.
        id: TenantId,
    },

    /// Registering a domain that another tenant already has.
    #[error("domain `{domain}` already belongs to a tenant")]
    DomainTaken {
        /// The domain that is taken.
        domain: DomainName,
    },

    /// The tenant registry or a tenant database cannot be reached.
    #[error("the tenant store is unavailable")]
    StoreUnavailable {
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// A tenant's storage (schema, database or file) could not be created.
    #[error("could not create the storage `{schema}` of tenant `{tenant}`")]
    SchemaCreation {
        /// The tenant being provisioned.
        tenant: TenantId,
        /// The schema, database or file name.
        schema: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// The tables of a tenant could not be created (initial migrations failed).
    #[error("could not create the tables of tenant `{tenant}`")]
    TableCreation {
        /// The tenant being provisioned.
        tenant: TenantId,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// A tenant's storage could not be renamed.
    #[error("could not rename tenant `{from}` to `{to}`")]
    SchemaRename {
        /// The old id.
        from: TenantId,
        /// The new id.
        to: TenantId,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// A tenant's storage could not be dropped.
    #[error("could not drop the storage `{schema}` of tenant `{tenant}`")]
    SchemaDrop {
        /// The tenant being dropped.
        tenant: TenantId,
        /// The schema, database or file name.
        schema: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// Migrating a tenant's storage failed.
    #[error("migrating tenant `{tenant}` failed")]
    Migration {
        /// The tenant whose migration failed.
        tenant: TenantId,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// The tenancy setup is unsafe or inconsistent (e.g. a failed start-up audit).
    #[error("invalid tenancy configuration: {message}")]
    Configuration {
        /// What is wrong, for the operator.
        message: String,
    },

    /// Any other storage error.
    #[error("a storage operation failed")]
    Storage {
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// A resolver (or other application code) refused the request with its
    /// own status, kind and message: see [`refused`](Self::refused).
    #[error("{message}")]
    Refused {
        /// The HTTP status of the response.
        status: StatusCode,
        /// The machine-readable error name of the response.
        kind: &'static str,
        /// The message of the response: it is sent to the client.
        message: String,
    },
}

impl TenancyError {
    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidTenantId(_)
            | Self::InvalidDomain(_)
            | Self::InvalidHost(_)
            | Self::TenantConflict { .. }
            | Self::HeaderConflict { .. } => StatusCode::BAD_REQUEST,
            Self::TenantInactive { .. } => StatusCode::FORBIDDEN,
            Self::TenantNotFound { .. } | Self::TenantRequired => StatusCode::NOT_FOUND,
            Self::TenantExists { .. } | Self::DomainTaken { .. } => StatusCode::CONFLICT,
            Self::StoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::SchemaCreation { .. }
            | Self::TableCreation { .. }
            | Self::SchemaRename { .. }
            | Self::SchemaDrop { .. }
            | Self::Migration { .. }
            | Self::Configuration { .. }
            | Self::Storage { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Refused { status, .. } => *status,
        }
    }

    /// A stable, machine-readable name for the error.
    ///
    /// It is the variant name, except that [`HeaderConflict`](Self::HeaderConflict)
    /// reports as `TenantConflict`: to a client both mean "you named two tenants".
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TenantNotFound { .. } => "TenantNotFound",
            Self::TenantInactive { .. } => "TenantInactive",
            Self::TenantRequired => "TenantRequired",
            Self::InvalidTenantId(_) => "InvalidTenantId",
            Self::InvalidDomain(_) => "InvalidDomain",
            Self::InvalidHost(_) => "InvalidHost",
            Self::TenantConflict { .. } | Self::HeaderConflict { .. } => "TenantConflict",
            Self::TenantExists { .. } => "TenantExists",
            Self::DomainTaken { .. } => "DomainTaken",
            Self::StoreUnavailable { .. } => "StoreUnavailable",
            Self::SchemaCreation { .. } => "SchemaCreation",
            Self::TableCreation { .. } => "TableCreation",
            Self::SchemaRename { .. } => "SchemaRename",
            Self::SchemaDrop { .. } => "SchemaDrop",
            Self::Migration { .. } => "Migration",
            Self::Configuration { .. } => "Configuration",
            Self::Storage { .. } => "Storage",
            Self::Refused { kind, .. } => kind,
        }
    }

    /// Refuses a request with the caller's own status, kind and message, e.g.
    /// a resolver answering `401 InvalidToken` for a bad bearer token. The
    /// adapters render it like every other error (`{"error": kind,
    /// "message": message}` by default) and log it as a refusal (`DEBUG`) —
    /// unless `status` is a server error, logged at `ERROR`.
    ///
    /// The message is sent to the client: do not put secrets or raw input in it.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tenancy_core::TenancyError;
    ///
    /// let error = TenancyError::refused(StatusCode::UNAUTHORIZED, "InvalidToken", "the token has expired");
    /// assert_eq!((error.status(), error.kind()), (StatusCode::UNAUTHORIZED, "InvalidToken"));
    /// assert_eq!(error.to_string(), "the token has expired");
    /// assert!(!error.is_server_error());
    /// ```
    pub fn refused(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self::Refused {
            status,
            kind,
            message: message.into(),
        }
    }

    /// Wraps a connection-level error as [`TenancyError::StoreUnavailable`].
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::StoreUnavailable {
            source: source.into(),
        }
    }

    /// Wraps any other storage error as [`TenancyError::Storage`].
    pub fn storage(source: impl Into<BoxError>) -> Self {
        Self::Storage {
            source: source.into(),
        }
    }

    /// Whether this is a server-side failure (status 5xx) rather than a client error.
    pub fn is_server_error(&self) -> bool {
        self.status().is_server_error()
    }
}
