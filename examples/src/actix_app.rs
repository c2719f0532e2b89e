//! The items app on actix-web: routes, JSON rejections, the tenancy middleware.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::web::{self, Data, Json, JsonConfig, Path};
use actix_web::{App, Error, HttpRequest, HttpResponse, ResponseError};
use tenancy_actix::{CurrentTenant, OptionalTenant, TenancyMiddleware};
use tenancy_core::{Gate, TenantStore};
use tenancy_sqlx::RegistryTenant;

use crate::items::{
    AppError, AppState, BODY_LIMIT, CloneTenant, CreateTenant, NewItem, RenameTenant,
};

/// The app for one worker: the tenancy middleware on the `App` (so that
/// `/t/{id}/…` is routed as `/…`), the routes, JSON errors everywhere.
pub fn app<S>(
    state: Arc<AppState<S>>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
>
where
    S: TenantStore<Tenant = RegistryTenant> + 'static,
{
    let middleware = TenancyMiddleware::new(
        Gate::new(Arc::clone(&state.tenancy))
            .optional()
            .central_route("/health"),
    );
    let json = JsonConfig::default()
        .limit(BODY_LIMIT)
        .error_handler(|error, _| body_error(&error).into());
    App::new()
        .app_data(Data::from(state))
        .app_data(json)
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .wrap(middleware)
        .wrap(from_fn(json_errors))
        .service(resource("/").route(web::get().to(root::<S>)))
        .service(resource("/health").route(web::get().to(health)))
        .service(
            resource("/items")
                .route(web::get().to(list_items::<S>))
                .route(web::post().to(create_item::<S>)),
        )
        .service(
            resource("/items/{id}")
                .route(web::get().to(get_item::<S>))
                .route(web::delete().to(delete_item::<S>)),
        )
        .service(
            resource("/admin/tenants")
                .route(web::get().to(list_tenants::<S>))
                .route(web::post().to(create_tenant::<S>)),
        )
        .service(resource("/admin/tenants/{id}").route(web::delete().to(delete_tenant::<S>)))
        .service(resource("/admin/tenants/{id}/activate").route(web::post().to(activate::<S>)))
        .service(resource("/admin/tenants/{id}/deactivate").route(web::post().to(deactivate::<S>)))
        .service(resource("/admin/tenants/{id}/rename").route(web::post().to(rename_tenant::<S>)))
        .service(resource("/admin/tenants/{id}/clone").route(web::post().to(clone_tenant::<S>)))
        .service(resource("/admin/migrate").route(web::post().to(migrate::<S>)))
        .default_service(web::to(not_found))
}

/// A resource whose unmatched methods answer JSON `405 MethodNotAllowed`.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

type AppResult<T> = Result<T, AppError>;

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if self.status == http::StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is not read: this connection ends after the answer.
            response.force_close();
        }
        response.json(self.body())
    }
}

fn body_error(error: &JsonPayloadError) -> AppError {
    match error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            AppError::payload_too_large()
        }
        JsonPayloadError::ContentType => AppError::invalid_body(
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(error) if error.is_data() => {
            AppError::invalid_body(http::StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
        }
        other => AppError::invalid_body(http::StatusCode::BAD_REQUEST, other.to_string()),
    }
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> AppResult<HttpResponse> {
    Err(AppError::not_found("there is no such route"))
}

async fn method_not_allowed() -> AppResult<HttpResponse> {
    Err(AppError::method_not_allowed())
}

async fn root<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
) -> HttpResponse {
    HttpResponse::Ok().json(state.root(tenant.as_ref()))
}

async fn list_items<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.list_items(&tenant).await?))
}

async fn create_item<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    Json(item): Json<NewItem>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Created().json(state.create_item(&tenant, item).await?))
}

async fn get_item<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.get_item(&tenant, &id).await?))
}

async fn delete_item<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    state.delete_item(&tenant, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The admin guard: central host, right token.
fn admin<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: &AppState<S>,
    request: &HttpRequest,
    tenant: Option<&RegistryTenant>,
) -> AppResult<()> {
    let authorization = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|value| value.as_bytes());
    state.authorize(authorization, tenant)
}

