//! The load benchmark's baselines: the same `GET /items` endpoint and query
//! as the items app, with no tenancy library at all, either
//!
//! - on one fixed schema (`BASELINE_SCHEMA`, default `public`): the cost of
//!   serving one schema, or
//! - by hand on the schema the `Host` names (`BASELINE_BY_HOST=1`): per
//!   request the first label of the host (`t0001.localhost`) picks the schema
//!   `tenant_t0001`, and the handler runs `BEGIN`, `set_config('search_path',
//!   …, true)`, the select and `COMMIT` itself — what a team would commonly
//!   write without the library (the items app instead runs one
//!   schema-qualified statement, so the difference is not the layer's cost
//!   alone).
//!
//! Configuration: `TENANCY_LISTEN` (default `127.0.0.1:8080`),
//! `TENANCY_DATABASE_URL` (a Postgres URL), `TENANCY_POOL_SIZE` (default 10,
//! the same default as the items app).

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
    /// Schema of the `items` table (unless `by_host`).
    pub schema: String,
    /// Whether each request's `Host` picks its schema (`BASELINE_BY_HOST=1`).
    pub by_host: bool,
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
            by_host: var("BASELINE_BY_HOST").is_some_and(|value| value == "1"),
            pool_size: var("TENANCY_POOL_SIZE")
                .map(|size| size.parse())
                .transpose()?
                .unwrap_or(10),
        })
    }

    /// A pool whose connections use the baseline schema (a plain pool when
    /// requests pick their schema).
    pub async fn pool(&self) -> Result<PgPool, sqlx::Error> {
        let options = PgPoolOptions::new().max_connections(self.pool_size);
        if self.by_host {
            return options.connect(&self.database_url).await;
        }
        let schema = self.schema.clone();
        options
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

/// The items app's query.
const LIST: &str = "SELECT id, name, capacity FROM items ORDER BY id";

/// `SELECT id, name, capacity FROM items ORDER BY id`.
pub async fn list_items(pool: &PgPool) -> Result<Vec<Item>, sqlx::Error> {
    let rows: Vec<(i64, String, f64)> = sqlx::query_as(LIST).fetch_all(pool).await?;
    Ok(rows.into_iter().map(Item::from).collect())
}

/// The schema a `Host` header names by hand: `tenant_<first label>`, quoted
/// for `search_path`; `None` unless the label is 1–63 of `a-z 0-9 -`.
pub fn schema_of_host(host: &str) -> Option<String> {
    let (label, _) = host.split_once('.')?;
    let valid = (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    valid.then(|| format!("\"tenant_{label}\""))
}

/// The items of the schema `host` names, the way a handler would do it
/// without a library: `BEGIN`, a transaction-local `search_path`, the
/// select, `COMMIT`. `Ok(None)` for a host that names no schema.
pub async fn list_items_of_host(
    pool: &PgPool,
    host: &str,
) -> Result<Option<Vec<Item>>, sqlx::Error> {
    let Some(schema) = schema_of_host(host) else {
        return Ok(None);
    };
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(schema)
        .execute(&mut *tx)
        .await?;
    let rows: Vec<(i64, String, f64)> = sqlx::query_as(LIST).fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(Some(rows.into_iter().map(Item::from).collect()))
}

impl From<(i64, String, f64)> for Item {
    fn from((id, name, capacity): (i64, String, f64)) -> Self {
        Self { id, name, capacity }
    }
}

#[cfg(test)]
mod tests {
    use super::schema_of_host;

    #[test]
    fn the_first_label_names_the_schema() {
        assert_eq!(
            schema_of_host("t0001.localhost").as_deref(),
            Some("\"tenant_t0001\"")
        );
        assert_eq!(
            schema_of_host("a-b.localhost").as_deref(),
            Some("\"tenant_a-b\"")
        );
        for bad in [
            "localhost",
            ".localhost",
            "T1.localhost",
            "x\".localhost",
            "a b.localhost",
        ] {
            assert_eq!(schema_of_host(bad), None, "{bad}");
        }
    }
}
