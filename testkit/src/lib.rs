//! The framework adapters' shared database suite (`TenantDb` over real
//! Postgres, directly and through PgBouncer).
//!
//! An internal crate of the workspace (`publish = false`), not part of the
//! public API: a dev-dependency of `tenancy-axum` and `tenancy-actix`, whose
//! `tests/database.rs` both run it. Written once, run against every framework
//! adapter in process, like the HTTP conformance suite
//! (`tenancy_core::testing`, whose client it uses: [`TestApp`],
//! [`TestResponse`], `get`, `post`): each adapter's `tests/database.rs`
//! implements [`DbHarness`] and expands [`database_suite!`]. Every case
//! creates its own database (see [`pg::TestDb`]) on the server named by
//! `TENANCY_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! with the tenants `acme` (3 items) and `globex` (2 items) created by
//! `SchemaManager`, each in its own schema with the table
//! `items (id, tenant, name)`; `tenant` is a marker column holding the id of
//! the tenant whose request wrote the row. An unreachable server fails the
//! suite; nothing is skipped.
//!
//! Every case runs twice ([`pg::Via`]): straight to Postgres (module
//! `direct`), and through PgBouncer in transaction pooling mode (module
//! `pgbouncer`, `TENANCY_TEST_PGBOUNCER_URL`, which `scripts/test.sh` sets;
//! unset fails the suite), with the same assertions: the fixture then builds
//! the registry and every `SchemaPool` on pools through PgBouncer
//! (`Pooler::Transaction`, plus a direct pool for `LISTEN` and migrations).
//!
//! # The test app
//!
//! Every harness serves these routes behind its adapter, configured from a
//! [`DbSetup`] with `.optional()` (so that the extractor, not the layer,
//! answers requests without a tenant), `central_route("/central/*")`, the
//! text renderer of the conformance suite (`Renderer::Text`) when
//! `setup.text_errors`, and no adapter at all when `!setup.layer`.
//! `setup.schemas` (when `Some`) is the access object of
//! `TenantDb<SchemaPool>` and `setup.pools` the one of
//! `TenantDb<PoolPerTenant>`, provided the framework's way (axum: an
//! `Extension` layer; actix-web: `web::Data`). Handlers open their
//! `TenantDb` when they first query (after any body is read).
//!
//! | route | extractors | answer (through [`sql`]) |
//! |---|---|---|
//! | `GET /items` | `TenantDb<SchemaPool>` | `200` [`sql::list`]; the transaction is dropped |
//! | `GET /central/items` | `TenantDb<SchemaPool>` | same (a central route: always rejected) |
//! | `GET /items/slow` | `TenantDb<SchemaPool>` | `200` [`sql::list_slowly`] |
//! | `POST /items/{name}` | `CurrentTenant<RegistryTenant>`, `TenantDb<SchemaPool>` | [`sql::insert`] with the tenant's id as marker, commit, `201 {"inserted": name}` |
//! | `POST /fail/{name}` | same | [`sql::insert`], then `500 {"error": "HandlerFailed", "message": ...}` without committing |
//! | `GET /pool` | `TenantDb<PoolPerTenant>` | `200` [`sql::list_pool`] on the handed-out pool |
//! | `POST /upload` | `TenantDb<SchemaPool>`, then a JSON body `{"name": ...}` | [`sql::insert`] with `TenantDb::tenant`'s id as marker, commit, `201 {"inserted": name}` |
//!
//! A database error in a handler answers `500` with the error as text; a
//! failed `TenantDb::open` / `into_handle` answers with its rejection.
//! [`DbHarness::serve`] serves the same app (with the adapter) on a TCP port,
//! for the raw requests of [`raw`].

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test support: a failed step fails the test that called it"
)]

pub mod cases;
pub mod fixture;
pub mod pg;
pub mod raw;
pub mod sql;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

pub use fixture::{DbSetup, PoolPerTenant};
pub use tenancy_core::testing::{TestApp, TestResponse};

/// How one adapter builds the test app described in the crate docs.
pub trait DbHarness {
    /// The test app for `setup`.
    fn app(setup: DbSetup) -> impl Future<Output = impl TestApp>;

    /// The test app for `setup` (always behind the adapter), served over
    /// HTTP/1 on a free port of 127.0.0.1 until the result is dropped.
    fn serve(setup: DbSetup) -> impl Future<Output = Served>;
}

/// A test app served on a TCP port; stops serving when dropped.
pub struct Served {
    /// Where the app is served.
    pub addr: SocketAddr,
    /// Stops the server when dropped.
    _stop: Box<dyn Any>,
}

impl Served {
    /// The server on `addr`, stopped when `stop` is dropped.
    pub fn new(addr: SocketAddr, stop: impl Any) -> Self {
        Self {
            addr,
            _stop: Box::new(stop),
        }
    }
}

impl fmt::Debug for Served {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Served")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Expands into two modules, `direct` and `pgbouncer`, with one test per
/// database case in each (reaching Postgres directly or through PgBouncer),
/// for the harness `$harness`, each test function carrying the attribute
/// `$test` (e.g. `tokio::test`).
///
/// Expanded at the root of an adapter's `tests/database.rs`, where the
/// harness type is in scope (the modules `use super::*`):
///
/// ```ignore
/// tenancy_testkit::database_suite!(
///     #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
///     Axum
/// );
/// ```
#[macro_export]
macro_rules! database_suite {
    (#[$test:meta] $harness:ty) => {
        /// The database cases, straight to Postgres.
        mod direct {
            use super::*;
            $crate::database_suite!(@via #[$test] $harness, Direct);
        }
        /// The database cases, through PgBouncer in transaction pooling mode.
        mod pgbouncer {
            use super::*;
            $crate::database_suite!(@via #[$test] $harness, PgBouncer);
        }
    };
    (@via #[$test:meta] $harness:ty, $via:ident) => {
        $crate::database_suite!(@cases #[$test] $harness, $via;
            each_tenant_sees_only_its_own_rows,
            writes_land_in_the_requests_tenant_only,
            no_tenant_is_tenant_required,
            missing_access_or_layer_is_a_configuration_error,
            failing_handler_leaves_no_partial_write,
            open_errors_keep_their_status,
            concurrent_requests_never_see_foreign_rows,
            any_tenant_access_works,
            rejections_use_the_layers_renderer,
            slow_uploads_hold_no_connections,
        );
    };
    (@cases #[$test:meta] $harness:ty, $via:ident; $($case:ident,)*) => {
        $(
            #[$test]
            async fn $case() {
                $crate::cases::$case::<$harness>($crate::pg::Via::$via).await;
            }
        )*
    };
}
