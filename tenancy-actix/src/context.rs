//! What the middleware shares with its services, futures and extractors.

use std::any::{TypeId, type_name};
use std::fmt;
use std::sync::Arc;

use actix_web::HttpMessage;
use actix_web::HttpResponse;
use actix_web::dev::ServiceRequest;
use tenancy_core::{Resolved, Tenancy, TenancyError, TenantStore};

use crate::error::ErrorRenderer;
use crate::rewrite::{OriginalUri, rewritten_uri};
use crate::routes::Routes;

/// Inserted into the extensions of every request the middleware lets through.
///
/// Extractors use it to tell "no tenant" (a central host or route) from "no
/// middleware" and from "a middleware that resolves another tenant type", and
/// to render their rejections with the middleware's renderer.
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

/// The configuration of one middleware, shared by its services and futures.
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

    /// Marks a request as handled by this middleware (with or without a tenant).
    pub(crate) fn mark(&self, request: &ServiceRequest) {
        request.extensions_mut().insert(self.context.clone());
    }

    /// Attaches a resolved tenant and strips the tenant's path prefix before routing.
    pub(crate) fn attach(
        &self,
        request: &mut ServiceRequest,
        resolved: Resolved<S::Tenant>,
    ) -> Result<(), TenancyError> {
        if self.rewrite && resolved.path_prefix_len() > 0 {
            let match_info = request.match_info();
            if match_info.unprocessed().len() != match_info.as_str().len() {
                // Routing already consumed part of the path: the middleware wraps
                // a scope or resource, not the App, and cannot reroute.
                return Err(TenancyError::Configuration {
                    message: "tenant path prefixes can only be stripped by a middleware on the App"
                        .to_owned(),
                });
            }
            let routed = rewritten_uri(request.uri(), &resolved).ok_or_else(|| {
                TenancyError::Configuration {
                    message: "the tenant path prefix could not be removed from the request URI"
                        .to_owned(),
                }
            })?;
            // Routing matches `match_info` (a `Url` made from the URI when the
            // request was created), not the head's URI: update both. Like
            // actix-web's own `NormalizePath`, this needs the only handle on
            // the request, which an App-level middleware has (actix-web's
            // router needs it too, right after).
            request.match_info_mut().get_mut().update(&routed);
            let original = std::mem::replace(&mut request.head_mut().uri, routed);
            request.extensions_mut().insert(OriginalUri(original));
        }
        let mut extensions = request.extensions_mut();
        extensions.insert(self.context.clone());
        extensions.insert(resolved);
        Ok(())
    }

    /// Renders `error` with the middleware's renderer, logging server errors.
    pub(crate) fn render(&self, error: &TenancyError) -> HttpResponse {
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
