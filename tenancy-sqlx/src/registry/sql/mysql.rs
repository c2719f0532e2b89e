//! MySQL / MariaDB as a registry [`Dialect`]: back-quoted names, row locks
//! (`FOR UPDATE`), and the registry tables' migrations under a named lock.

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AssertSqlSafe, Connection, MySql, Pool, Transaction};
use tenancy_core::TenancyError;

use super::dialect::{Dialect, RegistryTables, plumbing, sealed};
use super::rows::now_micros;
use crate::error::store_error;
use crate::ident::{Ident, backquote};

/// The registry migrations: `(version, description, statements)`;
/// `{T}`/`{D}`/`{C}` are the back-quoted tables, `{t}`/`{d}`/`{c}` their bare
/// names. MySQL commits DDL implicitly, so every statement is idempotent
/// (`IF NOT EXISTS`).
const MIGRATIONS: &[(i32, &str, &[&str])] = &[
    (
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
    ),
    (
        2,
        "change log",
        &["CREATE TABLE IF NOT EXISTS {C} (
            seq BIGINT NOT NULL AUTO_INCREMENT,
            registry VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
            origin VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
            payload TEXT NOT NULL,
            created_us BIGINT NOT NULL,
            CONSTRAINT `{c}_pkey` PRIMARY KEY (seq),
            INDEX `{c}_registry_idx` (registry, seq),
            INDEX `{c}_created_idx` (created_us)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"],
    ),
];

/// The migration that makes the change log.
const CHANGE_LOG: i32 = 2;

/// The history of the registry tables, one row per registry (named by its
/// tenants table) and migration, so several registries can share a database.
const HISTORY: &str = "_tenancy_registry_migrations";

impl Dialect for MySql {}

impl sealed::Driver for MySql {
    const REGISTRY: &'static str = "MySqlRegistry";

    const FOR_UPDATE: &'static str = " FOR UPDATE";

    fn quote(name: &Ident) -> String {
        backquote(name.as_str())
    }

    fn begin(
        pool: &Pool<Self>,
        _immediate: bool,
    ) -> BoxFuture<'_, Result<Transaction<'static, Self>, sqlx::Error>> {
        pool.begin().boxed()
    }

    plumbing!(MySql);

    #[allow(private_interfaces)]
    fn migrate_registry<'a>(
        pool: &'a Pool<Self>,
        tables: &'a RegistryTables,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        migrate(pool, tables).boxed()
    }
}

/// Creates or upgrades the registry tables (idempotent; concurrent runs wait
/// for each other on a named lock).
async fn migrate(pool: &Pool<MySql>, tables: &RegistryTables) -> Result<(), TenancyError> {
    let tenants = &tables.tenants;
    let render = |template: &str| tables.render(template, backquote);
    let mut conn = pool.acquire().await.map_err(store_error)?;
    // MySQL lock names have at most 64 characters; a shared prefix of two
    // long table names only makes their migrations wait for each other.
    let mut lock = format!("tenancy_registry:{tenants}");
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
        .bind(tenants.as_str())
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
            .bind(tenants.as_str())
            .bind(version)
            .bind(description)
            .bind(now_micros())
            .execute(&mut *conn)
            .await?;
        }
        // The history is kept per tenants table: a change log named after
        // the log was first made is made here (its statements are idempotent).
        for (version, _, statements) in MIGRATIONS {
            if *version == CHANGE_LOG && applied.contains(version) {
                for statement in *statements {
                    sqlx::raw_sql(AssertSqlSafe(render(statement)))
                        .execute(&mut *conn)
                        .await?;
                }
            }
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
