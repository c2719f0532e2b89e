//! What the test app's handlers run: the same SQL for every framework.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{PgPool, Postgres};
use tenancy_sqlx::schema::TenantTransaction;

type Rows = Vec<(String, String)>;

fn items(rows: Rows) -> Value {
    rows.into_iter()
        .map(|(tenant, name)| json!({ "tenant": tenant, "name": name }))
        .collect()
}

async fn rows<'e>(
    executor: impl sqlx::Executor<'e, Database = Postgres>,
) -> Result<Rows, sqlx::Error> {
    sqlx::query_as("SELECT tenant, name FROM items ORDER BY id")
        .fetch_all(executor)
        .await
}

/// `{"schema": <the transaction's schema>, "items": [{"tenant", "name"}, ...]}`, ordered by id.
pub async fn list(tx: &mut TenantTransaction<'static>) -> Result<Value, sqlx::Error> {
    let rows = rows(&mut *tx).await?;
    Ok(json!({ "schema": tx.schema().as_str(), "items": items(rows) }))
}

/// Reads the items twice, with a pause in between (so that concurrent
/// requests interleave on the pool): `{"items": <both reads>}`.
pub async fn list_slowly(tx: &mut TenantTransaction<'static>) -> Result<Value, sqlx::Error> {
    let mut all = rows(&mut *tx).await?;
    sqlx::query("SELECT pg_sleep(0.002)")
        .execute(&mut *tx)
        .await?;
    tokio::time::sleep(Duration::from_millis(1)).await;
    all.extend(rows(&mut *tx).await?);
    Ok(json!({ "items": items(all) }))
}

/// Inserts an item with the marker `tenant`.
pub async fn insert(
    tx: &mut TenantTransaction<'static>,
    tenant: &str,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO items (tenant, name) VALUES ($1, $2)")
        .bind(tenant)
        .bind(name)
        .execute(tx)
        .await
        .map(drop)
}

/// `{"items": [...]}` read through a pool (database mode's handle).
pub async fn list_pool(pool: &PgPool) -> Result<Value, sqlx::Error> {
    Ok(json!({ "items": items(rows(pool).await?) }))
}
