//! The load benchmark's baseline on axum: `GET /items` from one schema, no tenancy.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use sqlx::PgPool;
use tenancy_examples::baseline::{BaselineConfig, list_items};
use tenancy_examples::items::Item;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = BaselineConfig::from_env()?;
    let pool = config.pool().await?;
    let app = Router::new().route("/items", get(items)).with_state(pool);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tenancy_examples::announce(listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(tenancy_examples::shutdown_signal())
        .await?;
    Ok(())
}

async fn items(State(pool): State<PgPool>) -> Result<Json<Vec<Item>>, StatusCode> {
    list_items(&pool)
        .await
        .map(Json)
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)
}
