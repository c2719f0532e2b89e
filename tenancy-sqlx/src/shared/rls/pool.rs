//! [`RlsPool`]: shared-schema access on Postgres, isolated by row-level
//! security through a restricted role.

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, SqlSafeStr};
use tenancy_core::{TenancyError, TenantAccess};

use super::sql;
use super::transaction::RlsTransaction;
use crate::error::{sqlstate, store_error};
use crate::ident::Ident;
use crate::postgres::PgConnections;
use crate::postgres::tx::PgTx;
use crate::storage::SharedKey;
use crate::tenant::RegistryTenant;

/// Shared-schema access on Postgres: every tenant's rows in the same tables,
/// told apart by a tenant column and isolated by row-level security.
///
/// # How isolation works
///
/// - Each [tenant table](Self::tables) has a `text` tenant column (`tenant_id`
///   by default) whose `DEFAULT` is the current tenant key, `ENABLE` and
///   `FORCE ROW LEVEL SECURITY`, and one permissive policy for all commands:
///   `USING (tenant_id = <key>) WITH CHECK (tenant_id = <key>)`, where `<key>`
///   is the transaction-local setting `tenancy.tenant` (NULL when unset). It
///   fails closed: without a key a query sees no rows, and an insert fails
///   (the default is NULL, the column is `NOT NULL`, and the check fails).
///   [`protect`](Self::protect) applies all of this to a table, idempotently.
/// - [`begin`](Self::begin) opens a transaction with `BEGIN; SELECT
///   set_config('role', <tenant role>, true), set_config('tenancy.tenant', <key>, true),
///   set_config('search_path', 'pg_catalog, "<schema>", pg_temp', true)`
///   (the first is `SET LOCAL ROLE`) — one simple query, so one round trip,
///   like a plain `BEGIN`. The role, the key and the `search_path` end with
///   the transaction (commit, rollback, error, or a dropped transaction), so
///   nothing leaks to the next user of the connection, and all three work
///   behind a transaction pooler.
/// - The pinned `search_path` names `pg_catalog` first, then the
///   [schema](Self::schema) of the tenant tables, then `pg_temp` *last*:
///   neither a schema named like the tenant role (the default path starts
///   with `"$user"`) nor a temporary table can shadow a tenant table.
///   Objects in other schemas (`public`, when it is not the configured
///   schema, e.g. extension functions) must be schema-qualified in tenant
///   transactions.
/// - The tenant role is `NOLOGIN NOSUPERUSER NOBYPASSRLS`
///   ([`setup_role`](Self::setup_role) creates it and lets the login role
///   switch to it). Policies therefore apply even when the connection URL
///   names a superuser or the tables' owner — the usual local setup.
/// - [`audit`](Self::audit) refuses (at start-up, and after
///   [`RlsManager::migrate_all`](super::RlsManager::migrate_all) applies migrations) any setup in which
///   tenant queries would bypass the policies.
///
/// What it does not protect against: SQL that deliberately leaves the scope
/// inside a tenant transaction (`RESET ROLE`, `SET ROLE`, or `set_config` of
/// another key). Never run SQL text from requests. Tenant keys are random and
/// unreadable through the tenant role, which makes another tenant's key hard
/// to guess, but that is defence in depth, not a boundary.
///
/// Cheap to clone.
///
/// ```no_run
/// use sqlx::postgres::PgPoolOptions;
/// use tenancy_sqlx::{Ident, RegistryTenant, RlsPool};
///
/// # async fn example(tenant: RegistryTenant) -> Result<(), Box<dyn std::error::Error>> {
/// let pool = PgPoolOptions::new().max_connections(10).connect("postgres://postgres@localhost/app").await?;
/// let shared = RlsPool::new(pool).tables([Ident::new("items")?]);
/// shared.setup_role().await?;           // the restricted role, once
/// shared.protect_all().await?;          // column, policy, RLS, grants
/// let audit = shared.audit().await?;    // refuses any unsafe setup
/// # let _ = audit;
///
/// let mut tx = shared.begin(&tenant).await?;
/// // No WHERE needed: row-level security shows this tenant's rows only.
/// let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items").fetch_all(&mut tx).await?;
/// // tenant_id is filled from the transaction's key.
/// sqlx::query("INSERT INTO items (name) VALUES ($1)").bind("pen").execute(&mut tx).await?;
/// tx.commit().await?;
/// # let _ = names; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RlsPool {
    pub(super) connections: PgConnections,
    pub(super) config: Arc<Config>,
}

#[derive(Debug, Clone)]
pub(super) struct Config {
    pub(super) role: Ident,
    pub(super) schema: Ident,
    pub(super) tables: Vec<Ident>,
    pub(super) column: Ident,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            role: Ident::from_static("tenancy_tenant"),
            schema: Ident::from_static("public"),
            tables: Vec::new(),
            column: Ident::from_static("tenant_id"),
        }
    }
}

