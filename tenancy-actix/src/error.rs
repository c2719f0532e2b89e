//! Rendering [`TenancyError`]s as HTTP responses.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use tenancy_core::TenancyError;

/// Turns a [`TenancyError`] into the response the client sees.
///
/// The [`TenancyMiddleware`](crate::TenancyMiddleware) renders every error it
/// produces with its renderer, and so do the
/// [`CurrentTenant`](crate::CurrentTenant) / [`OptionalTenant`](crate::OptionalTenant)
/// rejections on the requests it handled, so one renderer decides the shape of
/// every tenancy error. The default is [`JsonErrors`]; any
/// `Fn(&TenancyError) -> HttpResponse` closure is a renderer too.
///
/// ```
/// use actix_web::HttpResponse;
/// use tenancy_actix::{ErrorRenderer, JsonErrors, status_code};
/// use tenancy_core::TenancyError;
///
/// // A plain-text renderer.
/// let text = |error: &TenancyError| {
///     HttpResponse::build(status_code(error)).body(format!("{}: {error}", error.kind()))
/// };
/// assert_eq!(text.render(&TenancyError::TenantRequired).status(), 404);
///
/// let response = JsonErrors.render(&TenancyError::TenantRequired);
/// assert_eq!(response.headers().get("content-type").unwrap(), "application/json");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot render tenancy errors",
    label = "not an error renderer",
    note = "an error renderer is `tenancy_actix::JsonErrors`, a type that implements `ErrorRenderer`, \
            or a closure `Fn(&TenancyError) -> HttpResponse + Send + Sync + 'static`"
)]
pub trait ErrorRenderer: Send + Sync + 'static {
    /// The response for `error`.
    fn render(&self, error: &TenancyError) -> HttpResponse;
}

impl<F> ErrorRenderer for F
where
    F: Fn(&TenancyError) -> HttpResponse + Send + Sync + 'static,
{
    fn render(&self, error: &TenancyError) -> HttpResponse {
        self(error)
    }
}

/// The default renderer: `{"error": kind, "message": text}` with the error's status.
///
/// `kind` is [`TenancyError::kind`] (for example `TenantNotFound`) and
/// `message` its display text, which never repeats raw request input beyond
/// validated ids and domains, nor the sources of server errors.
///
/// ```
/// use tenancy_actix::{ErrorRenderer, JsonErrors};
/// use tenancy_core::{TenancyError, TenantId};
///
/// let error = TenancyError::TenantInactive { id: TenantId::new("acme")? };
/// let response = JsonErrors.render(&error);
/// assert_eq!(response.status(), 403);
/// assert_eq!(response.headers().get("content-type").unwrap(), "application/json");
/// # Ok::<(), tenancy_core::InvalidTenantId>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonErrors;

impl ErrorRenderer for JsonErrors {
    fn render(&self, error: &TenancyError) -> HttpResponse {
        json_error(status_code(error), error.kind(), &error.to_string())
    }
}

/// The actix-web (`http` 0.2) status code of a [`TenancyError`].
///
/// [`TenancyError::status`] returns an `http` 1 status; this converts it.
///
/// ```
/// use tenancy_actix::status_code;
/// use tenancy_core::TenancyError;
///
/// assert_eq!(status_code(&TenancyError::TenantRequired).as_u16(), 404);
/// ```
pub fn status_code(error: &TenancyError) -> StatusCode {
    StatusCode::from_u16(error.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A JSON error response `{"error": kind, "message": message}`.
pub(crate) fn json_error(status: StatusCode, kind: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::json())
        .body(serde_json::json!({ "error": kind, "message": message }).to_string())
}

/// A [`TenancyError`] as a handler's error type: a [`ResponseError`] rendered
/// with [`JsonErrors`].
///
/// Use it in handlers that call the core API themselves, such as
/// [`Tenancy::load`](tenancy_core::Tenancy::load), to answer with the same
/// JSON shape as the middleware.
///
/// ```
/// use actix_web::ResponseError;
/// use tenancy_actix::TenancyErrorResponse;
/// use tenancy_core::{InMemoryStore, Tenancy, TenancyError, TenantId, from_fn};
///
/// async fn load(tenancy: &Tenancy<InMemoryStore>, id: &str) -> Result<String, TenancyErrorResponse> {
///     let id = TenantId::new(id).map_err(TenancyError::from)?;
///     Ok(tenancy.load(&id).await?.name.to_string())
/// }
///
/// # #[actix_web::main] async fn main() {
/// let resolver = from_fn(|_: &tenancy_core::RequestView<'_>| Ok(None));
/// let tenancy = Tenancy::new(resolver, InMemoryStore::new());
/// let error = load(&tenancy, "acme").await.unwrap_err();
/// assert_eq!(error.status_code(), 404);
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TenancyErrorResponse(#[from] pub TenancyError);

impl ResponseError for TenancyErrorResponse {
    fn status_code(&self) -> StatusCode {
        status_code(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        JsonErrors.render(&self.0)
    }
}
