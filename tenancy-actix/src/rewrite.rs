//! Path-prefix rewriting: `/t/acme/items` is routed as `/items`.

use actix_web::http::Uri;
use actix_web::http::uri::PathAndQuery;
use tenancy_core::{Resolved, Tenant};

/// The request URI as received, before the tenant path prefix was stripped.
///
/// The [`TenancyMiddleware`](crate::TenancyMiddleware) inserts it into the
/// request extensions when it rewrites a path; read it with
/// `web::ReqData<OriginalUri>` or `req.extensions().get::<OriginalUri>()`.
/// Absent when nothing was rewritten (then `req.uri()` is the original).
///
/// ```
/// use actix_web::{HttpRequest, HttpMessage};
/// use tenancy_actix::OriginalUri;
///
/// async fn handler(request: HttpRequest) -> String {
///     match request.extensions().get::<OriginalUri>() {
///         Some(OriginalUri(uri)) => uri.to_string(),   // e.g. "/t/acme/items"
///         None => request.uri().to_string(),
///     }
/// }
/// # let _ = handler;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalUri(pub Uri);

/// `uri` with the tenant prefix removed from its path; the query is kept.
pub(crate) fn rewritten_uri<T: Tenant>(uri: &Uri, resolved: &Resolved<T>) -> Option<Uri> {
    let path = uri.path();
    let routed = resolved.routed_path(path);
    if routed.len() == path.len() {
        // Nothing to strip: the prefix does not belong to this path.
        return None;
    }
    let path_and_query = match uri.query() {
        Some(query) => PathAndQuery::try_from(format!("{routed}?{query}")),
        None => PathAndQuery::try_from(routed),
    }
    .ok()?;
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).ok()
}
