//! Which migration version each tenant schema is on, as the statement cache
//! needs it: tenants on one version share prepared statements
//! ([`StatementCache::PerVersion`](super::StatementCache::PerVersion)).
//!
//! A schema's version is read from its migration history the first time a
//! process scopes a connection to it (one query, outside any transaction),
//! and kept for [`SchemaPool::version_ttl`](super::SchemaPool::version_ttl).
//! Migrating, renaming or dropping a schema through the pool forgets it at
//! once; a migration made by another process is picked up when the entry
//! expires, or sooner: a statement that Postgres refuses with SQLSTATE 0A000
//! ("cached plan must not change result type") puts its schema on statements
//! of its own until the entry expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, PgConnection, Row};

use crate::ident::Ident;
use crate::storage::SchemaName;

/// How long a schema's version is trusted by default.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(600);

/// How many schemas' versions a pool remembers at most.
const CAPACITY: usize = 200_000;

/// Distinct version tags kept for sharing; more (which only drift or
/// out-of-order histories produce) are simply not interned.
const INTERNED: usize = 1_024;

/// The shared map from schema to statement tag. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Versions(Arc<Inner>);

struct Inner {
    tags: quick_cache::sync::Cache<SchemaName, Entry>,
    interned: Mutex<HashMap<String, Arc<str>>>,
}

#[derive(Clone)]
struct Entry {
    tag: Arc<str>,
    until: Instant,
}

impl Default for Versions {
    fn default() -> Self {
        Self(Arc::new(Inner {
            tags: quick_cache::sync::Cache::new(CAPACITY),
            interned: Mutex::new(HashMap::new()),
        }))
    }
}

impl Versions {
    /// The tag `schema`'s statements carry, if known and fresh.
    pub(crate) fn get(&self, schema: &SchemaName) -> Option<Arc<str>> {
        let entry = self.0.tags.get(schema)?;
        if entry.until > Instant::now() {
            Some(entry.tag)
        } else {
            None
        }
    }

    /// Reads `schema`'s version from its history table `history` on `conn`
    /// (which must not be inside a transaction) and remembers its tag for `ttl`.
    ///
    /// A schema without a readable history (no table yet, a custom table the
    /// pool was not told of, a role without `SELECT` on it) gets statements
    /// of its own: always correct.
    pub(crate) async fn load(
        &self,
        conn: &mut PgConnection,
        schema: &SchemaName,
        history: &Ident,
        ttl: Duration,
    ) -> Result<Arc<str>, sqlx::Error> {
        let query = version_query(schema, history);
        let tag = match sqlx::raw_sql(AssertSqlSafe(query))
            .fetch_optional(&mut *conn)
            .await
        {
            Ok(Some(row)) => match row.try_get::<Option<String>, _>(0)? {
                Some(version) => self.intern(version_tag(&version)),
                None => schema_tag(schema),
            },
            Ok(None) => schema_tag(schema),
            // No history table, or one this role may not read: the server
            // answered, so the connection is fine; the schema gets statements
            // of its own. Only a failing connection fails the caller.
            Err(sqlx::Error::Database(error)) => {
                tracing::debug!(%schema, %error, "no readable migration history: statements of its own");
                schema_tag(schema)
            }
            Err(error) => return Err(error),
        };
        self.remember(schema, tag.clone(), ttl);
        Ok(tag)
    }

    /// Gives `schema` statements of its own for `ttl` (after Postgres refused
    /// a shared statement in it).
    pub(crate) fn isolate(&self, schema: &SchemaName, ttl: Duration) {
        tracing::warn!(
            %schema,
            "a shared statement changed result type in this schema (a migration by another \
             process, or schema drift): its statements are now its own"
        );
        self.remember(schema, schema_tag(schema), ttl);
    }

    /// Forgets `schema` (migrated, renamed or dropped): read again on next use.
    pub(crate) fn forget(&self, schema: &SchemaName) {
        self.0.tags.remove(schema);
    }

    /// Forgets every schema (changes may have been missed).
    pub(crate) fn forget_all(&self) {
        self.0.tags.clear();
    }

    fn remember(&self, schema: &SchemaName, tag: Arc<str>, ttl: Duration) {
        let until = Instant::now() + ttl;
        self.0.tags.insert(schema.clone(), Entry { tag, until });
    }

    fn intern(&self, tag: String) -> Arc<str> {
        let Ok(mut interned) = self.0.interned.lock() else {
            return Arc::from(tag);
        };
        if let Some(shared) = interned.get(&tag) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(tag.as_str());
        if interned.len() < INTERNED {
            interned.insert(tag, shared.clone());
        }
        shared
    }
}

/// The statement tag of tenants whose history digest is `version`.
fn version_tag(version: &str) -> String {
    format!("/* tenancy version={version} */ ")
}

/// The statement tag of one schema alone.
pub(crate) fn schema_tag(schema: &SchemaName) -> Arc<str> {
    Arc::from(format!("/* tenancy schema={schema} */ "))
}

/// The digest of a schema's applied migrations: the highest version, then a
/// hash over every applied version and checksum, so that two histories with
/// one highest version but different contents (a migration applied out of
/// order, an edited migration) never share statements.
fn version_query(schema: &SchemaName, history: &Ident) -> String {
    format!(
        "SELECT max(version)::text || '.' || left(md5(string_agg(version::text || ':' || \
         encode(checksum, 'hex'), ',' ORDER BY version)), 16) FROM {}.{} WHERE success",
        schema.quoted(),
        history.quoted()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_shared_by_version_and_forgotten_on_demand() {
        let versions = Versions::default();
        let a = SchemaName::new("tenant_a").unwrap();
        let b = SchemaName::new("tenant_b").unwrap();
        let one = versions.intern(version_tag("3.abc"));
        let two = versions.intern(version_tag("3.abc"));
        assert!(Arc::ptr_eq(&one, &two));
        versions.remember(&a, one.clone(), DEFAULT_TTL);
        versions.remember(&b, two, DEFAULT_TTL);
        assert_eq!(
            versions.get(&a).as_deref(),
            Some("/* tenancy version=3.abc */ ")
        );
        versions.isolate(&b, DEFAULT_TTL);
        assert_eq!(
            versions.get(&b).as_deref(),
            Some("/* tenancy schema=tenant_b */ ")
        );
        versions.forget(&a);
        assert!(versions.get(&a).is_none());
        versions.remember(&a, one, Duration::ZERO);
        assert!(versions.get(&a).is_none(), "an expired entry is not used");
    }

    #[test]
    fn the_version_query_quotes_schema_and_table() {
        let schema = SchemaName::new("tenant_x").unwrap();
        let history = Ident::new("_sqlx_migrations").unwrap();
        let query = version_query(&schema, &history);
        assert!(query.contains("FROM \"tenant_x\".\"_sqlx_migrations\" WHERE success"));
    }
}
