//! Shared schema with a tenant column; the tenant comes from a `?tenant=`
//! query parameter — the Flask shared-schema tutorial, ported. See README.md.

use std::sync::Arc;

use axum::extract::{Extension, Json};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, ServiceExt};
use serde::{Deserialize, Serialize};
use tenancy_axum::{TenancyLayer, TenantDb};
use tenancy_core::{
    BoxError, CachedStore, RequestView, Resolution, Strategy, Tenancy, TenancyError, TenantId,
    TenantKey, from_fn,
};
use tenancy_sqlx::registry::SqliteRegistry;
use tenancy_sqlx::shared::keyed::{SqliteSharedManager, SqliteSharedPool};
use tenancy_sqlx::{Ident, NewTenant, RegistryConfig, TenantMigrations};
use tower_layer::Layer;

/// A user of one tenant.
#[derive(Debug, Serialize, sqlx::FromRow)]
struct User {
    id: i64,
    name: String,
}

/// The body of `POST /users`.
#[derive(Debug, Deserialize)]
struct NewUser {
    name: String,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tenancy_examples::init_tracing();
    let url = std::env::var("TENANCY_DATABASE_URL")
        .unwrap_or_else(|_| "sqlite://./data/shared-users.db".into());
    let listen = std::env::var("TENANCY_LISTEN").unwrap_or_else(|_| "127.0.0.1:8081".into());

    // One SQLite file: the tenant registry and the shared `users` table.
    let path = url.trim_start_matches("sqlite://");
    if let Some(parent) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(parent)?;
    }
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
    let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true)).await?;
    let registry = SqliteRegistry::connect(pool.clone(), RegistryConfig::default()).await?;
    let users = SqliteSharedPool::new(pool).tables([Ident::new("users")?]);
    let migrations = TenantMigrations::from_sql([(
        1,
        "users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, name TEXT NOT NULL); \
         CREATE INDEX users_tenant ON users (tenant_id, id)",
    )])?;
    let manager = SqliteSharedManager::new(registry.clone(), users.clone(), migrations);
    manager.setup().await?;
    for (id, name) in [("acme", "Acme Corp"), ("globex", "Globex")] {
        match manager
            .create(NewTenant::new(TenantId::new(id)?, name))
            .await
        {
            Ok(_) | Err(TenancyError::TenantExists { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }

    // The tenant is named by `?tenant=…`; a missing parameter names none.
    let by_query = from_fn(
        |request: &RequestView<'_>| -> Result<Option<Resolution>, TenancyError> {
            request
                .query_param("tenant")
                .map(|value| {
                    Ok(Resolution::new(
                        TenantKey::Id(TenantId::new(value)?),
                        Strategy::Custom("query"),
                    ))
                })
                .transpose()
        },
    );
    let cache = Arc::new(CachedStore::new(registry.clone()));
    registry.subscribe(cache.clone());
    let tenancy = Tenancy::new(by_query, cache);

    let router = Router::new()
        .route("/users", get(list_users).post(create_user))
        .layer(Extension(users));
    let app = TenancyLayer::new(tenancy).layer(router);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tenancy_examples::announce(listener.local_addr()?);
    axum::serve(
        listener,
        ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .with_graceful_shutdown(tenancy_examples::shutdown_signal())
    .await?;
    Ok(())
}

/// `GET /users?tenant=acme`: the tenant's users. The scoped helper binds the
/// tenant key wherever `{tenant}` stands, and refuses SQL without it.
async fn list_users(mut db: TenantDb<SqliteSharedPool>) -> Result<Json<Vec<User>>, Response> {
    // The transaction is opened here, when the handler needs it.
    let tx = db.open().await.map_err(IntoResponse::into_response)?;
    let users = tx
        .query_as::<User>("SELECT id, name FROM users WHERE tenant_id = {tenant} ORDER BY id")
        .fetch_all()
        .await
        .map_err(unavailable)?;
    Ok(Json(users))
}

/// `POST /users?tenant=acme` with `{"name": "…"}`.
async fn create_user(
    db: TenantDb<SqliteSharedPool>,
    Json(user): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), Response> {
    // The body is in: only now is a connection taken for the transaction.
    let mut tx = db
        .into_handle()
        .await
        .map_err(IntoResponse::into_response)?;
    let created = tx
        .query_as::<User>(
            "INSERT INTO users (tenant_id, name) VALUES ({tenant}, ?) RETURNING id, name",
        )
        .bind(user.name)
        .fetch_one()
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// A database failure: logged with its cause, answered with a bare 503.
fn unavailable(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "database query failed");
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}
