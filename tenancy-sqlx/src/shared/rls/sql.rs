//! The SQL of shared-schema mode on Postgres, built from validated, quoted names.

use crate::ident::{Ident, quote_literal};
use crate::storage::SharedKey;

/// The transaction-local setting that carries the tenant key.
pub(crate) const SETTING: &str = "tenancy.tenant";

/// The name of the isolation policy on every tenant table.
pub(crate) const POLICY: &str = "tenancy_isolation";

/// Lock class of shared-table work (`"tnc"` + 3): migrations and protection.
const SHARED_LOCK: i32 = 0x746e_6303;

/// The current tenant key, or NULL when none is set: never set in this
/// session, or set by an earlier transaction (a transaction-local custom
/// setting reverts to `''`, not to NULL).
pub(crate) fn current_key() -> String {
    format!("NULLIF(pg_catalog.current_setting('{SETTING}', true), '')")
}

/// `BEGIN`, the restricted role, the tenant key and the pinned `search_path`,
/// as one simple query.
pub(crate) fn begin_statement(role: &Ident, schema: &Ident, key: &SharedKey) -> String {
    format!("BEGIN; {}", scope_statement(role, schema, key))
}

/// The `search_path` of tenant transactions: `pg_catalog, "<schema>", pg_temp`.
///
/// `pg_catalog` comes first explicitly, so no object in another schema can
/// shadow a built-in function or operator; the schema of the tenant tables
/// comes next, and `pg_temp` last, so that a temporary table cannot shadow a
/// tenant table (unlisted, `pg_temp` would be searched first for relations).
/// `"$user"` is left out: a schema named like the tenant role could shadow
/// the tenant tables. `public` is left out too unless it is the configured
/// schema.
pub(crate) fn search_path(schema: &Ident) -> String {
    format!("pg_catalog, {}, pg_temp", schema.quoted())
}

/// The restricted role, the tenant key and the pinned
/// [`search_path`](search_path()), for a transaction already open, as one
/// statement: `set_config('role', …, true)` is `SET LOCAL ROLE` (the same
/// setting, with the same membership check), and one statement costs the
/// server less than three. All three are transaction-local (they work
/// behind a transaction pooler and end with the transaction).
pub(crate) fn scope_statement(role: &Ident, schema: &Ident, key: &SharedKey) -> String {
    format!(
        "SELECT pg_catalog.set_config('role', {}, true), \
         pg_catalog.set_config('{SETTING}', {}, true), \
         pg_catalog.set_config('search_path', {}, true)",
        quote_literal(role.as_str()),
        quote_literal(key.as_str()),
        quote_literal(&search_path(schema))
    )
}

/// `BEGIN` with the tenant key set, as the login role (for maintenance that
/// must see one tenant's rows through `FORCE ROW LEVEL SECURITY`).
pub(crate) fn begin_as_login(key: &SharedKey) -> String {
    format!(
        "BEGIN; SELECT pg_catalog.set_config('{SETTING}', {}, true)",
        quote_literal(key.as_str())
    )
}

/// Sets the tenant key for the rest of the transaction.
pub(crate) fn set_key(key: &SharedKey) -> String {
    format!(
        "SELECT pg_catalog.set_config('{SETTING}', {}, true)",
        quote_literal(key.as_str())
    )
}

/// The transaction-scoped advisory lock serialising work on the shared tables of `schema`.
pub(crate) fn shared_lock(schema: &Ident) -> String {
    format!(
        "SELECT pg_catalog.pg_advisory_xact_lock({SHARED_LOCK}, pg_catalog.hashtext({}))",
        quote_literal(schema.as_str())
    )
}

/// `"schema"."table"`.
pub(crate) fn qualified(schema: &Ident, table: &Ident) -> String {
    format!("{}.{}", schema.quoted(), table.quoted())
}

