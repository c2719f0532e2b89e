//! Connection affinity: each tenant schema is served by one of several
//! sub-pools, so a connection touches only a share of the schemas.
//!
//! Postgres keeps, per connection, catalog and plan caches for every table
//! the connection has touched, and never shrinks them. A connection that
//! serves every one of 10,000 schemas ends up holding all of their
//! catalog entries (about 10 KiB of its own memory per schema and table set,
//! plus the shared buffers it maps). Routing a schema always to the same
//! sub-pool keeps each connection's share at `schemas / partitions`: memory
//! stays bounded and the caches stay warm.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use sqlx::PgPool;

use crate::storage::SchemaName;

/// The sub-pools, when affinity is on.
#[derive(Clone, Default)]
pub(crate) struct Partitions(Option<Arc<[PgPool]>>);

impl Partitions {
    /// `partitions` sub-pools sharing `pool`'s connect and pool options, its
    /// connections divided between them (at least one each). One partition
    /// (or none) turns affinity off.
    pub(crate) fn new(pool: &PgPool, partitions: usize) -> Self {
        if partitions <= 1 {
            return Self(None);
        }
        let count = u32::try_from(partitions).unwrap_or(u32::MAX);
        let options = pool.options().clone();
        let each = (options.get_max_connections() / count).max(1);
        let min = (options.get_min_connections() / count).min(each);
        let connect = pool.connect_options();
        let pools: Vec<PgPool> = (0..partitions)
            .map(|_| {
                options
                    .clone()
                    .max_connections(each)
                    .min_connections(min)
                    .connect_lazy_with((*connect).clone())
            })
            .collect();
        Self(Some(pools.into()))
    }

    /// How many sub-pools (1 when affinity is off).
    pub(crate) fn count(&self) -> usize {
        self.0.as_ref().map_or(1, |pools| pools.len())
    }

    /// The pool that serves `schema`: its sub-pool, or `main` without affinity.
    pub(crate) fn pool_for<'a>(&'a self, main: &'a PgPool, schema: &SchemaName) -> &'a PgPool {
        let Some(pools) = &self.0 else {
            return main;
        };
        // DefaultHasher::new() has fixed keys: a schema maps to the same
        // partition in every process.
        let mut hasher = DefaultHasher::new();
        schema.as_str().hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % pools.len() as u64).unwrap_or(0);
        pools.get(index).unwrap_or(main)
    }
}
