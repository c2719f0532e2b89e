//! [`MySqlRegistry`]: the tenant registry in MySQL / MariaDB tables.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, MySqlPool};
use tenancy_core::TenancyError;

use crate::error::store_error;
use crate::ident::backquote;
use crate::registry::sql::{Inner, RegistryTables, Sql};

/// The tenant registry on MySQL or MariaDB: tenants (id, name, active flag,
/// storage kind and location, timestamps) and their lower-cased, unique
/// domains, in two tables of the pool's database.
///
/// It has the semantics of [`PgRegistry`](crate::PgRegistry): a
/// [`TenantStore`](tenancy_core::TenantStore) and a
/// [`TenantRegistry`](crate::TenantRegistry), whose mutations invalidate the
/// [subscribed](Self::subscribe) caches of this process at once. MySQL has no
/// `LISTEN/NOTIFY`, so **other processes see a change only when their cache
/// entry expires**: keep the [`CachedStore`](tenancy_core::CachedStore) TTL
/// (default 5 s) as short as that delay may be. Cheap to clone.
///
/// ```no_run
/// use std::sync::Arc;
/// use sqlx::mysql::MySqlPoolOptions;
/// use tenancy_core::{CachedStore, TenantId};
/// use tenancy_sqlx::{MySqlRegistry, RegistryTables};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = MySqlPoolOptions::new().max_connections(5).connect("mysql://root@localhost/app").await?;
/// let registry = MySqlRegistry::connect(pool, RegistryTables::default()).await?;
/// let cache = Arc::new(CachedStore::new(registry.clone()));
/// registry.subscribe(cache.clone());
/// registry.deactivate(&TenantId::new("acme")?).await?; // this process's cache forgets `acme` at once
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MySqlRegistry {
    inner: Arc<Inner<MySqlPool>>,
}

sql_registry!(MySqlRegistry, MySqlPool, "mysql", |pool| pool.begin());

/// The registry migrations: `(version, description, statements)`; `{T}`/`{D}`
/// are the back-quoted tables, `{t}`/`{d}` their bare names. MySQL commits
/// DDL implicitly, so every statement is idempotent (`IF NOT EXISTS`).
const MIGRATIONS: &[(i32, &str, &[&str])] = &[(
    1,
    "tenants and domains",
    &[
        "CREATE TABLE IF NOT EXISTS {T} (
            id VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
            name TEXT NOT NULL,
            active BOOLEAN NOT NULL DEFAULT TRUE,
            storage_kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
            storage_location VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
            created_us BIGINT NOT NULL,
            updated_us BIGINT NOT NULL,
            CONSTRAINT `{t}_pkey` PRIMARY KEY (id),
            CONSTRAINT `{t}_storage_key` UNIQUE (storage_kind, storage_location),
            CONSTRAINT `{t}_id_format` CHECK (id REGEXP '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE IF NOT EXISTS {D} (
            domain VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
            tenant_id VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
            is_primary BOOLEAN NOT NULL DEFAULT FALSE,
            created_us BIGINT NOT NULL,
            CONSTRAINT `{d}_pkey` PRIMARY KEY (domain),
            INDEX `{d}_tenant_idx` (tenant_id),
            CONSTRAINT `{d}_lower_case` CHECK (domain = LOWER(domain)),
            CONSTRAINT `{d}_tenant_fkey` FOREIGN KEY (tenant_id) REFERENCES {T} (id)
                ON UPDATE CASCADE ON DELETE CASCADE
        ) ENGINE=InnoDB",
    ],
)];

/// The history of the registry tables, one row per registry (named by its
/// tenants table) and migration, so several registries can share a database.
const HISTORY: &str = "_tenancy_registry_migrations";

impl MySqlRegistry {
    fn statements(tables: &RegistryTables) -> Sql {
        Sql::new(tables, backquote, " FOR UPDATE")
    }

    /// Creates or upgrades the registry tables (idempotent; concurrent runs
    /// wait for each other on a named lock).
    pub async fn migrate(&self) -> Result<(), TenancyError> {
        let tables = &self.inner.tables;
        let render = |template: &str| {
            template
                .replace("{T}", &backquote(tables.tenants.as_str()))
                .replace("{D}", &backquote(tables.domains.as_str()))
                .replace("{t}", tables.tenants.as_str())
                .replace("{d}", tables.domains.as_str())
        };
        let mut conn = self.inner.pool.acquire().await.map_err(store_error)?;
        // MySQL lock names have at most 64 characters; a shared prefix of two
        // long table names only makes their migrations wait for each other.
        let mut lock = format!("tenancy_registry:{}", tables.tenants);
        lock.truncate(64);
        let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(&lock)
            .bind(Duration::from_secs(60).as_secs())
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?;
        if locked != Some(1) {
            return Err(TenancyError::unavailable(
                "timed out waiting for the registry migration lock",
            ));
        }
        let result = async {
            sqlx::raw_sql(AssertSqlSafe(format!(
                "CREATE TABLE IF NOT EXISTS `{HISTORY}` (\
                 registry VARCHAR(64) CHARACTER SET ascii NOT NULL, version INT NOT NULL, \
                 description TEXT NOT NULL, installed_us BIGINT NOT NULL, \
                 PRIMARY KEY (registry, version)) ENGINE=InnoDB"
            )))
            .execute(&mut *conn)
            .await?;
            let applied: Vec<i32> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT version FROM `{HISTORY}` WHERE registry = ? ORDER BY version"
            )))
            .bind(tables.tenants.as_str())
            .fetch_all(&mut *conn)
            .await?;
            for (version, description, statements) in MIGRATIONS {
                if applied.contains(version) {
                    continue;
                }
                for statement in *statements {
                    sqlx::raw_sql(AssertSqlSafe(render(statement)))
                        .execute(&mut *conn)
                        .await?;
                }
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO `{HISTORY}` (registry, version, description, installed_us) \
                     VALUES (?, ?, ?, ?)"
                )))
                .bind(tables.tenants.as_str())
                .bind(version)
                .bind(description)
                .bind(crate::registry::sql::now_micros())
                .execute(&mut *conn)
                .await?;
            }
            Ok::<(), sqlx::Error>(())
        }
        .await;
        let released = sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(&lock)
            .execute(&mut *conn)
            .await;
        if released.is_err() {
            // The session still holds the lock: do not hand it to the pool.
            let _closed = conn.detach().close().await;
        }
        result.map_err(store_error)
    }
}
