//! The load benchmark's baseline: the same `GET /items` endpoint and query as
//! the items app, on one fixed schema, with no tenancy at all.
//!
//! Configuration: `TENANCY_LISTEN` (default `127.0.0.1:8080`),
//! `TENANCY_DATABASE_URL` (a Postgres URL), `BASELINE_SCHEMA` (the schema
//! holding the `items` table; default `public`), `TENANCY_POOL_SIZE`
//! (default 10, the same default as the items app).

use std::net::SocketAddr;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::items::Item;

/// The baseline's settings, from the environment.
#[derive(Debug, Clone)]
pub struct BaselineConfig {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Postgres URL.
    pub database_url: String,
    /// Schema of the `items` table.
    pub schema: String,
    /// Pool size.
    pub pool_size: u32,
}

impl BaselineConfig {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        Ok(Self {
            listen: var("TENANCY_LISTEN")
                .unwrap_or_else(|| "127.0.0.1:8080".into())
                .parse()?,
            database_url: var("TENANCY_DATABASE_URL")
                .ok_or("TENANCY_DATABASE_URL must name a Postgres database")?,
            schema: var("BASELINE_SCHEMA").unwrap_or_else(|| "public".into()),
            pool_size: var("TENANCY_POOL_SIZE")
                .map(|size| size.parse())
                .transpose()?
                .unwrap_or(10),
        })
    }

    /// A pool whose connections use the baseline schema.
    pub async fn pool(&self) -> Result<PgPool, sqlx::Error> {
        let schema = self.schema.clone();
        PgPoolOptions::new()
            .max_connections(self.pool_size)
            .after_connect(move |conn, _| {
                let schema = schema.clone();
                Box::pin(async move {
                    sqlx::query("SELECT set_config('search_path', $1, false)")
                        .bind(&schema)
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            })
            .connect(&self.database_url)
            .await
    }
}

/// `SELECT id, name, capacity FROM items ORDER BY id`.
pub async fn list_items(pool: &PgPool) -> Result<Vec<Item>, sqlx::Error> {
    let rows: Vec<(i64, String, f64)> =
        sqlx::query_as("SELECT id, name, capacity FROM items ORDER BY id")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, capacity)| Item { id, name, capacity })
        .collect())
}
