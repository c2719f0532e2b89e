//! The load benchmark's baselines on axum: `GET /items` from one schema, or
//! from the schema the `Host` names by hand (`BASELINE_BY_HOST=1`); no tenancy.

use axum::extract::State;
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use sqlx::PgPool;
use tenancy_examples::baseline::{BaselineConfig, list_items, list_items_of_host};
use tenancy_examples::items::Item;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = BaselineConfig::from_env()?;
    let pool = config.pool().await?;
    let app = if config.by_host {
        Router::new().route("/items", get(items_of_host))
    } else {
        Router::new().route("/items", get(items))
    }
    .with_state(pool);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tenancy_examples::announce(listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(tenancy_examples::shutdown_signal())
        .await?;
    Ok(())
}

async fn items_of_host(
    State(pool): State<PgPool>,
    headers: HeaderMap,
) -> Result<Json<Vec<Item>>, StatusCode> {
    let host = headers.get(HOST).and_then(|host| host.to_str().ok());
    match list_items_of_host(&pool, host.unwrap_or_default()).await {
        Ok(Some(items)) => Ok(Json(items)),
        Ok(None) => Err(StatusCode::NOT_FOUND),
        Err(_) => Err(StatusCode::SERVICE_UNAVAILABLE),
    }
}

async fn items(State(pool): State<PgPool>) -> Result<Json<Vec<Item>>, StatusCode> {
    list_items(&pool)
        .await
        .map(Json)
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)
}