impl RlsPool {
    /// Shared-schema access on `pool`: tenant role `tenancy_tenant`, tables
    /// in schema `public`, tenant column `tenant_id`, no tables declared yet.
    ///
    /// `connections` is a [`PgPool`], or [`PgConnections`] through a
    /// transaction pooler (then every statement of a tenant transaction run
    /// with `&mut tx` is unnamed).
    pub fn new(connections: impl Into<PgConnections>) -> Self {
        Self {
            connections: connections.into(),
            config: Arc::new(Config::default()),
        }
    }

    /// The restricted role tenant transactions run as (default `tenancy_tenant`).
    ///
    /// Roles are cluster-wide: applications sharing a cluster may share it.
    #[must_use]
    pub fn role(mut self, role: Ident) -> Self {
        Arc::make_mut(&mut self.config).role = role;
        self
    }

    /// The schema holding the tenant tables (default `public`).
    ///
    /// Tenant transactions run with `search_path` pinned to `pg_catalog,
    /// "<schema>", pg_temp`: objects elsewhere must be schema-qualified there.
    #[must_use]
    pub fn schema(mut self, schema: Ident) -> Self {
        Arc::make_mut(&mut self.config).schema = schema;
        self
    }

    /// Declares the tenant tables (appended to those declared before).
    ///
    /// Declared tables are protected by [`protect_all`](Self::protect_all),
    /// checked by [`audit`](Self::audit), and emptied of a tenant's rows when
    /// the tenant is dropped. List parent tables before the tables that
    /// reference them.
    #[must_use]
    pub fn tables(mut self, tables: impl IntoIterator<Item = Ident>) -> Self {
        let config = Arc::make_mut(&mut self.config);
        for table in tables {
            if !config.tables.contains(&table) {
                config.tables.push(table);
            }
        }
        self
    }

    /// The tenant column (default `tenant_id`).
    #[must_use]
    pub fn column(mut self, column: Ident) -> Self {
        Arc::make_mut(&mut self.config).column = column;
        self
    }

    /// The underlying pool (unscoped, as the login role).
    pub fn pool(&self) -> &PgPool {
        self.connections.pool()
    }

    /// The connections, with their [`Pooler`](crate::postgres::Pooler) mode.
    pub fn connections(&self) -> &PgConnections {
        &self.connections
    }

    /// The tenant role.
    pub fn role_name(&self) -> &Ident {
        &self.config.role
    }

    /// The schema of the tenant tables.
    pub fn schema_name(&self) -> &Ident {
        &self.config.schema
    }

    /// The declared tenant tables, in declaration order.
    pub fn table_names(&self) -> &[Ident] {
        &self.config.tables
    }

    /// The tenant column.
    pub fn column_name(&self) -> &Ident {
        &self.config.column
    }

