//! The demo tenants: `acme` and `globex`, three items each.

use tenancy_core::{DomainName, TenancyError, TenantId};
use tenancy_sqlx::NewTenant;

use super::model::NewItem;
use super::storage::{ItemsStore, TenantAdmin};

/// `(id, name, custom domains)` of the seeded tenants.
pub const SEED_TENANTS: [(&str, &str, &[&str]); 2] = [
    ("acme", "Acme Corp", &["acme.test"]),
    ("globex", "Globex", &[]),
];

/// Creates the seed tenants that do not exist yet, each with items
/// `<id> item 1..3` (capacities 10, 20, 30). Returns how many were created.
pub async fn seed(admin: &dyn TenantAdmin, items: &dyn ItemsStore) -> Result<usize, TenancyError> {
    let mut created = 0;
    for (id, name, domains) in SEED_TENANTS {
        let id = TenantId::new(id)?;
        if admin.get(&id).await?.is_some() {
            continue;
        }
        let mut tenant = NewTenant::new(id.clone(), name);
        for domain in domains {
            tenant = tenant.primary_domain(DomainName::new(domain)?);
        }
        let tenant = admin.create(tenant).await?;
        for n in 1..=3_u32 {
            let item = NewItem {
                name: format!("{id} item {n}"),
                capacity: f64::from(n * 10),
            };
            items.create(&tenant, item).await?;
        }
        created += 1;
    }
    Ok(created)
}
