//! `notes`: the first hour of a tenancy-rs user, as a complete app.
//!
//! Schema mode on Postgres, wired by `SchemaTenancy`; tenants named by a
//! subdomain or by a bearer token's tenant claim; a notes API whose handlers
//! never name a tenant; a background job that counts every tenant's notes.
//! It uses only the public API of `tenancy-core`, `tenancy-sqlx` and
//! `tenancy-axum`, and nothing in it can turn into a run-time `500
//! Configuration`: the `SchemaPool` travels with the gate, the tenant type is
//! the registry's, the listener lives as long as the layer.
//!
//! ```sh
//! NOTES_DATABASE_URL=postgres://localhost/notes cargo run -p tenancy-examples --bin notes
//! curl -H 'Host: acme.localhost' localhost:8080/notes
//! curl -H 'Authorization: Bearer globex.demo-signature' localhost:8080/notes
//! curl -H 'Host: acme.localhost' -d '{"body":"hello"}' -H 'Content-Type: application/json' localhost:8080/notes
//! ```
//!
//! Settings: `NOTES_DATABASE_URL` (required), `NOTES_LISTEN` (default
//! `127.0.0.1:8080`), `NOTES_COUNT_EVERY_MS` (default 1000).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, ServiceExt, extract::Request};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use tenancy_axum::{CurrentTenant, TenancyLayer, TenantDb, TenantRejection};
use tenancy_core::{
    ChainResolver, HeaderValues, RequestView, Resolution, Strategy, SubdomainResolver,
    TenancyError, TenantAccess, TenantId, TenantKey, from_fn,
};
use tenancy_sqlx::schema::{SchemaPool, SchemaTenancy};
use tenancy_sqlx::{NewTenant, RegistryTenant, TenantLifecycle, TenantMigrations};
use tower_layer::Layer;

/// The signature every demo token carries. A real app verifies a JWT here.
const DEMO_SIGNATURE: &str = "demo-signature";

/// Note counts per tenant id, refreshed by the background job.
type Counts = Arc<RwLock<HashMap<String, i64>>>;

#[derive(Serialize)]
struct Note {
    id: i64,
    body: String,
}

#[derive(Deserialize)]
struct NewNote {
    body: String,
}

/// A handler's error: the tenancy rejection as the layer renders it, or a
/// database failure.
enum AppError {
    Tenancy(TenantRejection),
    Database(sqlx::Error),
}

impl From<TenantRejection> for AppError {
    fn from(rejection: TenantRejection) -> Self {
        Self::Tenancy(rejection)
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            Self::Tenancy(rejection) => rejection.into_response(),
            Self::Database(error) => {
                tracing::error!(%error, "query failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// `Authorization: Bearer <tenant>.<signature>`: the tenant claim of a
/// token; `401 InvalidToken` for a token that does not verify.
fn bearer_claim(request: &RequestView<'_>) -> Result<Option<Resolution>, TenancyError> {
    let HeaderValues::One(value) = request.header("authorization") else {
        return Ok(None);
    };
    let invalid = || {
        TenancyError::refused(
            StatusCode::UNAUTHORIZED,
            "InvalidToken",
            "the bearer token is not valid",
        )
    };
    let token = std::str::from_utf8(value)
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "));
    let (tenant, signature) = token
        .and_then(|token| token.split_once('.'))
        .ok_or_else(invalid)?;
    if signature != DEMO_SIGNATURE {
        return Err(invalid());
    }
    let id = TenantId::new(tenant).map_err(|_| invalid())?;
    Ok(Some(Resolution::new(
        TenantKey::Id(id),
        Strategy::Custom("bearer token"),
    )))
}

async fn list(mut db: TenantDb<SchemaPool>) -> Result<Json<Vec<Note>>, AppError> {
    let tx = db.open().await?;
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, body FROM notes ORDER BY id")
        .fetch_all(&mut *tx)
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, body)| Note { id, body })
            .collect(),
    ))
}

async fn add(
    db: TenantDb<SchemaPool>,
    Json(note): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), AppError> {
    let mut tx = db.into_handle().await?;
    let id: i64 = sqlx::query_scalar("INSERT INTO notes (body) VALUES ($1) RETURNING id")
        .bind(&note.body)
        .fetch_one(&mut tx)
        .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Note {
            id,
            body: note.body,
        }),
    ))
}

async fn stats(
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    State(counts): State<Counts>,
) -> Json<serde_json::Value> {
    let count = counts
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(tenant.id().as_str())
        .copied();
    Json(serde_json::json!({ "tenant": tenant.id().as_str(), "notes": count }))
}

/// Every `every`, counts each active tenant's notes inside its scope.
async fn count_notes(schema: Arc<SchemaTenancy>, counts: Counts, every: Duration) {
    loop {
        let schemas = schema.schemas().clone();
        let results = schema
            .manager()
            .for_each_tenant(4, move |_tenant| {
                let schemas = schemas.clone();
                async move {
                    let mut tx = schemas.open_current().await?;
                    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM notes")
                        .fetch_one(&mut tx)
                        .await
                        .map_err(TenancyError::storage)
                }
            })
            .await;
        match results {
            Ok(results) => {
                let mut counts = counts
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (id, count) in results {
                    match count {
                        Ok(count) => drop(counts.insert(id.to_string(), count)),
                        Err(error) => tracing::warn!(%id, %error, "counting failed"),
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "listing tenants failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Prints the address the app listens on, for the user (and the smoke test).
/// Written here rather than taken from `tenancy_examples`: the example uses
/// only the libraries' public API.
#[allow(clippy::print_stdout)]
fn announce(addr: std::net::SocketAddr) {
    println!("listening on http://{addr}");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr) // stdout carries the address
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let url = std::env::var("NOTES_DATABASE_URL")
        .map_err(|_| "set NOTES_DATABASE_URL to a Postgres database")?;
    let listen = std::env::var("NOTES_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let every = std::env::var("NOTES_COUNT_EVERY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(1000);

    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect(&url)
        .await?;
    let resolver = ChainResolver::new()
        .with(SubdomainResolver::new(["localhost"])?)
        .with(from_fn(bearer_claim));
    let migrations = TenantMigrations::from_sql([(
        1,
        "notes",
        "CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL)",
    )])?;
    let schema = Arc::new(
        SchemaTenancy::builder(pool, resolver)
            .migrations(migrations)
            .build()
            .await?,
    );
    for (id, name) in [("acme", "Acme Corp"), ("globex", "Globex")] {
        schema
            .manager()
            .create_if_missing(NewTenant::new(TenantId::new(id)?, name))
            .await?;
    }

    let counts = Counts::default();
    tokio::spawn(count_notes(
        Arc::clone(&schema),
        Arc::clone(&counts),
        Duration::from_millis(every),
    ));

    let router = Router::new()
        .route("/notes", get(list).post(add))
        .route("/stats", get(stats))
        .route("/health", get(|| async { "ok" }))
        .with_state(counts);
    let app = TenancyLayer::new(schema.gate().central_route("/health")).layer(router);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    announce(listener.local_addr()?);
    axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await?;
    Ok(())
}
