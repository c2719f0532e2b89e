//! `spares`: Postgres schema mode's spare schemas (pre-made and migrated,
//! so that creating a tenant takes one instead of running every migration).

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::json;
use tenancy_core::TenancyError;
use tenancy_sqlx::registry::TenantRegistry;
use tenancy_sqlx::{SchemaPool, TenantManager};

use crate::admin::{CommandError, Outcome};
use crate::args::SparesArgs;
use crate::output::Output;

/// Spare schemas of a schema-mode manager, for [`Admin::with_spares`](crate::Admin::with_spares).
pub trait Spares: Send + Sync {
    /// How many spare schemas are available.
    fn count(&self) -> BoxFuture<'_, Result<usize, TenancyError>>;
    /// Creates spares until `target` are available; returns how many it made.
    fn replenish(&self, target: usize) -> BoxFuture<'_, Result<usize, TenancyError>>;
    /// Drops every spare; returns how many it dropped.
    fn drop_all(&self) -> BoxFuture<'_, Result<usize, TenancyError>>;
}

impl<R: TenantRegistry> Spares for TenantManager<SchemaPool, R> {
    fn count(&self) -> BoxFuture<'_, Result<usize, TenancyError>> {
        self.spare_count().boxed()
    }

    fn replenish(&self, target: usize) -> BoxFuture<'_, Result<usize, TenancyError>> {
        self.replenish_spares(target).boxed()
    }

    fn drop_all(&self) -> BoxFuture<'_, Result<usize, TenancyError>> {
        self.drop_spares().boxed()
    }
}

/// Runs `spares`: the count, after replenishing or dropping when asked.
pub(crate) async fn run(
    spares: Option<&dyn Spares>,
    args: &SparesArgs,
    output: Output,
) -> Result<Outcome, CommandError> {
    let spares = spares.ok_or_else(|| {
        CommandError::Usage(
            "spare schemas belong to schema isolation (Postgres); this tenancy has none".to_owned(),
        )
    })?;
    let mut done = String::new();
    let mut created = 0;
    let mut dropped = 0;
    if args.drop {
        dropped = spares.drop_all().await?;
        done = format!("dropped {dropped}; ");
    }
    if let Some(target) = args.replenish {
        created = spares.replenish(usize::from(target)).await?;
        done = format!("{done}created {created}; ");
    }
    let available = spares.count().await?;
    output.report(
        &format!("{done}{available} spare schema(s) available"),
        &json!({ "available": available, "created": created, "dropped": dropped }),
    )?;
    Ok(Outcome::Done)
}
