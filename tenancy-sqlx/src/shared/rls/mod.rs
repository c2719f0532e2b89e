//! Shared-schema mode on Postgres (feature `postgres`): every tenant's rows
//! in the same tables, isolated by row-level security on a
//! transaction-local tenant key, enforced through a restricted role — even
//! for a superuser login.
//!
//! - [`RlsPool`]: tenant-scoped access; [`begin`](RlsPool::begin) returns an
//!   [`RlsTransaction`] running as the restricted role with the tenant's
//!   [`SharedKey`](crate::shared::SharedKey) set, in the same round trip as
//!   `BEGIN`. [`protect`](RlsPool::protect) installs the policies.
//! - [`RlsAudit`]: the start-up audit ([`RlsPool::audit`]) that refuses any
//!   setup where tenant queries would run as a superuser, a `BYPASSRLS`
//!   role, or against a table without the policy.
//! - [`RlsManager`]: the lifecycle — create (with a fresh random key),
//!   migrate the shared tables once (reported for every tenant), rename in
//!   the registry only, activate / deactivate, delete a tenant's rows.
//!
//! ```no_run
//! # async fn example(registry: tenancy_sqlx::PgRegistry) -> Result<(), Box<dyn std::error::Error>> {
//! use tenancy_core::TenantId;
//! use tenancy_sqlx::shared::rls::{RlsManager, RlsPool};
//! use tenancy_sqlx::{Ident, NewTenant, TenantMigrations};
//!
//! let migrations = TenantMigrations::from_sql([(
//!     1,
//!     "items",
//!     "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
//! )])?;
//! let shared = RlsPool::new(registry.pool().clone()).tables([Ident::new("items")?]);
//! let manager = RlsManager::new(registry, shared, migrations);
//! manager.setup().await?; // role, migrations, protection, audit
//!
//! let acme = manager.create(NewTenant::new(TenantId::new("acme")?, "Acme Corp")).await?;
//! let mut tx = manager.shared().begin(&acme).await?; // only acme's rows are visible
//! sqlx::query("INSERT INTO items (name) VALUES ('first')").execute(&mut tx).await?;
//! tx.commit().await?;
//! # Ok(()) }
//! ```

mod audit;
mod manager;
mod pool;
pub(crate) mod sql;
mod transaction;

pub use audit::RlsAudit;
pub use manager::RlsManager;
pub use pool::RlsPool;
pub use transaction::RlsTransaction;
