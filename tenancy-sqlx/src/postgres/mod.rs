//! Postgres connections shared by every mode: a pool used directly or
//! through a transaction pooler ([`PgConnections`], [`Pooler`]).
//!
//! Behind PgBouncer (`pool_mode = transaction`), Supavisor or RDS Proxy,
//! build the registry, [`SchemaPool`](crate::schema::SchemaPool) and
//! [`RlsPool`](crate::shared::rls::RlsPool) from [`PgConnections::pooled`]
//! (with [`with_direct`](PgConnections::with_direct) for `LISTEN/NOTIFY`),
//! and use
//! [`PgDatabases::through_pooler`](crate::database::PgDatabases::through_pooler)
//! in database mode: every statement the library sends is then unnamed and
//! inside an explicit transaction. See [`Pooler`] for what your own code
//! must avoid there.
//!
//! The rest of this module is the plumbing the modes share: transactions
//! safe against cancellation, advisory lock keys, per-schema migrations and
//! statement tagging.

pub(crate) mod copy;
pub(crate) mod lock;
pub(crate) mod migrate;
mod pooler;
pub(crate) mod tagged;
pub(crate) mod tx;

pub use pooler::{PgConnections, Pooler};
