//! [`RegistryTenant`]: a tenant as a registry stores it (with its
//! [`Storage`]), and [`NewTenant`]: a tenant to create.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use tenancy_core::{
    DomainName, DomainRecord, TenancyError, Tenant, TenantEvent, TenantId, TenantRecord,
};

use crate::storage::{SchemaName, SchemaNaming, Storage, TenantSchema};

/// A tenant as stored in a registry: id, name, active flag, storage location,
/// domains and timestamps. Cheap to clone (one reference count).
///
/// It implements [`Tenant`], so it flows through
/// [`Tenancy`](tenancy_core::Tenancy) and the framework extractors, and
/// [`TenantSchema`], so a schema pool can scope to it directly.
///
/// ```
/// use tenancy_core::{Tenant, TenantId};
/// use tenancy_sqlx::{RegistryTenant, Storage};
/// use tenancy_sqlx::schema::SchemaName;
///
/// let schema = Storage::Schema(SchemaName::new("tenant_acme")?);
/// let tenant = RegistryTenant::builder(TenantId::new("acme")?, "Acme Corp", schema).build();
/// assert!(tenant.is_active());
/// assert_eq!(tenant.storage().location(), "tenant_acme");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryTenant(Arc<Inner>);

#[derive(Debug, PartialEq, Eq)]
struct Inner {
    id: TenantId,
    name: Arc<str>,
    active: bool,
    storage: Storage,
    domains: Vec<DomainRecord>,
    created_at: SystemTime,
    updated_at: SystemTime,
}

impl RegistryTenant {
    /// Starts a tenant value (registries build theirs the same way).
    pub fn builder(
        id: TenantId,
        name: impl Into<Arc<str>>,
        storage: Storage,
    ) -> RegistryTenantBuilder {
        RegistryTenantBuilder {
            id,
            name: name.into(),
            active: true,
            storage,
            domains: Vec::new(),
            created_at: SystemTime::UNIX_EPOCH,
            updated_at: SystemTime::UNIX_EPOCH,
        }
    }

    /// The tenant's id.
    pub fn id(&self) -> &TenantId {
        &self.0.id
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Whether requests may be served for this tenant.
    pub fn is_active(&self) -> bool {
        self.0.active
    }

    /// Where the tenant's data lives.
    pub fn storage(&self) -> &Storage {
        &self.0.storage
    }

    /// The tenant's schema, for schema storage.
    pub fn schema(&self) -> Option<&SchemaName> {
        self.0.storage.schema()
    }

    /// The tenant's domains, the primary one first.
    pub fn domains(&self) -> &[DomainRecord] {
        &self.0.domains
    }

    /// The primary domain, if one is marked.
    pub fn primary_domain(&self) -> Option<&DomainName> {
        self.0
            .domains
            .iter()
            .find(|domain| domain.primary)
            .map(|domain| &domain.name)
    }

    /// When the tenant was created.
    pub fn created_at(&self) -> SystemTime {
        self.0.created_at
    }

    /// When the tenant was last changed.
    pub fn updated_at(&self) -> SystemTime {
        self.0.updated_at
    }

    /// The plain [`TenantRecord`] (id, name, active flag).
    pub fn to_record(&self) -> TenantRecord {
        TenantRecord::new(self.0.id.clone(), self.0.name.clone()).with_active(self.0.active)
    }
}

impl fmt::Debug for RegistryTenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryTenant")
            .field("id", &self.0.id)
            .field("name", &self.0.name)
            .field("active", &self.0.active)
            .field("storage", &self.0.storage)
            .field("domains", &self.0.domains)
            .finish_non_exhaustive()
    }
}

impl Tenant for RegistryTenant {
    fn id(&self) -> &TenantId {
        &self.0.id
    }

    fn name(&self) -> &str {
        &self.0.name
    }

    fn is_active(&self) -> bool {
        self.0.active
    }
}

impl TenantSchema for RegistryTenant {
    fn tenant_schema(&self, _: &SchemaNaming) -> Result<SchemaName, TenancyError> {
        match &self.0.storage {
            Storage::Schema(schema) => Ok(schema.clone()),
            other => Err(TenancyError::Configuration {
                message: format!(
                    "tenant `{}` has no schema (its storage is {other})",
                    self.0.id
                ),
            }),
        }
    }
}