/// The admin guard first, then the body (at most `BODY_LIMIT` bytes), so an
/// unauthorised request is refused before its body is read. The refusal
/// closes the connection: the unread body cannot be skipped safely.
async fn admin_body<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: &AppState<S>,
    request: &HttpRequest,
    tenant: Option<&RegistryTenant>,
    payload: web::Payload,
) -> AppResult<Result<web::Bytes, HttpResponse>> {
    if let Err(error) = admin(state, request, tenant) {
        let refused = HttpResponse::build(error.status_code())
            .force_close()
            .json(error.body());
        return Ok(Err(refused));
    }
    match payload.to_bytes_limited(BODY_LIMIT).await {
        Ok(Ok(body)) => Ok(Ok(body)),
        Ok(Err(_)) => Err(AppError::invalid_body(
            http::StatusCode::BAD_REQUEST,
            "the request body could not be read",
        )),
        Err(_) => Err(AppError::payload_too_large()),
    }
}

/// Turns any error answer without a JSON body (a framework-level rejection)
/// into the app's JSON error for its status.
async fn json_errors(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    // No clone of the request may be held across the call: routing (and the
    // tenancy middleware's path rewriting) need the only handle on it. Errors
    // are answered by their own `error_response`, which is JSON for ours.
    let response = next.call(request).await?;
    let status = response.status();
    let is_json = response
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return Ok(response.map_into_left_body());
    }
    let (request, _) = response.into_parts();
    Ok(ServiceResponse::new(request, json_error(status)).map_into_right_body())
}

fn json_error(status: StatusCode) -> HttpResponse {
    let status = http::StatusCode::from_u16(status.as_u16())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    AppError::for_status(status).error_response()
}

/// Parses a JSON body after the admin guard has passed.
fn parse<T: serde::de::DeserializeOwned>(request: &HttpRequest, body: &[u8]) -> AppResult<T> {
    let is_json = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(';')
                .next()
                .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(body_error(&JsonPayloadError::ContentType));
    }
    serde_json::from_slice(body).map_err(|error| body_error(&JsonPayloadError::Deserialize(error)))
}

async fn list_tenants<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    request: HttpRequest,
) -> AppResult<HttpResponse> {
    admin(&state, &request, tenant.as_ref())?;
    Ok(HttpResponse::Ok().json(state.list_tenants().await?))
}

async fn create_tenant<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    request: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let body = match admin_body(&state, &request, tenant.as_ref(), payload).await? {
        Ok(body) => body,
        Err(refused) => return Ok(refused),
    };
    let body: CreateTenant = parse(&request, &body)?;
    Ok(HttpResponse::Created().json(state.create_tenant(body).await?))
}

async fn activate<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    request: HttpRequest,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    admin(&state, &request, tenant.as_ref())?;
    Ok(HttpResponse::Ok().json(state.set_active(&id, true).await?))
}

async fn deactivate<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    request: HttpRequest,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    admin(&state, &request, tenant.as_ref())?;
    Ok(HttpResponse::Ok().json(state.set_active(&id, false).await?))
}

async fn rename_tenant<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    request: HttpRequest,
    id: Path<String>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let body = match admin_body(&state, &request, tenant.as_ref(), payload).await? {
        Ok(body) => body,
        Err(refused) => return Ok(refused),
    };
    let body: RenameTenant = parse(&request, &body)?;
    Ok(HttpResponse::Ok().json(state.rename_tenant(&id, body).await?))
}

async fn clone_tenant<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    request: HttpRequest,
    id: Path<String>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let body = match admin_body(&state, &request, tenant.as_ref(), payload).await? {
        Ok(body) => body,
        Err(refused) => return Ok(refused),
    };
    let body: CloneTenant = parse(&request, &body)?;
    Ok(HttpResponse::Created().json(state.clone_tenant(&id, body).await?))
}

async fn delete_tenant<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    request: HttpRequest,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    admin(&state, &request, tenant.as_ref())?;
    state.delete_tenant(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn migrate<S: TenantStore<Tenant = RegistryTenant> + 'static>(
    state: Data<AppState<S>>,
    OptionalTenant(tenant): OptionalTenant<RegistryTenant>,
    request: HttpRequest,
) -> AppResult<HttpResponse> {
    admin(&state, &request, tenant.as_ref())?;
    Ok(HttpResponse::Ok().json(state.migrate().await?))
}
