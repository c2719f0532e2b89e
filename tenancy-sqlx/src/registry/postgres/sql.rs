//! The registry's SQL, built once from validated, quoted names.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row, SqlSafeStr, SqlStr};
use tenancy_core::{DomainName, DomainRecord, TenancyError, TenantId};

use crate::registry::RegistryConfig;
use crate::registry::config::TableDefaults;
use crate::storage::Storage;
use crate::tenant::RegistryTenant;

/// Prepared statement texts of one registry.
#[derive(Debug)]
pub(crate) struct RegistrySql {
    pub(crate) find_by_id: SqlStr,
    pub(crate) find_by_domain: SqlStr,
    pub(crate) list: SqlStr,
    pub(crate) insert: SqlStr,
    pub(crate) set_name: SqlStr,
    pub(crate) set_active: SqlStr,
    pub(crate) demote_primary: SqlStr,
    pub(crate) add_domain: SqlStr,
    pub(crate) remove_domain: SqlStr,
    pub(crate) rename: SqlStr,
    pub(crate) rename_with_storage: SqlStr,
    pub(crate) delete: SqlStr,
    pub(crate) domains_taken: SqlStr,
    /// Constraint names, to classify unique violations.
    pub(crate) tenants_table: String,
    pub(crate) domains_table: String,
    pub(crate) storage_key: String,
}

fn sql(text: String) -> SqlStr {
    AssertSqlSafe(text).into_sql_str()
}

impl RegistrySql {
    pub(crate) fn new(config: &RegistryConfig) -> Self {
        let tenants = config.tenants(TableDefaults::Postgres);
        let domains = config.domains(TableDefaults::Postgres);
        let s = config.schema_name().quoted();
        let t = format!("{s}.{}", tenants.quoted());
        let d = format!("{s}.{}", domains.quoted());
        let select = format!(
            "SELECT t.id, t.name, t.active, t.storage_kind, t.storage_location, \
             (extract(epoch FROM t.created_at) * 1000000)::int8 AS created_us, \
             (extract(epoch FROM t.updated_at) * 1000000)::int8 AS updated_us, \
             coalesce(array_agg(d.domain ORDER BY d.domain) FILTER (WHERE d.domain IS NOT NULL), '{{}}') AS domains, \
             coalesce(array_agg(d.is_primary ORDER BY d.domain) FILTER (WHERE d.domain IS NOT NULL), '{{}}') AS primaries \
             FROM {t} t LEFT JOIN {d} d ON d.tenant_id = t.id"
        );
        Self {
            find_by_id: sql(format!("{select} WHERE t.id = $1 GROUP BY t.id")),
            find_by_domain: sql(format!(
                "{select} WHERE t.id = (SELECT tenant_id FROM {d} WHERE domain = $1) GROUP BY t.id"
            )),
            list: sql(format!("{select} GROUP BY t.id ORDER BY t.id")),
            // $1 id, $2 name, $3 active, $4 kind, $5 location, $6 domains, $7 primaries,
            // $8 channel, $9 payload.
            insert: sql(format!(
                "WITH tenant AS (\
                   INSERT INTO {t} (id, name, active, storage_kind, storage_location) \
                   VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at, updated_at\
                 ), domains AS (\
                   INSERT INTO {d} (domain, tenant_id, is_primary) \
                   SELECT x.domain, tenant.id, x.is_primary FROM tenant, \
                   unnest($6::text[], $7::bool[]) AS x(domain, is_primary) RETURNING domain\
                 ) \
                 SELECT (extract(epoch FROM created_at) * 1000000)::int8 AS created_us, \
                 (extract(epoch FROM updated_at) * 1000000)::int8 AS updated_us, \
                 pg_notify($8, $9)::text AS notified \
                 FROM tenant"
            )),
            // $1 id, $2 name, $3 channel, $4 payload.
            set_name: sql(format!(
                "WITH t AS (UPDATE {t} SET name = $2, updated_at = now() WHERE id = $1 RETURNING id) \
                 SELECT pg_notify($3, $4)::text FROM t"
            )),
            set_active: sql(format!(
                "WITH t AS (UPDATE {t} SET active = $2, updated_at = now() WHERE id = $1 RETURNING id) \
                 SELECT pg_notify($3, $4)::text FROM t"
            )),
            demote_primary: sql(format!(
                "UPDATE {d} SET is_primary = false WHERE tenant_id = $1 AND is_primary"
            )),
            // $1 id, $2 domain, $3 primary, $4 channel, $5 payload.
            add_domain: sql(format!(
                "WITH x AS (INSERT INTO {d} (domain, tenant_id, is_primary) \
                 SELECT $2, id, $3 FROM {t} WHERE id = $1 RETURNING domain), \
                 touched AS (UPDATE {t} SET updated_at = now() WHERE id = $1 AND EXISTS (SELECT 1 FROM x)) \
                 SELECT pg_notify($4, $5)::text FROM x"
            )),
            // $1 domain, $2 channel, $3 payload prefix (the owner id is appended).
            remove_domain: sql(format!(
                "WITH x AS (DELETE FROM {d} WHERE domain = $1 RETURNING tenant_id), \
                 touched AS (UPDATE {t} SET updated_at = now() WHERE id IN (SELECT tenant_id FROM x)) \
                 SELECT tenant_id, pg_notify($2, $3 || tenant_id)::text FROM x"
            )),
            // $1 old, $2 new, $3 channel, $4 payload.
            rename: sql(format!(
                "WITH t AS (UPDATE {t} SET id = $2, updated_at = now() WHERE id = $1 RETURNING id) \
                 SELECT pg_notify($3, $4)::text FROM t"
            )),
            // $1 old, $2 new, $3 location, $4 channel, $5 payload.
            rename_with_storage: sql(format!(
                "WITH t AS (UPDATE {t} SET id = $2, storage_location = $3, updated_at = now() \
                 WHERE id = $1 RETURNING id) SELECT pg_notify($4, $5)::text FROM t"
            )),
            // $1 id, $2 channel, $3 payload.
            delete: sql(format!(
                "WITH t AS (DELETE FROM {t} WHERE id = $1 RETURNING id) \
                 SELECT pg_notify($2, $3)::text FROM t"
            )),
            domains_taken: sql(format!(
                "SELECT domain FROM {d} WHERE domain = ANY($1) ORDER BY domain LIMIT 1"
            )),
            tenants_table: tenants.as_str().to_owned(),
            domains_table: domains.as_str().to_owned(),
            storage_key: format!("{}_storage_key", tenants.as_str()),
        }
    }
}

