//! The state a middleware shares with its services, and what they do with
//! the gate's outcome on each request.

use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::http::Uri;
use actix_web::http::uri::PathAndQuery;
use actix_web::{HttpMessage, HttpResponse};
use tenancy_core::adapter::{AdapterState, Outcome};
use tenancy_core::{Resolved, TenancyError, TenantStore};

use crate::error::ErrorRenderer;

/// The state of one middleware, shared by its services and their futures.
pub(crate) type MiddlewareState<S> = AdapterState<S, Arc<dyn ErrorRenderer>>;

/// The request URI before the middleware stripped a tenant path prefix.
///
/// In the request extensions when a prefix was stripped (actix-web has no
/// `OriginalUri` of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalUri(pub Uri);

/// Carries the gate's outcome out on `request`: attaches the tenant (and
/// routes the request without its path prefix) and marks it, or gives the
/// answer to send instead.
pub(crate) fn apply<S: TenantStore + 'static>(
    state: &MiddlewareState<S>,
    outcome: Outcome<S::Tenant>,
    request: &mut ServiceRequest,
    span: &tracing::Span,
) -> Option<HttpResponse> {
    let attach = |resolved: Resolved<S::Tenant>| {
        let uri = request.uri();
        let target = state
            .gate()
            .routed_target(&resolved, uri.path(), uri.query())?;
        if let Some(target) = target {
            reroute(request, target)?;
        }
        request.extensions_mut().insert(resolved);
        Ok(())
    };
    match state.admit(outcome, span, attach) {
        Ok(mark) => {
            request.extensions_mut().insert(mark);
            None
        }
        Err(error) => Some(state.renderer().render(&error)),
    }
}

/// Routes `request` to `target` before the App's router sees it.
fn reroute(request: &mut ServiceRequest, target: String) -> Result<(), TenancyError> {
    let match_info = request.match_info();
    let unrouted = match_info.unprocessed().len() == match_info.as_str().len();
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = PathAndQuery::try_from(target).ok();
    let (true, Ok(routed)) = (unrouted, Uri::from_parts(parts)) else {
        // Routing already consumed part of the path: the middleware wraps a
        // scope or resource, not the App, and cannot reroute.
        return Err(TenancyError::Configuration {
            message: "tenant path prefixes can only be stripped by a middleware on the App"
                .to_owned(),
        });
    };
    // Routing matches `match_info` (a `Url` made from the URI when the
    // request was created), not the head's URI: update both, as actix-web's
    // own `NormalizePath` does.
    request.match_info_mut().get_mut().update(&routed);
    let original = std::mem::replace(&mut request.head_mut().uri, routed);
    request.extensions_mut().insert(OriginalUri(original));
    Ok(())
}