    /// Begins a transaction as `tenant`, as the restricted role, with the
    /// pinned `search_path`, on a pooled connection (one round trip).
    ///
    /// `tenant` must have shared storage ([`Storage::Shared`](crate::storage::Storage::Shared)),
    /// else [`TenancyError::Configuration`]. Pool and connection failures are
    /// [`TenancyError::StoreUnavailable`].
    pub async fn begin(
        &self,
        tenant: &RegistryTenant,
    ) -> Result<RlsTransaction<'static>, TenancyError> {
        let key = crate::shared::key_of(tenant)?;
        self.begin_key(key).await
    }

    /// Begins a transaction for the tenant whose rows carry `key` (e.g. in a
    /// background job that stored the key).
    pub async fn begin_key(
        &self,
        key: &SharedKey,
    ) -> Result<RlsTransaction<'static>, TenancyError> {
        let begin = AssertSqlSafe(sql::begin_statement(
            &self.config.role,
            &self.config.schema,
            key,
        ))
        .into_sql_str();
        let tx = PgTx::begin(self.pool(), Some(begin))
            .await
            .map_err(|error| begin_error(&self.config.role, error))?;
        Ok(RlsTransaction::new(tx, key.clone(), self.unnamed()))
    }

    /// Begins a transaction as `tenant` on a connection you hold.
    pub async fn begin_on<'c>(
        &self,
        conn: &'c mut PgConnection,
        tenant: &RegistryTenant,
    ) -> Result<RlsTransaction<'c>, TenancyError> {
        let key = crate::shared::key_of(tenant)?;
        let begin = AssertSqlSafe(sql::begin_statement(
            &self.config.role,
            &self.config.schema,
            key,
        ))
        .into_sql_str();
        let tx = PgTx::begin_on(conn, Some(begin))
            .await
            .map_err(|error| begin_error(&self.config.role, error))?;
        Ok(RlsTransaction::new(tx, key.clone(), self.unnamed()))
    }

    /// Creates the tenant role if it is missing (`NOLOGIN NOSUPERUSER
    /// NOBYPASSRLS NOINHERIT`) and makes the login role a member, so that
    /// `SET ROLE` works for a non-superuser login. Idempotent and safe to run
    /// concurrently; an existing role is left as it is ([`audit`](Self::audit)
    /// refuses it if it is unsafe).
    ///
    /// Needs a login role that may create roles (`CREATEROLE` or superuser) the
    /// first time; later runs need nothing when the login is already a member.
    pub async fn setup_role(&self) -> Result<(), TenancyError> {
        sqlx::raw_sql(AssertSqlSafe(sql::ensure_role(&self.config.role)))
            .execute(self.pool())
            .await
            .map(drop)
            .map_err(|error| setup_error("creating the tenant role failed", error))
    }

    /// Protects `table` in the configured schema (idempotent, one transaction):
    ///
    /// - adds the tenant column (`text NOT NULL`) if missing, and sets its
    ///   `DEFAULT` to the current tenant key (an existing column keeps its
    ///   rows but must be `text`-compatible and hold no NULLs);
    /// - creates an index on it unless an index already starts with it;
    /// - `ENABLE` and `FORCE ROW LEVEL SECURITY`;
    /// - (re)creates the policy `tenancy_isolation`;
    /// - grants the tenant role `SELECT, INSERT, UPDATE, DELETE` on the table,
    ///   `USAGE` on the schema and on the table's sequences.
    ///
    /// The table need not be [declared](Self::tables), but only declared tables
    /// are cleaned when a tenant is dropped. Needs the tenant role
    /// ([`setup_role`](Self::setup_role)).
    pub async fn protect(&self, table: &Ident) -> Result<(), TenancyError> {
        let mut tx = self.begin_locked().await?;
        self.protect_on(&mut tx, std::slice::from_ref(table))
            .await?;
        tx.commit().await.map_err(store_error)
    }

    /// Protects every declared table, in one transaction.
    pub async fn protect_all(&self) -> Result<(), TenancyError> {
        let mut tx = self.begin_locked().await?;
        self.protect_on(&mut tx, &self.config.tables).await?;
        tx.commit().await.map_err(store_error)
    }

    /// A transaction holding the shared schema's lock.
    async fn begin_locked(&self) -> Result<PgTx<'static>, TenancyError> {
        let begin = format!("BEGIN; {}", sql::shared_lock(&self.config.schema));
        PgTx::begin(self.pool(), Some(AssertSqlSafe(begin).into_sql_str()))
            .await
            .map_err(store_error)
    }

    /// Whether tenant statements must be unnamed (behind a transaction pooler).
    fn unnamed(&self) -> bool {
        self.connections.pooler().is_transaction()
    }

    /// Protects `tables` on `conn` (inside the caller's transaction), one round trip.
    pub(crate) async fn protect_on(
        &self,
        conn: &mut PgConnection,
        tables: &[Ident],
    ) -> Result<(), TenancyError> {
        if tables.is_empty() {
            return Ok(());
        }
        let config = &self.config;
        let batch: Vec<String> = tables
            .iter()
            .map(|table| sql::protect_table(&config.schema, table, &config.column, &config.role))
            .collect();
        sqlx::raw_sql(AssertSqlSafe(batch.join(";\n")))
            .execute(conn)
            .await
            .map(drop)
            .map_err(|error| setup_error("protecting the tenant tables failed", error))
    }
}

/// Maps a failed scoped `BEGIN`: a missing role or a role the login may not
/// switch to is a configuration error, anything else unavailability or storage.
pub(super) fn begin_error(role: &Ident, error: sqlx::Error) -> TenancyError {
    match sqlstate(&error).as_deref() {
        // SET ROLE reports an unknown role as 22023 (invalid parameter value).
        Some("42704" | "22023") => TenancyError::Configuration {
            message: format!(
                "the tenant role `{role}` does not exist; create it with RlsPool::setup_role"
            ),
        },
        Some("42501") => TenancyError::Configuration {
            message: format!(
                "the login role may not SET ROLE to the tenant role `{role}`; grant it \
                 membership (RlsPool::setup_role does)"
            ),
        },
        _ => store_error(error),
    }
}

/// Maps a failed set-up step, keeping the database error as the source.
fn setup_error(what: &'static str, error: sqlx::Error) -> TenancyError {
    if crate::error::is_unavailable(&error) {
        TenancyError::unavailable(error)
    } else {
        TenancyError::storage(SetupError {
            what,
            source: error,
        })
    }
}

/// A shared-mode set-up step failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
struct SetupError {
    what: &'static str,
    #[source]
    source: sqlx::Error,
}

impl TenantAccess for RlsPool {
    type Tenant = RegistryTenant;
    type Handle = RlsTransaction<'static>;

    fn open<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>> {
        self.begin(tenant).boxed()
    }
}

impl fmt::Debug for RlsPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RlsPool")
            .field("role", &self.config.role)
            .field("schema", &self.config.schema)
            .field("tables", &self.config.tables)
            .field("column", &self.config.column)
            .finish_non_exhaustive()
    }
}
