//! The items app on axum: routes, JSON rejections, the tenancy layer.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tenancy_axum::{CurrentTenant, OptionalTenant, TenancyLayer, TenancyService};
use tenancy_core::{Gate, TenantStore};
use tenancy_sqlx::RegistryTenant;
use tower_layer::Layer;

use crate::items::{
    AppError, AppState, BODY_LIMIT, CloneTenant, CreateTenant, NewItem, RenameTenant,
};

/// The app: the router wrapped in the tenancy layer (so that `/t/{id}/…` is
/// routed as `/…`). Serve it with `axum::ServiceExt::into_make_service`.
pub fn app<S>(state: &Arc<AppState<S>>) -> TenancyService<Router, S>
where
    S: TenantStore<Tenant = RegistryTenant> + 'static,
{
    let router = Router::new()
        .route("/", get(root::<S>))
        .route("/health", get(health))
        .route("/items", get(list_items::<S>).post(create_item::<S>))
        .route("/items/{id}", get(get_item::<S>).delete(delete_item::<S>))
        .route(
            "/admin/tenants",
            get(list_tenants::<S>).post(create_tenant::<S>),
        )
        .route("/admin/tenants/{id}", delete(delete_tenant::<S>))
        .route("/admin/tenants/{id}/activate", post(activate::<S>))
        .route("/admin/tenants/{id}/deactivate", post(deactivate::<S>))
        .route("/admin/tenants/{id}/rename", post(rename_tenant::<S>))
        .route("/admin/tenants/{id}/clone", post(clone_tenant::<S>))
        .route("/admin/migrate", post(migrate::<S>))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(Arc::clone(state));
    TenancyLayer::new(
        Gate::new(Arc::clone(&state.tenancy))
            .optional()
            .central_route("/health"),
    )
    .layer(router)
}

type AppResult<T> = Result<T, AppError>;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is not read: tell the client this
            // connection ends after the answer.
            response
                .headers_mut()
                .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
        }
        response
    }
}

/// `Json<T>` whose rejections are JSON `InvalidBody` / `PayloadTooLarge` errors.
struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(body_error(&rejection)),
        }
    }
}

fn body_error(rejection: &JsonRejection) -> AppError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::payload_too_large(),
        status => AppError::invalid_body(status, rejection.body_text()),
    }
}

/// Turns any error answer without a JSON body (a framework-level rejection)
/// into the app's JSON error for its status.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    AppError::for_status(status).into_response()
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> AppError {
    AppError::not_found("there is no such route")
}

async fn method_not_allowed() -> AppError {
    AppError::method_not_allowed()
}

async fn root<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
) -> Json<serde_json::Value> {
    Json(state.root(tenant.as_ref()))
}

async fn list_items<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
) -> AppResult<Response> {
    Ok(Json(state.list_items(&tenant).await?).into_response())
}

async fn create_item<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    JsonBody(item): JsonBody<NewItem>,
) -> AppResult<Response> {
    Ok((
        StatusCode::CREATED,
        Json(state.create_item(&tenant, item).await?),
    )
        .into_response())
}

async fn get_item<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    Ok(Json(state.get_item(&tenant, &id).await?).into_response())
}

async fn delete_item<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    state.delete_item(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The admin guard: central host, right token.
fn admin<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: &AppState<S>,
    headers: &HeaderMap,
    tenant: Option<&RegistryTenant>,
) -> AppResult<()> {
    state.authorize(
        headers
            .get(header::AUTHORIZATION)
            .map(|value| value.as_bytes()),
        tenant,
    )
}

async fn list_tenants<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    headers: HeaderMap,
) -> AppResult<Response> {
    admin(&state, &headers, tenant.as_ref())?;
    Ok(Json(state.list_tenants().await?).into_response())
}

async fn create_tenant<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    headers: HeaderMap,
    request: Request,
) -> AppResult<Response> {
    admin(&state, &headers, tenant.as_ref())?;
    let JsonBody(body) = JsonBody::<CreateTenant>::from_request(request, &()).await?;
    Ok((StatusCode::CREATED, Json(state.create_tenant(body).await?)).into_response())
}

async fn activate<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    admin(&state, &headers, tenant.as_ref())?;
    Ok(Json(state.set_active(&id, true).await?).into_response())
}

async fn deactivate<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    admin(&state, &headers, tenant.as_ref())?;
    Ok(Json(state.set_active(&id, false).await?).into_response())
}

async fn rename_tenant<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Request,
) -> AppResult<Response> {
    admin(&state, &headers, tenant.as_ref())?;
    let JsonBody(body) = JsonBody::<RenameTenant>::from_request(request, &()).await?;
    Ok(Json(state.rename_tenant(&id, body).await?).into_response())
}

async fn clone_tenant<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Request,
) -> AppResult<Response> {
    admin(&state, &headers, tenant.as_ref())?;
    let JsonBody(body) = JsonBody::<CloneTenant>::from_request(request, &()).await?;
    let cloned = state.clone_tenant(&id, body).await?;
    Ok((StatusCode::CREATED, Json(cloned)).into_response())
}

async fn delete_tenant<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    admin(&state, &headers, tenant.as_ref())?;
    state.delete_tenant(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn migrate<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    State(state): State<Arc<AppState<S>>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    headers: HeaderMap,
) -> AppResult<Response> {
    admin(&state, &headers, tenant.as_ref())?;
    Ok(Json(state.migrate().await?).into_response())
}
