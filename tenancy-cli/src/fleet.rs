//! Database mode across servers: `servers` (tenants per server), placement
//! on `tenants create --server / --least-used`, and `tenants move`.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::json;
use tenancy_core::{TenancyError, TenantId};
use tenancy_sqlx::database::{DatabaseBackend, TenantPools};
use tenancy_sqlx::registry::TenantRegistry;
use tenancy_sqlx::{Ident, NewTenant, RegistryTenant, TenantManager};

use crate::admin::{CommandError, Outcome};
use crate::output::{Output, aligned};

/// A database-mode manager's servers, for [`Admin::with_fleet`](crate::Admin::with_fleet).
pub trait Fleet: Send + Sync {
    /// How many tenants each configured server holds.
    fn tenants_per_server(&self) -> BoxFuture<'_, Result<BTreeMap<Ident, usize>, TenancyError>>;

    /// Creates `new` on `server`, or on the server with the fewest tenants.
    fn create_on<'a>(
        &'a self,
        new: NewTenant,
        server: Option<&'a Ident>,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>>;

    /// Moves tenant `id`'s database to `server`, waiting `drain` after
    /// deactivating it.
    fn move_to<'a>(
        &'a self,
        id: &'a TenantId,
        server: &'a Ident,
        drain: Duration,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>>;
}

impl<B: DatabaseBackend, R: TenantRegistry> Fleet for TenantManager<TenantPools<B>, R> {
    fn tenants_per_server(&self) -> BoxFuture<'_, Result<BTreeMap<Ident, usize>, TenancyError>> {
        TenantManager::tenants_per_server(self).boxed()
    }

    fn create_on<'a>(
        &'a self,
        new: NewTenant,
        server: Option<&'a Ident>,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>> {
        match server {
            Some(server) => TenantManager::create_on(self, new, server).boxed(),
            None => self.create_on_least_used(new).boxed(),
        }
    }

    fn move_to<'a>(
        &'a self,
        id: &'a TenantId,
        server: &'a Ident,
        drain: Duration,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>> {
        self.move_tenant(id, server, drain).boxed()
    }
}

/// The fleet, or a usage error naming the command that needs one.
pub(crate) fn required<'a>(
    fleet: Option<&'a dyn Fleet>,
    command: &str,
) -> Result<&'a dyn Fleet, CommandError> {
    fleet.ok_or_else(|| {
        CommandError::Usage(format!(
            "{command} needs database isolation (tenant databases on servers)"
        ))
    })
}

/// A server name from the command line.
pub(crate) fn server(name: &str) -> Result<Ident, CommandError> {
    Ident::new(name).map_err(|error| CommandError::Usage(format!("server name {name:?}: {error}")))
}

/// Runs `servers`: tenants per server, as a table or JSON.
pub(crate) async fn run_servers(
    fleet: Option<&dyn Fleet>,
    output: Output,
) -> Result<Outcome, CommandError> {
    let counts = required(fleet, "servers")?.tenants_per_server().await?;
    let text = aligned(
        ["SERVER", "TENANTS"],
        counts
            .iter()
            .map(|(server, count)| [server.to_string(), count.to_string()]),
    );
    let document: BTreeMap<String, usize> = counts
        .iter()
        .map(|(server, count)| (server.to_string(), *count))
        .collect();
    output.report(&text, &json!(document))?;
    Ok(Outcome::Done)
}
