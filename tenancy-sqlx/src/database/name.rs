//! [`DatabaseNaming`]: how tenant ids map to database names.

use std::fmt;
use std::sync::Arc;

use tenancy_core::TenantId;

#[cfg(any(feature = "mysql", feature = "sqlite"))]
use crate::ident::MAX_IDENT_LEN;
use crate::ident::{InvalidIdentifier, name_prefix};
use crate::storage::DatabaseName;

/// Maps tenant ids to database names one-to-one: `{prefix}{id}`.
///
/// The prefix (default `tenant_`) is `[a-z_][a-z0-9_]*` or empty. Tenant ids
/// never contain `_`, so names this crate derives for other purposes (the
/// Postgres template `{prefix}_template`, MySQL's de-duplicated names
/// `{prefix}{id}_{token}`) can never collide with a tenant's. An id too long
/// for the prefix is refused, not truncated.
///
/// ```
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::database::DatabaseNaming;
///
/// let naming = DatabaseNaming::default();
/// assert_eq!(naming.database_for(&TenantId::new("acme")?)?.as_str(), "tenant_acme");
/// assert_eq!(naming.template()?.as_str(), "tenant__template");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DatabaseNaming {
    prefix: Arc<str>,
}

impl Default for DatabaseNaming {
    fn default() -> Self {
        Self {
            prefix: Arc::from("tenant_"),
        }
    }
}

impl DatabaseNaming {
    /// A naming with `prefix` (may be empty).
    pub fn with_prefix(prefix: impl AsRef<str>) -> Result<Self, InvalidIdentifier> {
        Ok(Self {
            prefix: name_prefix(prefix.as_ref())?,
        })
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The database of tenant `id`.
    pub fn database_for(&self, id: &TenantId) -> Result<DatabaseName, InvalidIdentifier> {
        DatabaseName::new(format!("{}{id}", self.prefix))
    }

    /// The tenant whose database is `name`, if `name` is a mapped name.
    pub fn tenant_for(&self, name: &DatabaseName) -> Option<TenantId> {
        let rest = name.as_str().strip_prefix(&*self.prefix)?;
        TenantId::new(rest).ok()
    }

    /// The Postgres template database: `{prefix}_template`.
    pub fn template(&self) -> Result<DatabaseName, InvalidIdentifier> {
        DatabaseName::new(format!("{}_template", self.prefix))
    }

    /// A name for tenant `id` that differs from [`database_for`](Self::database_for)
    /// (used where the natural name is still held by a renamed tenant).
    #[cfg(any(feature = "mysql", feature = "sqlite"))]
    pub(crate) fn unique_for(
        &self,
        id: &TenantId,
        token: &str,
    ) -> Result<DatabaseName, InvalidIdentifier> {
        let room = MAX_IDENT_LEN.saturating_sub(self.prefix.len() + token.len() + 1);
        let stem: String = id.as_str().chars().take(room).collect();
        DatabaseName::new(format!("{}{stem}_{token}", self.prefix))
    }
}

impl fmt::Debug for DatabaseNaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseNaming")
            .field("prefix", &&*self.prefix)
            .finish()
    }
}

/// A short random token (8 hex digits) for de-duplicated names.
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub(crate) fn token() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:08x}", hasher.finish() & 0xffff_ffff)
}

/// `InvalidIdentifier` as a storage-creation error of `tenant`.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) fn naming_error(
    tenant: &TenantId,
    name: &str,
    error: InvalidIdentifier,
) -> tenancy_core::TenancyError {
    tenancy_core::TenancyError::SchemaCreation {
        tenant: tenant.clone(),
        schema: name.to_owned(),
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_never_hit_server_databases() {
        let naming = DatabaseNaming::with_prefix("").unwrap();
        assert!(
            naming
                .database_for(&TenantId::new("mysql").unwrap())
                .is_err()
        );
        let id = TenantId::new("a-1").unwrap();
        let name = naming.database_for(&id).unwrap();
        assert_eq!(naming.tenant_for(&name), Some(id));
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn derived_names_never_collide_with_tenant_names() {
        let naming = DatabaseNaming::default();
        let id = TenantId::new("a".repeat(63)).unwrap();
        assert!(naming.database_for(&id).is_err(), "too long: refused");
        let unique = naming.unique_for(&id, "0123abcd").unwrap();
        assert_eq!(unique.as_str().len(), MAX_IDENT_LEN);
        assert!(naming.tenant_for(&unique).is_none());
        assert!(naming.tenant_for(&naming.template().unwrap()).is_none());
    }
}