/// Builds a [`RegistryTenant`] value; see [`RegistryTenant::builder`].
///
/// ```
/// use tenancy_core::{DomainName, TenantId};
/// use tenancy_sqlx::{RegistryTenant, Storage};
/// use tenancy_sqlx::schema::SchemaName;
///
/// let schema = Storage::Schema(SchemaName::new("tenant_acme")?);
/// let tenant = RegistryTenant::builder(TenantId::new("acme")?, "Acme", schema)
///     .active(false)
///     .domain(DomainName::new("acme.test")?, true)
///     .build();
/// assert_eq!(tenant.primary_domain().map(|d| d.as_str()), Some("acme.test"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RegistryTenantBuilder {
    id: TenantId,
    name: Arc<str>,
    active: bool,
    storage: Storage,
    domains: Vec<DomainRecord>,
    created_at: SystemTime,
    updated_at: SystemTime,
}

impl RegistryTenantBuilder {
    /// Sets the active flag (default `true`).
    pub fn active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// Adds a domain.
    pub fn domain(mut self, name: DomainName, primary: bool) -> Self {
        let record = DomainRecord::new(name, self.id.clone());
        self.domains
            .push(if primary { record.primary() } else { record });
        self
    }

    /// Sets the whole domain list.
    pub fn domains(mut self, domains: Vec<DomainRecord>) -> Self {
        self.domains = domains;
        self
    }

    /// Sets both timestamps.
    pub fn timestamps(mut self, created_at: SystemTime, updated_at: SystemTime) -> Self {
        self.created_at = created_at;
        self.updated_at = updated_at;
        self
    }

    /// Builds the tenant (domains sorted: primary first, then by name).
    pub fn build(self) -> RegistryTenant {
        let mut domains = self.domains;
        domains.sort_by(|a, b| b.primary.cmp(&a.primary).then_with(|| a.name.cmp(&b.name)));
        RegistryTenant(Arc::new(Inner {
            id: self.id,
            name: self.name,
            active: self.active,
            storage: self.storage,
            domains,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }))
    }
}

/// A tenant to create: id, display name, active flag and initial domains.
///
/// ```
/// use tenancy_core::{DomainName, TenantId};
/// use tenancy_sqlx::NewTenant;
///
/// let acme = NewTenant::new(TenantId::new("acme")?, "Acme Corp")
///     .primary_domain(DomainName::new("acme.example")?)
///     .domain(DomainName::new("shop.acme.example")?);
/// assert_eq!(acme.domains().len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct NewTenant {
    pub(crate) id: TenantId,
    pub(crate) name: Arc<str>,
    pub(crate) active: bool,
    pub(crate) domains: Vec<DomainRecord>,
}

impl NewTenant {
    /// An active tenant without domains.
    pub fn new(id: TenantId, name: impl Into<Arc<str>>) -> Self {
        Self {
            id,
            name: name.into(),
            active: true,
            domains: Vec::new(),
        }
    }

    /// Creates the tenant deactivated.
    pub fn inactive(mut self) -> Self {
        self.active = false;
        self
    }

    /// Adds a (non-primary) domain.
    pub fn domain(mut self, domain: DomainName) -> Self {
        self.domains
            .push(DomainRecord::new(domain, self.id.clone()));
        self
    }

    /// Adds the primary domain.
    pub fn primary_domain(mut self, domain: DomainName) -> Self {
        self.domains
            .push(DomainRecord::new(domain, self.id.clone()).primary());
        self
    }

    /// The id.
    pub fn id(&self) -> &TenantId {
        &self.id
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The domains to register.
    pub fn domains(&self) -> &[DomainRecord] {
        &self.domains
    }

    /// Whether the tenant is to be served once created.
    pub fn is_active(&self) -> bool {
        self.active
    }
}

/// The events a tenant creation produces: created, and each domain added.
#[cfg_attr(
    not(any(
        feature = "postgres",
        feature = "mysql",
        feature = "sqlite",
        feature = "testing"
    )),
    allow(dead_code)
)]
pub(crate) fn created_events(id: &TenantId, domains: &[DomainRecord]) -> Vec<TenantEvent> {
    let mut events = vec![TenantEvent::Created(id.clone())];
    events.extend(domains.iter().map(|domain| TenantEvent::DomainAdded {
        tenant: id.clone(),
        domain: domain.name.clone(),
    }));
    events
}

/// The event of `domain` removed from the tenant `owner` (an id read back
/// from the database; unknown if it does not parse, which a valid registry
/// never stores).
#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]
pub(crate) fn domain_removed_event(owner: String, domain: &DomainName) -> TenantEvent {
    match TenantId::new(owner) {
        Ok(tenant) => TenantEvent::DomainRemoved {
            tenant,
            domain: domain.clone(),
        },
        Err(_) => TenantEvent::Unknown,
    }
}
