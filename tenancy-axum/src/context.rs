//! What the layer shares with its services, futures and extractors.

use std::any::{TypeId, type_name};
use std::fmt;
use std::sync::Arc;

use axum::extract::OriginalUri;
use axum::response::Response;
use http::uri::PathAndQuery;
use http::{Request, Uri};
use tenancy_core::{Resolved, Tenancy, TenancyError, Tenant, TenantStore};

use crate::error::ErrorRenderer;
use crate::routes::Routes;

/// Inserted into the extensions of every request the layer lets through.
///
/// Extractors use it to tell "no tenant" (a central host or route) from "no
/// layer" and from "a layer that resolves another tenant type", and to render
/// their rejections with the layer's renderer.
#[derive(Clone)]
pub(crate) struct TenancyContext {
    pub(crate) renderer: Arc<dyn ErrorRenderer>,
    pub(crate) tenant_type: TypeId,
    pub(crate) tenant_type_name: &'static str,
}

impl fmt::Debug for TenancyContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenancyContext")
            .field("tenant_type", &self.tenant_type_name)
            .finish_non_exhaustive()
    }
}

/// The configuration of one layer, shared by its services and their futures.
pub(crate) struct Shared<S> {
    pub(crate) tenancy: Arc<Tenancy<S>>,
    pub(crate) routes: Routes,
    pub(crate) rewrite: bool,
    pub(crate) context: TenancyContext,
}

impl<S: TenantStore> Shared<S> {
    pub(crate) fn new(
        tenancy: Arc<Tenancy<S>>,
        routes: Routes,
        rewrite: bool,
        renderer: Arc<dyn ErrorRenderer>,
    ) -> Self {
        Self {
            tenancy,
            routes,
            rewrite,
            context: TenancyContext {
                renderer,
                tenant_type: TypeId::of::<S::Tenant>(),
                tenant_type_name: type_name::<S::Tenant>(),
            },
        }
    }

    /// Marks a request as handled by this layer (with or without a tenant).
    pub(crate) fn mark<B>(&self, request: &mut Request<B>) {
        request.extensions_mut().insert(self.context.clone());
    }

    /// Attaches a resolved tenant and strips the tenant's path prefix.
    pub(crate) fn attach<B>(
        &self,
        request: &mut Request<B>,
        resolved: Resolved<S::Tenant>,
    ) -> Result<(), TenancyError> {
        if self.rewrite && resolved.path_prefix_len() > 0 {
            let routed = rewritten_uri(request.uri(), &resolved).ok_or_else(|| {
                TenancyError::Configuration {
                    message: "the tenant path prefix could not be removed from the request URI"
                        .to_owned(),
                }
            })?;
            let original = std::mem::replace(request.uri_mut(), routed);
            if request.extensions().get::<OriginalUri>().is_none() {
                request.extensions_mut().insert(OriginalUri(original));
            }
        }
        self.mark(request);
        request.extensions_mut().insert(resolved);
        Ok(())
    }

    /// Renders `error` with the layer's renderer, logging server errors.
    pub(crate) fn render(&self, error: &TenancyError) -> Response {
        if error.is_server_error() {
            tracing::error!(
                error = error as &dyn std::error::Error,
                "tenant resolution failed"
            );
        } else {
            tracing::debug!(error = %error, "tenant resolution refused the request");
        }
        self.context.renderer.render(error)
    }
}

/// `uri` with the tenant prefix removed from its path; the query is kept.
fn rewritten_uri<T: Tenant>(uri: &Uri, resolved: &Resolved<T>) -> Option<Uri> {
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

#[cfg(test)]
mod tests {
    use tenancy_core::{InMemoryStore, PathPrefixResolver, Tenancy, TenantId, TenantRecord};

    use super::*;

    async fn resolve(uri: &str) -> Option<Uri> {
        let store =
            InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme").unwrap(), "Acme")]);
        let tenancy = Tenancy::new(PathPrefixResolver::new("/t").unwrap(), store);
        let request = Request::builder().uri(uri).body(()).unwrap();
        let resolved = tenancy.resolve(&request).await.unwrap().unwrap();
        rewritten_uri(request.uri(), &resolved)
    }

    #[tokio::test]
    async fn strips_the_prefix_and_keeps_the_query() {
        let uri = resolve("/t/acme/items?page=2&q=a%20b").await.unwrap();
        assert_eq!(uri.to_string(), "/items?page=2&q=a%20b");
        assert_eq!(resolve("/t/acme").await.unwrap().to_string(), "/");
        assert_eq!(resolve("/t/acme?x=1").await.unwrap().to_string(), "/?x=1");
        assert_eq!(resolve("/t/acme/").await.unwrap().to_string(), "/");
        let absolute = resolve("https://acme.example.com/t/acme/items/7")
            .await
            .unwrap();
        assert_eq!(absolute.to_string(), "https://acme.example.com/items/7");
    }
}
