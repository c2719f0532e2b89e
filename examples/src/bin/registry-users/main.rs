//! A master registry and one database per tenant; the tenant comes from the
//! subdomain — the Flask database-per-tenant tutorials, ported. See README.md.

use std::sync::Arc;

use actix_web::web::{self, Data, Json};
use actix_web::{App, HttpResponse, HttpServer};
use serde::{Deserialize, Serialize};
use tenancy_actix::{TenancyMiddleware, TenantDb, TenantRejection};
use tenancy_core::{BoxError, CachedStore, SubdomainResolver, Tenancy, TenancyError, TenantId};
use tenancy_sqlx::database::{PoolConfig, SqliteDatabases};
use tenancy_sqlx::{AnyRegistry, DatabaseManager, NewTenant, TenantMigrations, TenantPools};

/// A user of one tenant, in the tenant's own database.
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

type Pools = TenantPools<SqliteDatabases>;

#[actix_web::main]
async fn main() -> Result<(), BoxError> {
    tenancy_examples::init_tracing();
    let registry_url = std::env::var("TENANCY_DATABASE_URL")
        .unwrap_or_else(|_| "sqlite://./data/registry-users/registry.db".into());
    let tenants_dir = std::env::var("TENANCY_TENANTS_DIR")
        .unwrap_or_else(|_| "./data/registry-users/tenants".into());
    let listen = std::env::var("TENANCY_LISTEN").unwrap_or_else(|_| "127.0.0.1:8082".into());

    // The master registry (any backend, by URL) and the tenant databases.
    let registry = AnyRegistry::connect(&registry_url).await?;
    let migrations = TenantMigrations::from_sql([(
        1,
        "users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)",
    )])?;
    let pools = TenantPools::new(SqliteDatabases::new(&tenants_dir)?, PoolConfig::new());
    let manager = DatabaseManager::new(registry.clone(), pools, migrations);
    for (id, name) in [("acme", "Acme Corp"), ("globex", "Globex")] {
        match manager
            .create(NewTenant::new(TenantId::new(id)?, name))
            .await
        {
            Ok(_) | Err(TenancyError::TenantExists { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }

    // acme.localhost is tenant acme; localhost itself names no tenant.
    let cache = Arc::new(CachedStore::new(registry.clone()));
    registry.subscribe(cache.clone());
    let tenancy = Tenancy::new(SubdomainResolver::new(["localhost"])?, cache);
    let middleware = TenancyMiddleware::new(tenancy);
    let pools = Data::new(manager.pools().clone());

    let server = HttpServer::new(move || {
        App::new()
            .wrap(middleware.clone())
            .app_data(pools.clone())
            .route("/users", web::get().to(list_users))
            .route("/users", web::post().to(create_user))
    })
    .bind(&listen)?;
    for addr in server.addrs() {
        tenancy_examples::announce(addr);
    }
    server.run().await?;
    Ok(())
}

/// `GET /users` on `{tenant}.localhost`: the tenant's users, from its database.
async fn list_users(db: TenantDb<Pools>) -> Result<HttpResponse, TenantRejection> {
    // The connection is taken here, when the handler needs it (a tenant
    // database that cannot be opened answers with its rejection, e.g. 503).
    let mut conn = db.into_handle().await?;
    Ok(
        match sqlx::query_as::<_, User>("SELECT id, name FROM users ORDER BY id")
            .fetch_all(&mut *conn)
            .await
        {
            Ok(users) => HttpResponse::Ok().json(users),
            Err(error) => unavailable(&error),
        },
    )
}

/// `POST /users` on `{tenant}.localhost` with `{"name": "…"}`.
async fn create_user(
    db: TenantDb<Pools>,
    Json(user): Json<NewUser>,
) -> Result<HttpResponse, TenantRejection> {
    // The body is in: only now is a connection taken from the tenant's pool.
    let mut conn = db.into_handle().await?;
    let created =
        sqlx::query_as::<_, User>("INSERT INTO users (name) VALUES (?) RETURNING id, name")
            .bind(user.name)
            .fetch_one(&mut *conn)
            .await;
    Ok(match created {
        Ok(user) => HttpResponse::Created().json(user),
        Err(error) => unavailable(&error),
    })
}

/// A database failure: logged with its cause, answered with a bare 503.
fn unavailable(error: &sqlx::Error) -> HttpResponse {
    tracing::error!(%error, "database query failed");
    HttpResponse::ServiceUnavailable().finish()
}
