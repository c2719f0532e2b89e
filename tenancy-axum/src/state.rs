//! The state a layer shares with its services and futures, and what they do
//! with the gate's outcome on each request.

use std::sync::Arc;

use axum::extract::OriginalUri;
use axum::response::Response;
use http::uri::PathAndQuery;
use http::{Request, Uri};
use tenancy_core::adapter::{AdapterState, Outcome};
use tenancy_core::{TenancyError, TenantStore};

use crate::error::ErrorRenderer;

/// The state of one layer, shared by its services and their futures.
pub(crate) type LayerState<S> = AdapterState<S, Arc<dyn ErrorRenderer>>;

/// Carries the gate's outcome out on `request`: marks it (and attaches the
/// tenant), or gives the answer to send instead of running it.
pub(crate) fn apply<S: TenantStore + 'static, B>(
    state: &LayerState<S>,
    outcome: Outcome<S::Tenant>,
    request: &mut Request<B>,
    span: &tracing::Span,
) -> Option<Response> {
    let admitted = state.admit(outcome, span, |resolved| {
        let uri = request.uri();
        if let Some(target) = state
            .gate()
            .routed_target(&resolved, uri.path(), uri.query())?
        {
            route_to(request, target)?;
        }
        request.extensions_mut().insert(resolved);
        Ok(())
    });
    match admitted {
        Ok(mark) => {
            request.extensions_mut().insert(mark);
            None
        }
        Err(error) => Some(state.renderer().render(&error)),
    }
}

/// Routes `request` to `target` (path and query), keeping the URI it came
/// with as [`OriginalUri`].
fn route_to<B>(request: &mut Request<B>, target: String) -> Result<(), TenancyError> {
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = PathAndQuery::try_from(target).ok();
    let routed = Uri::from_parts(parts).map_err(|_| TenancyError::Configuration {
        message: "the routed request URI is invalid".to_owned(),
    })?;
    let original = std::mem::replace(request.uri_mut(), routed);
    if request.extensions().get::<OriginalUri>().is_none() {
        request.extensions_mut().insert(OriginalUri(original));
    }
    Ok(())
}