/// Microseconds since the Unix epoch as a `SystemTime`.
pub(crate) fn from_micros(micros: i64) -> SystemTime {
    let magnitude = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        SystemTime::UNIX_EPOCH
            .checked_add(magnitude)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    } else {
        SystemTime::UNIX_EPOCH
            .checked_sub(magnitude)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// Decodes a row of [`RegistrySql::find_by_id`] and friends.
pub(crate) fn decode_tenant(row: &PgRow) -> Result<RegistryTenant, TenancyError> {
    let id: String = row.try_get("id").map_err(TenancyError::storage)?;
    let name: String = row.try_get("name").map_err(TenancyError::storage)?;
    let active: bool = row.try_get("active").map_err(TenancyError::storage)?;
    let kind: String = row.try_get("storage_kind").map_err(TenancyError::storage)?;
    let location: String = row
        .try_get("storage_location")
        .map_err(TenancyError::storage)?;
    let created: i64 = row.try_get("created_us").map_err(TenancyError::storage)?;
    let updated: i64 = row.try_get("updated_us").map_err(TenancyError::storage)?;
    let domains: Vec<String> = row.try_get("domains").map_err(TenancyError::storage)?;
    let primaries: Vec<bool> = row.try_get("primaries").map_err(TenancyError::storage)?;

    let id = TenantId::new(&id)?;
    let records = domains
        .into_iter()
        .zip(primaries)
        .map(|(domain, primary)| {
            let record = DomainRecord::new(DomainName::new(domain)?, id.clone());
            Ok(if primary { record.primary() } else { record })
        })
        .collect::<Result<Vec<_>, TenancyError>>()?;
    Ok(RegistryTenant::builder(
        id,
        Arc::<str>::from(name),
        Storage::from_parts(&kind, &location)?,
    )
    .active(active)
    .domains(records)
    .timestamps(from_micros(created), from_micros(updated))
    .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_convert_both_ways_of_the_epoch() {
        assert_eq!(
            from_micros(1_500_000),
            SystemTime::UNIX_EPOCH + Duration::from_micros(1_500_000)
        );
        assert_eq!(
            from_micros(-1),
            SystemTime::UNIX_EPOCH - Duration::from_micros(1)
        );
    }

    #[test]
    fn names_are_quoted_everywhere() {
        let sql = RegistrySql::new(&RegistryConfig::default());
        assert!(
            sql.find_by_id
                .as_str()
                .contains("FROM \"tenancy\".\"tenants\" t")
        );
        assert!(sql.insert.as_str().contains("\"tenancy\".\"domains\""));
    }
}
