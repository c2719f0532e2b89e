//! What the statements of a [`SqlRegistry`](super::SqlRegistry) receive:
//! joined rows folded into tenants, and timestamps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tenancy_core::{DomainName, DomainRecord, TenancyError, TenantId};

use crate::storage::Storage;
use crate::tenant::RegistryTenant;

/// One row of the registry's `tenant LEFT JOIN domain` query.
pub(crate) type TenantRow = (
    String,
    String,
    bool,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<bool>,
);

/// Folds joined rows (ordered by tenant id) into tenants.
pub(crate) fn decode_rows(rows: Vec<TenantRow>) -> Result<Vec<RegistryTenant>, TenancyError> {
    let mut tenants: BTreeMap<String, (TenantRow, Vec<DomainRecord>)> = BTreeMap::new();
    let mut order = Vec::new();
    for row in rows {
        let domain = match (&row.7, row.8) {
            (Some(domain), primary) => {
                let record = DomainRecord::new(DomainName::new(domain)?, TenantId::new(&row.0)?);
                Some(if primary.unwrap_or(false) {
                    record.primary()
                } else {
                    record
                })
            }
            (None, _) => None,
        };
        let entry = tenants.entry(row.0.clone()).or_insert_with(|| {
            order.push(row.0.clone());
            (row, Vec::new())
        });
        entry.1.extend(domain);
    }
    order
        .into_iter()
        .filter_map(|id| tenants.remove(&id))
        .map(
            |((id, name, active, kind, location, created, updated, _, _), domains)| {
                Ok(RegistryTenant::builder(
                    TenantId::new(&id)?,
                    Arc::<str>::from(name),
                    Storage::from_parts(&kind, &location)?,
                )
                .active(active)
                .domains(domains)
                .timestamps(from_micros(created), from_micros(updated))
                .build())
            },
        )
        .collect()
}

/// Now, in microseconds since the Unix epoch.
pub(crate) fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Microseconds since the Unix epoch as a `SystemTime`.
pub(crate) fn from_micros(micros: i64) -> SystemTime {
    let magnitude = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH.checked_add(magnitude).unwrap_or(UNIX_EPOCH)
    } else {
        UNIX_EPOCH.checked_sub(magnitude).unwrap_or(UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, domain: Option<&str>, primary: bool) -> TenantRow {
        (
            id.to_owned(),
            format!("{id} name"),
            true,
            "database".to_owned(),
            format!("main/tenant_{id}"),
            1,
            2,
            domain.map(str::to_owned),
            domain.map(|_| primary),
        )
    }

    #[test]
    fn joined_rows_fold_into_tenants() {
        let tenants = decode_rows(vec![
            row("a", Some("a.test"), false),
            row("a", Some("b.test"), true),
            row("b", None, false),
        ])
        .unwrap();
        assert_eq!(tenants.len(), 2);
        let a = tenants.first().unwrap();
        assert_eq!(a.domains().len(), 2);
        assert_eq!(a.primary_domain().unwrap().as_str(), "b.test");
        assert_eq!(a.created_at(), UNIX_EPOCH + Duration::from_micros(1));
        assert!(tenants.get(1).unwrap().domains().is_empty());
        assert!(decode_rows(vec![row("Bad Id", None, false)]).is_err());
    }
}
