//! [`Pooler`] and [`PgConnections`]: how the library reaches Postgres, and
//! the direct connection for what a transaction pooler cannot carry.

use std::str::FromStr;

use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

/// Whether connections reach Postgres directly or through a transaction
/// pooler (PgBouncer with `pool_mode = transaction`, Supavisor, RDS Proxy,
/// Neon's pooler), where each transaction may run on another server
/// connection.
///
/// Behind [`Pooler::Transaction`] nothing the library sends depends on
/// session state: every statement runs inside an explicit transaction as an
/// unnamed statement, scoping uses transaction-local settings only, and
/// `LISTEN`, migrations and session advisory locks go through the direct
/// pool given to [`PgConnections::with_direct`].
///
/// Supported: PgBouncer 1.18+ in transaction mode (tested with Debian's 1.18
/// and `default_pool_size = 2`). Your own code behind a transaction pooler
/// must run statements inside a transaction and unnamed (a tenant
/// transaction used as `&mut tx` does both), and must not use session `SET`
/// (use `SET LOCAL`), temporary tables or `WITH HOLD` cursors across
/// transactions, session advisory locks, `LISTEN`, or custom types defined
/// per tenant schema (sqlx caches type OIDs per connection, by name).
///
/// ```
/// use tenancy_sqlx::postgres::Pooler;
///
/// let options = Pooler::Transaction.connect_options("postgres://app@pgbouncer:6432/app")?;
/// # let _ = options;
/// assert_eq!(Pooler::default(), Pooler::Direct);
/// # Ok::<(), sqlx::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pooler {
    /// Connections go straight to Postgres (or through a session pooler).
    #[default]
    Direct,
    /// Connections go through a transaction pooler.
    Transaction,
}

impl Pooler {
    /// Connect options for `url` suited to this mode: behind a transaction
    /// pooler, sqlx's statement cache is off (its statements would be named
    /// and outlive their transaction) and the `extra_float_digits` startup
    /// parameter is not sent.
    pub fn connect_options(self, url: &str) -> Result<PgConnectOptions, sqlx::Error> {
        Ok(self.adjust(PgConnectOptions::from_str(url)?))
    }

    /// `options` adjusted to this mode (see [`connect_options`](Self::connect_options)).
    pub fn adjust(self, options: PgConnectOptions) -> PgConnectOptions {
        match self {
            Self::Direct => options,
            Self::Transaction => options
                .statement_cache_capacity(0)
                .extra_float_digits(None::<i8>),
        }
    }

    /// Whether this is [`Pooler::Transaction`].
    pub fn is_transaction(self) -> bool {
        self == Self::Transaction
    }
}

/// The connections of one Postgres database: the pool that carries the
/// traffic, how it reaches the server ([`Pooler`]), and, behind a
/// transaction pooler, an optional direct pool for `LISTEN/NOTIFY`,
/// migrations and session advisory locks.
///
/// A plain [`PgPool`] converts into direct connections, so every constructor
/// taking `impl Into<PgConnections>` accepts a pool as before.
///
/// ```no_run
/// use sqlx::postgres::PgPoolOptions;
/// use tenancy_sqlx::{PgRegistry, RegistryConfig, SchemaPool};
/// use tenancy_sqlx::postgres::{PgConnections, Pooler};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let pooled = PgPoolOptions::new()
///     .max_connections(20)
///     .connect_with(Pooler::Transaction.connect_options("postgres://app@pgbouncer:6432/app")?)
///     .await?;
/// let direct = PgPoolOptions::new().max_connections(2).connect("postgres://app@db:5432/app").await?;
/// let connections = PgConnections::pooled(pooled).with_direct(direct);
/// let registry = PgRegistry::connect(connections.clone(), RegistryConfig::default()).await?;
/// let _listener = registry.listen(); // LISTEN runs on the direct connection
/// let schemas = SchemaPool::new(connections);
/// # let _ = schemas; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PgConnections {
    pool: PgPool,
    pooler: Pooler,
    direct: Option<PgPool>,
}

impl PgConnections {
    /// Connections straight to Postgres: `pool` does everything.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            pooler: Pooler::Direct,
            direct: None,
        }
    }

    /// Connections through a transaction pooler, without a direct pool (no
    /// cross-process invalidation; migrations take transaction-level locks).
    pub fn pooled(pool: PgPool) -> Self {
        Self {
            pool,
            pooler: Pooler::Transaction,
            direct: None,
        }
    }

    /// Adds the direct pool that carries `LISTEN/NOTIFY`, migrations and
    /// session advisory locks past the pooler.
    #[must_use]
    pub fn with_direct(mut self, direct: PgPool) -> Self {
        self.direct = Some(direct);
        self
    }

    /// The pool that carries the traffic.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How [`pool`](Self::pool) reaches Postgres.
    pub fn pooler(&self) -> Pooler {
        self.pooler
    }

    /// A pool with session semantics: the traffic pool when it is direct,
    /// else the direct pool, if one was given.
    pub fn direct(&self) -> Option<&PgPool> {
        match self.pooler {
            Pooler::Direct => Some(&self.pool),
            Pooler::Transaction => self.direct.as_ref(),
        }
    }

    /// The pool for administrative work (migrations, DDL): the direct one
    /// when there is one, else the traffic pool.
    pub(crate) fn admin(&self) -> (&PgPool, Pooler) {
        match self.direct() {
            Some(direct) => (direct, Pooler::Direct),
            None => (&self.pool, self.pooler),
        }
    }
}

impl From<PgPool> for PgConnections {
    fn from(pool: PgPool) -> Self {
        Self::new(pool)
    }
}
