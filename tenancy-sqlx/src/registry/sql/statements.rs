//! [`Sql`]: the statements of a [`SqlRegistry`](super::SqlRegistry), built
//! once from its validated, quoted table names (both drivers use `?`
//! placeholders).

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use super::dialect::Dialect;
use crate::ident::Ident;

/// The registry's statements, built once from validated, quoted names.
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) find_by_id: SqlStr,
    pub(crate) find_by_domain: SqlStr,
    pub(crate) list: SqlStr,
    pub(crate) insert_tenant: SqlStr,
    pub(crate) insert_domain: SqlStr,
    pub(crate) set_name: SqlStr,
    pub(crate) set_active: SqlStr,
    pub(crate) lock_tenant: SqlStr,
    pub(crate) demote_primary: SqlStr,
    pub(crate) touch: SqlStr,
    pub(crate) domain_owner: SqlStr,
    pub(crate) delete_domain: SqlStr,
    pub(crate) rename: SqlStr,
    pub(crate) rename_with_storage: SqlStr,
    pub(crate) delete: SqlStr,
    pub(crate) domain_exists: SqlStr,
    pub(crate) record_change: SqlStr,
    pub(crate) changes_since: SqlStr,
    pub(crate) last_change: SqlStr,
    pub(crate) prune_changes: SqlStr,
}

/// The most change log rows one poll reads.
pub(crate) const CHANGES_PER_POLL: i64 = 1000;

fn sql(text: String) -> SqlStr {
    AssertSqlSafe(text).into_sql_str()
}

impl Sql {
    /// The statements on the tables `tenants`, `domains` and `changes`,
    /// quoted for `D`; `D::FOR_UPDATE` is appended to the row locks of
    /// `add_domain`.
    pub(crate) fn new<D: Dialect>(tenants: &Ident, domains: &Ident, changes: &Ident) -> Self {
        let t = D::quote(tenants);
        let d = D::quote(domains);
        let c = D::quote(changes);
        let for_update = D::FOR_UPDATE;
        let select = format!(
            "SELECT t.id, t.name, t.active, t.storage_kind, t.storage_location, \
             t.created_us, t.updated_us, d.domain, d.is_primary \
             FROM {t} t LEFT JOIN {d} d ON d.tenant_id = t.id"
        );
        Self {
            find_by_id: sql(format!("{select} WHERE t.id = ? ORDER BY d.domain")),
            find_by_domain: sql(format!(
                "{select} WHERE t.id = (SELECT tenant_id FROM {d} WHERE domain = ?) ORDER BY d.domain"
            )),
            list: sql(format!("{select} ORDER BY t.id, d.domain")),
            insert_tenant: sql(format!(
                "INSERT INTO {t} (id, name, active, storage_kind, storage_location, created_us, updated_us) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)"
            )),
            insert_domain: sql(format!(
                "INSERT INTO {d} (domain, tenant_id, is_primary, created_us) VALUES (?, ?, ?, ?)"
            )),
            set_name: sql(format!(
                "UPDATE {t} SET name = ?, updated_us = ? WHERE id = ?"
            )),
            set_active: sql(format!(
                "UPDATE {t} SET active = ?, updated_us = ? WHERE id = ?"
            )),
            lock_tenant: sql(format!("SELECT id FROM {t} WHERE id = ?{for_update}")),
            demote_primary: sql(format!(
                "UPDATE {d} SET is_primary = FALSE WHERE tenant_id = ? AND is_primary"
            )),
            touch: sql(format!("UPDATE {t} SET updated_us = ? WHERE id = ?")),
            domain_owner: sql(format!(
                "SELECT tenant_id FROM {d} WHERE domain = ?{for_update}"
            )),
            delete_domain: sql(format!("DELETE FROM {d} WHERE domain = ?")),
            rename: sql(format!(
                "UPDATE {t} SET id = ?, updated_us = ? WHERE id = ?"
            )),
            rename_with_storage: sql(format!(
                "UPDATE {t} SET id = ?, storage_location = ?, updated_us = ? WHERE id = ?"
            )),
            delete: sql(format!("DELETE FROM {t} WHERE id = ?")),
            domain_exists: sql(format!("SELECT domain FROM {d} WHERE domain = ?")),
            record_change: sql(format!(
                "INSERT INTO {c} (registry, origin, payload, created_us) VALUES (?, ?, ?, ?)"
            )),
            changes_since: sql(format!(
                "SELECT seq, registry, origin, payload FROM {c} WHERE seq > ? \
                 ORDER BY seq LIMIT {CHANGES_PER_POLL}"
            )),
            last_change: sql(format!("SELECT COALESCE(MAX(seq), 0) FROM {c}")),
            prune_changes: sql(format!(
                "DELETE FROM {c} WHERE registry = ? AND created_us < ?"
            )),
        }
    }
}