/// Creates the restricted role when missing and lets the login role switch to
/// it; safe to run concurrently.
pub(crate) fn ensure_role(role: &Ident) -> String {
    let name = quote_literal(role.as_str());
    let quoted = role.quoted();
    format!(
        "DO $tenancy$ BEGIN \
           IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {name}) THEN \
             CREATE ROLE {quoted} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE \
               NOREPLICATION NOINHERIT; \
           END IF; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; \
         END $tenancy$; \
         DO $tenancy$ BEGIN \
           IF NOT pg_catalog.pg_has_role(CURRENT_USER, {name}, 'MEMBER') THEN \
             GRANT {quoted} TO CURRENT_USER; \
           END IF; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; \
         END $tenancy$"
    )
}

/// Protects one table (idempotent): the tenant column with its default, an
/// index on it, `ENABLE` and `FORCE ROW LEVEL SECURITY`, the fail-closed
/// policy, and the grants the restricted role needs (table, schema, the
/// table's sequences).
pub(crate) fn protect_table(schema: &Ident, table: &Ident, column: &Ident, role: &Ident) -> String {
    let target = qualified(schema, table);
    let target_literal = quote_literal(&target);
    let col = column.quoted();
    let col_literal = quote_literal(column.as_str());
    let role_q = role.quoted();
    let role_literal = quote_literal(role.as_str());
    let key = current_key();
    format!(
        "ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {col} text NOT NULL DEFAULT {key}; \
         ALTER TABLE {target} ALTER COLUMN {col} SET DEFAULT {key}, ALTER COLUMN {col} SET NOT NULL, \
           ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY; \
         DROP POLICY IF EXISTS {POLICY} ON {target}; \
         CREATE POLICY {POLICY} ON {target} AS PERMISSIVE FOR ALL TO PUBLIC \
           USING ({col} = {key}) WITH CHECK ({col} = {key}); \
         GRANT USAGE ON SCHEMA {schema} TO {role_q}; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON {target} TO {role_q}; \
         DO $tenancy$ DECLARE seq regclass; BEGIN \
           FOR seq IN SELECT d.objid::regclass FROM pg_catalog.pg_depend d \
               JOIN pg_catalog.pg_class c ON c.oid = d.objid \
               WHERE d.classid = 'pg_catalog.pg_class'::regclass \
                 AND d.refobjid = {target_literal}::regclass AND c.relkind = 'S' LOOP \
             EXECUTE pg_catalog.format('GRANT USAGE, SELECT ON SEQUENCE %s TO %I', seq, {role_literal}); \
           END LOOP; \
           IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i \
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
               WHERE i.indrelid = {target_literal}::regclass AND a.attname = {col_literal}) THEN \
             EXECUTE pg_catalog.format('CREATE INDEX ON %s (%I)', {target_literal}, {col_literal}); \
           END IF; \
         END $tenancy$",
        schema = schema.quoted(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_sets_role_key_and_search_path_in_one_query() {
        let role = Ident::new("tenancy_tenant").unwrap();
        let key = SharedKey::new("abc-1").unwrap();
        assert_eq!(
            begin_statement(&role, &Ident::new("public").unwrap(), &key),
            "BEGIN; SELECT pg_catalog.set_config('role', 'tenancy_tenant', true), \
             pg_catalog.set_config('tenancy.tenant', 'abc-1', true), \
             pg_catalog.set_config('search_path', 'pg_catalog, \"public\", pg_temp', true)"
        );
    }

    #[test]
    fn the_search_path_quotes_the_schema() {
        let schema = Ident::new("select").unwrap();
        assert_eq!(search_path(&schema), "pg_catalog, \"select\", pg_temp");
    }

    #[test]
    fn protection_quotes_every_name() {
        let sql = protect_table(
            &Ident::new("public").unwrap(),
            &Ident::new("select").unwrap(),
            &Ident::new("tenant_id").unwrap(),
            &Ident::new("user").unwrap(),
        );
        assert!(
            sql.contains(
                "ALTER TABLE \"public\".\"select\" ADD COLUMN IF NOT EXISTS \"tenant_id\""
            )
        );
        assert!(sql.contains("TO \"user\";"));
        assert!(sql.contains("'\"public\".\"select\"'::regclass"));
    }
}
