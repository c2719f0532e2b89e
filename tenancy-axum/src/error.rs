//! Rendering [`TenancyError`]s as HTTP responses.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use tenancy_core::TenancyError;

/// Turns a [`TenancyError`] into the response the client sees.
///
/// The [`TenancyLayer`](crate::TenancyLayer) renders every error it produces
/// with its renderer, and so do the [`CurrentTenant`](crate::CurrentTenant) /
/// [`OptionalTenant`](crate::OptionalTenant) rejections on the routes it wraps,
/// so one renderer decides the shape of every tenancy error. The default is
/// [`JsonErrors`]; any `Fn(&TenancyError) -> impl IntoResponse` closure is a
/// renderer too.
///
/// ```
/// use axum::response::IntoResponse;
/// use tenancy_axum::{ErrorRenderer, JsonErrors};
/// use tenancy_core::TenancyError;
///
/// // A plain-text renderer.
/// let text = |error: &TenancyError| (error.status(), format!("{}: {error}", error.kind()));
/// let response = text.render(&TenancyError::TenantRequired);
/// assert_eq!(response.status(), 404);
///
/// let response = JsonErrors.render(&TenancyError::TenantRequired);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot render tenancy errors",
    label = "not an error renderer",
    note = "an error renderer is `tenancy_axum::JsonErrors`, a type that implements `ErrorRenderer`, \
            or a closure `Fn(&TenancyError) -> impl IntoResponse + Send + Sync + 'static`"
)]
pub trait ErrorRenderer: Send + Sync + 'static {
    /// The response for `error`.
    fn render(&self, error: &TenancyError) -> Response;
}

impl<F, R> ErrorRenderer for F
where
    F: Fn(&TenancyError) -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    fn render(&self, error: &TenancyError) -> Response {
        self(error).into_response()
    }
}

/// The default renderer: `{"error": kind, "message": text}` with the error's status.
///
/// `kind` is [`TenancyError::kind`] (for example `TenantNotFound`) and
/// `message` its display text, which never repeats raw request input beyond
/// validated ids and domains, nor the sources of server errors.
///
/// ```
/// use tenancy_axum::{ErrorRenderer, JsonErrors};
/// use tenancy_core::{TenancyError, TenantId};
///
/// let error = TenancyError::TenantInactive { id: TenantId::new("acme")? };
/// let response = JsonErrors.render(&error);
/// assert_eq!(response.status(), 403);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// # Ok::<(), tenancy_core::InvalidTenantId>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonErrors;

impl ErrorRenderer for JsonErrors {
    fn render(&self, error: &TenancyError) -> Response {
        json_error(error.status(), error.kind(), &error.to_string())
    }
}

/// A JSON error response `{"error": kind, "message": message}`.
pub(crate) fn json_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": kind, "message": message }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A [`TenancyError`] as a handler's error type: renders with [`JsonErrors`].
///
/// Use it in handlers that call the core API themselves, such as
/// [`Tenancy::load`](tenancy_core::Tenancy::load), to answer with the same
/// JSON shape as the layer.
///
/// ```
/// use axum::response::IntoResponse;
/// use tenancy_axum::TenancyErrorResponse;
/// use tenancy_core::{InMemoryStore, Tenancy, TenantId, TenantRecord, from_fn};
///
/// async fn load(tenancy: &Tenancy<InMemoryStore>, id: &str) -> Result<String, TenancyErrorResponse> {
///     let id = TenantId::new(id).map_err(tenancy_core::TenancyError::from)?;
///     Ok(tenancy.load(&id).await?.name.to_string())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let resolver = from_fn(|_: &tenancy_core::RequestView<'_>| Ok(None));
/// let tenancy = Tenancy::new(resolver, InMemoryStore::new());
/// let error = load(&tenancy, "acme").await.unwrap_err();
/// assert_eq!(error.into_response().status(), 404);
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TenancyErrorResponse(#[from] pub TenancyError);

impl IntoResponse for TenancyErrorResponse {
    fn into_response(self) -> Response {
        JsonErrors.render(&self.0)
    }
}
