//! [`AppError`]: every error of the app, rendered as `{"error", "message"}`.

use http::StatusCode;
use tenancy_core::TenancyError;

/// An error answer: status, machine-readable kind, human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `error` field (e.g. `NotFound`).
    pub kind: &'static str,
    /// The `message` field.
    pub message: String,
}

impl AppError {
    /// An error with the given parts.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    /// `404 NotFound`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// `405 MethodNotAllowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "this route does not allow that method",
        )
    }

    /// `401 Unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a valid admin bearer token is required",
        )
    }

    /// `413 PayloadTooLarge`.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            "the request body is larger than 1 MiB",
        )
    }

    /// `InvalidBody` with the given status (400, 415 or 422).
    pub fn invalid_body(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "InvalidBody", message)
    }

    /// The JSON error for a framework-level answer that had no JSON body
    /// (a rejection raised before our handlers ran).
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::not_found("there is no such route"),
            StatusCode::METHOD_NOT_ALLOWED => Self::method_not_allowed(),
            StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(),
            StatusCode::BAD_REQUEST
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY => {
                Self::invalid_body(status, "the request could not be read")
            }
            StatusCode::UNAUTHORIZED => Self::unauthorized(),
            status if status.is_server_error() => {
                Self::new(status, "InternalError", "the server failed; see its log")
            }
            status => Self::new(
                status,
                "BadRequest",
                status
                    .canonical_reason()
                    .unwrap_or("the request was refused"),
            ),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": self.kind, "message": self.message})
    }
}

impl From<TenancyError> for AppError {
    fn from(error: TenancyError) -> Self {
        if error.is_server_error() {
            tracing::error!(error = &error as &dyn std::error::Error, "request failed");
        }
        let message = match &error {
            // Do not show internals of server-side failures to clients.
            TenancyError::StoreUnavailable { .. } => {
                "the tenant store or a tenant database is unavailable".to_owned()
            }
            // (their text may name files or servers): the kind is enough.
            other if other.is_server_error() => {
                format!(
                    "the operation failed ({}); see the server log",
                    other.kind()
                )
            }
            other => other.to_string(),
        };
        Self {
            status: error.status(),
            kind: error.kind(),
            message,
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.kind,
            self.message
        )
    }
}

impl std::error::Error for AppError {}
