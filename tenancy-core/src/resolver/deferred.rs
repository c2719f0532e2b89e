//! [`AsyncResolver`]: resolvers that need I/O (verifying a token against
//! fetched signing keys, asking another service).

use std::sync::Arc;

use super::Resolution;
use crate::error::TenancyError;
use crate::request::RequestView;
use crate::store::BoxFuture;

/// A resolver that needs I/O, in two steps: a synchronous
/// [`extract`](Self::extract) takes what it needs from the request (a
/// token, say), then [`resolve`](Self::resolve) finds the tenant from it,
/// asynchronously. The request is not borrowed across the `await`.
///
/// Use it with [`Tenancy::with_async_resolver`](crate::Tenancy::with_async_resolver).
/// Either step may refuse the request with its own status and kind through
/// [`TenancyError::refused`] (e.g. `401 InvalidToken`).
///
/// The pipeline puts no deadline and no concurrency cap on
/// [`resolve`](Self::resolve): every request that reaches it awaits it, so
/// a slow or stalled remote call holds that many requests (and their
/// connections) open. Bound it yourself — a time-out around the call
/// (`tokio::time::timeout`, answering `503` on expiry), a cache of what
/// the call fetches (signing keys change rarely), and a limit on the calls
/// in flight — and refuse what [`extract`](Self::extract) can reject
/// without I/O (a malformed token) before any call is made.
///
/// ```
/// use tenancy_core::{AsyncResolver, BoxFuture, HeaderValues, InMemoryStore, RequestView, Resolution,
///                    Tenancy, TenancyError, TenantId, TenantRecord};
///
/// /// `Authorization: Bearer <tenant>.<signature>`, the signature checked by a (pretend) remote call.
/// struct Bearer;
///
/// impl AsyncResolver for Bearer {
///     type Input = String;
///
///     fn extract(&self, request: &RequestView<'_>) -> Result<Option<String>, TenancyError> {
///         Ok(match request.header("authorization") {
///             HeaderValues::One(value) => std::str::from_utf8(value)
///                 .ok()
///                 .and_then(|value| value.strip_prefix("Bearer "))
///                 .map(str::to_owned),
///             _ => None,
///         })
///     }
///
///     fn resolve(&self, token: String) -> BoxFuture<'_, Result<Option<Resolution>, TenancyError>> {
///         Box::pin(async move {
///             let invalid = || TenancyError::refused(http::StatusCode::UNAUTHORIZED, "InvalidToken", "the bearer token is not valid");
///             let (tenant, signature) = token.split_once('.').ok_or_else(invalid)?;
///             if signature != "signed" {
///                 return Err(invalid());
///             }
///             Ok(Some(Resolution::id(TenantId::new(tenant)?)))
///         })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme")?, "Acme")]);
/// let tenancy = Tenancy::with_async_resolver(Bearer, store);
///
/// let request = http::Request::builder().header("authorization", "Bearer acme.signed").body(())?;
/// assert_eq!(tenancy.resolve(&request).await?.expect("a tenant").tenant().id.as_str(), "acme");
///
/// let forged = http::Request::builder().header("authorization", "Bearer acme.forged").body(())?;
/// let error = tenancy.resolve(&forged).await.unwrap_err();
/// assert_eq!((error.status().as_u16(), error.kind()), (401, "InvalidToken"));
/// # Ok(()) }
/// ```
pub trait AsyncResolver: Send + Sync + 'static {
    /// What [`resolve`](Self::resolve) needs from the request.
    type Input: Send + 'static;

    /// Takes the input from `request`; `None` when the request names no
    /// tenant this way.
    ///
    /// # Errors
    ///
    /// The request names a tenant badly.
    fn extract(&self, request: &RequestView<'_>) -> Result<Option<Self::Input>, TenancyError>;

    /// The tenant key `input` stands for; `None` for none.
    fn resolve(
        &self,
        input: Self::Input,
    ) -> BoxFuture<'_, Result<Option<Resolution>, TenancyError>>;
}

/// The future of an asynchronous resolution.
pub(crate) type Resolving = BoxFuture<'static, Result<Option<Resolution>, TenancyError>>;

/// An [`AsyncResolver`] behind a pointer, input type erased.
pub(crate) trait DynAsyncResolver: Send + Sync {
    /// Extracts, and returns the future of the rest (`None`: names no tenant).
    fn start(self: Arc<Self>, request: &RequestView<'_>)
    -> Result<Option<Resolving>, TenancyError>;
}

impl<A: AsyncResolver> DynAsyncResolver for A {
    fn start(
        self: Arc<Self>,
        request: &RequestView<'_>,
    ) -> Result<Option<Resolving>, TenancyError> {
        let Some(input) = self.extract(request)? else {
            return Ok(None);
        };
        Ok(Some(Box::pin(async move { self.resolve(input).await })))
    }
}
