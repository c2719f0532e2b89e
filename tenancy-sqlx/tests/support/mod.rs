//! Test support shared by every integration test: a fresh database, schema
//! or directory per test, removed when its guard is dropped (even if the
//! test panics). Unreachable servers fail the test loudly; nothing is ever
//! skipped.
//!
//! - [`ids`]: random tokens and tenant ids;
//! - [`runtime`]: cleanup on a runtime of its own, polling, loud connects;
//! - [`pg`], [`mysql`], [`sqlite`]: per-test databases for each backend;
//! - [`servers`]: databases a test creates on a server, found by prefix;
//! - [`proxy`]: TCP proxies (slow server, held replies, round-trip counter).
//!
//! `keyed_backends.rs` holds a macro and is included with `#[path]`.

// Each test binary uses a subset of this tree (and of its re-exports).
#![allow(
    dead_code,
    unused_macros,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod ids;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod proxy;
pub mod runtime;
#[cfg(all(feature = "postgres", feature = "mysql"))]
pub mod servers;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use ids::{id, token};
#[cfg(feature = "mysql")]
pub use mysql::{MySqlDb, mysql_server, mysql_url};
#[cfg(feature = "postgres")]
pub(crate) use pg::via_both;
#[cfg(feature = "postgres")]
pub use pg::{
    PRICES_V1, PRICES_V2, PgDb, Via, items_migrations, manager, manager_via, pg_server, pg_url,
    pg2_url, pgbouncer_url, schema_exists,
};
pub use runtime::eventually;
#[cfg(all(feature = "postgres", feature = "mysql"))]
pub use servers::{Server, ServerDatabases};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteDb, TempDir};
