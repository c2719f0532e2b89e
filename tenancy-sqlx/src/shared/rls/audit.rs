//! [`RlsPool::audit`]: refuses any setup in which tenant queries would bypass
//! row-level security.

use std::collections::HashSet;
use std::fmt;

use sqlx::{AssertSqlSafe, PgConnection, Row, SqlSafeStr};
use tenancy_core::TenancyError;

use super::pool::{RlsPool, begin_error};
use super::sql;
use crate::error::store_error;
use crate::postgres::tx::PgTx;
use crate::storage::SharedKey;

/// The outcome of a passed [`RlsPool::audit`]: who tenant queries run as,
/// which tables were checked, and anything worth a look that is not unsafe.
///
/// ```no_run
/// # async fn example(shared: tenancy_sqlx::RlsPool) -> Result<(), tenancy_core::TenancyError> {
/// let audit = shared.audit().await?; // Err(Configuration) on an unsafe setup
/// tracing::info!(%audit, "row-level security audit passed");
/// for warning in audit.warnings() {
///     tracing::warn!(%warning, "row-level security audit");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RlsAudit {
    login: String,
    login_is_superuser: bool,
    role: String,
    tables: Vec<String>,
    warnings: Vec<String>,
}

impl RlsAudit {
    /// The role the connections log in as (`session_user`).
    pub fn login(&self) -> &str {
        &self.login
    }

    /// Whether the login role is a superuser (allowed: tenant queries switch
    /// to the restricted role).
    pub fn login_is_superuser(&self) -> bool {
        self.login_is_superuser
    }

    /// The role tenant transactions run as.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The tenant tables checked (`schema.table`).
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// Findings that are not unsafe but probably wrong (e.g. a tenant table
    /// the tenant role has no privileges on, so tenant queries on it fail).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl fmt::Display for RlsAudit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tenant queries run as `{}` (login `{}`{}); {} tenant tables protected; {} warnings",
            self.role,
            self.login,
            if self.login_is_superuser {
                ", a superuser"
            } else {
                ""
            },
            self.tables.len(),
            self.warnings.len()
        )
    }
}

/// The facts about the role tenant transactions run as.
const ROLE_FACTS: &str = "SELECT session_user::text AS login, \
     coalesce((SELECT l.rolsuper FROM pg_catalog.pg_roles l WHERE l.rolname = session_user), false) AS login_super, \
     r.rolname::text AS role, r.rolsuper, r.rolbypassrls, \
     ARRAY(SELECT b.rolname::text FROM pg_catalog.pg_roles b \
           WHERE (b.rolsuper OR b.rolbypassrls) AND b.oid <> r.oid \
             AND pg_catalog.pg_has_role(r.oid, b.oid, 'MEMBER') ORDER BY 1) AS escalations \
     FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

/// One row per declared table: $1 tables, $2 schema, $3 policy name, $4 column, $5 setting.
const TABLE_FACTS: &str = "WITH expected AS (SELECT \
       pg_catalog.format('NULLIF(current_setting(%L::text, true), ''''::text)', $5::text) AS key_expr) \
     SELECT t.name, c.oid IS NOT NULL AS present, \
       coalesce(c.relkind IN ('r', 'p'), false) AS is_table, \
       coalesce(c.relrowsecurity, false) AS enabled, \
       coalesce(c.relforcerowsecurity, false) AS forced, \
       coalesce(pg_catalog.row_security_active(c.oid), false) AS active, \
       a.attnum IS NOT NULL AS has_column, \
       coalesce(a.attnotnull, false) AS not_null, \
       coalesce(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) = e.key_expr, false) AS default_ok, \
       p.oid IS NOT NULL AS has_policy, \
       coalesce(p.polpermissive AND p.polcmd = '*' \
         AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) \
             = pg_catalog.format('(%I = %s)', $4::text, e.key_expr) \
         AND (p.polwithcheck IS NULL OR pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) \
             = pg_catalog.format('(%I = %s)', $4::text, e.key_expr)), false) AS policy_ok, \
       ARRAY(SELECT o.polname::text FROM pg_catalog.pg_policy o \
             WHERE o.polrelid = c.oid AND o.polpermissive AND o.polname <> $3 ORDER BY 1) AS other_policies, \
       coalesce(pg_catalog.has_table_privilege(c.oid, 'SELECT') \
         AND pg_catalog.has_table_privilege(c.oid, 'INSERT') \
         AND pg_catalog.has_table_privilege(c.oid, 'UPDATE') \
         AND pg_catalog.has_table_privilege(c.oid, 'DELETE'), false) AS granted \
     FROM expected e, unnest($1::text[]) WITH ORDINALITY AS t(name, n) \
     LEFT JOIN pg_catalog.pg_class c ON c.relname = t.name \
       AND c.relnamespace = (SELECT s.oid FROM pg_catalog.pg_namespace s WHERE s.nspname = $2) \
     LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = $4 \
       AND a.attnum > 0 AND NOT a.attisdropped \
     LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum \
     LEFT JOIN pg_catalog.pg_policy p ON p.polrelid = c.oid AND p.polname = $3 \
     ORDER BY t.n";

/// Whether the view `c` has `security_invoker` on, in any spelling Postgres
/// accepts for a true boolean (`true`, `on`, `yes`, `1`, unique prefixes; any
/// case): `reloptions` keeps the text as written.
macro_rules! security_invoker {
    () => {
        "EXISTS (SELECT 1 FROM pg_catalog.pg_options_to_table(c.reloptions) o \
           WHERE o.option_name = 'security_invoker' \
             AND pg_catalog.lower(o.option_value) \
                 IN ('1', 'on', 't', 'tr', 'tru', 'true', 'y', 'ye', 'yes'))"
    };
}

/// The protected tables, as a CTE `protected(oid, relowner, nspname,
/// relname)`: the declared tables of the schema, and every other table that
/// carries the tenant policy. $1 schema, $2 declared tables, $3 policy name.
macro_rules! protected_cte {
    () => {
        "protected AS (SELECT c.oid, c.relowner, n.nspname, c.relname \
           FROM pg_catalog.pg_class c \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
           WHERE c.relkind IN ('r', 'p') \
             AND ((n.nspname = $1 AND c.relname = ANY($2::text[])) \
               OR EXISTS (SELECT 1 FROM pg_catalog.pg_policy p \
                          WHERE p.polrelid = c.oid AND p.polname = $3)))"
    };
}

/// Relations outside the declared list that have the tenant column, are
/// reachable by the tenant role, and are not under row-level security for it.
/// $1 column, $2 schema, $3 declared tables.
const EXPOSED: &str = concat!(
    "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name, \
       c.relkind::text AS kind \
     FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = $1 \
       AND a.attnum > 0 AND NOT a.attisdropped \
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
       AND n.nspname NOT LIKE 'pg\\_toast%' \
       AND NOT (n.nspname = $2 AND c.relname = ANY($3::text[])) \
       AND pg_catalog.has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE') \
       AND NOT pg_catalog.row_security_active(c.oid) \
       AND NOT (c.relkind = 'v' AND ",
    security_invoker!(),
    ") \
     ORDER BY 1"
);

/// Protected tables the tenant role may `TRUNCATE` (which ignores row-level
/// security). $1 schema, $2 declared tables, $3 policy name.
const TRUNCATABLE: &str = concat!(
    "WITH ",
    protected_cte!(),
    " SELECT pg_catalog.format('%I.%I', t.nspname, t.relname) AS name FROM protected t \
     WHERE pg_catalog.has_table_privilege(t.oid, 'TRUNCATE') ORDER BY 1"
);

/// `SECURITY DEFINER` functions and procedures outside `pg_catalog` and
/// `information_schema` that the tenant role may execute and whose owner
/// bypasses row-level security or could: a superuser, a `BYPASSRLS` role, the
/// owner of a protected table, or a role that may `SET ROLE` to one of them.
/// Trigger functions cannot be called directly and are left out.
/// $1 schema, $2 declared tables, $3 policy name.
const DEFINERS: &str = concat!(
    "WITH ",
    protected_cte!(),
    ", powerful AS (SELECT r.oid FROM pg_catalog.pg_roles r \
       WHERE r.rolsuper OR r.rolbypassrls OR r.oid IN (SELECT t.relowner FROM protected t)) \
     SELECT pg_catalog.format('%I.%I(%s)', n.nspname, f.proname, \
         pg_catalog.oidvectortypes(f.proargtypes)) AS name, \
       (f.prokind = 'p') AS is_procedure, \
       o.rolname::text AS owner, \
       CASE WHEN o.rolsuper THEN 'a superuser' \
            WHEN o.rolbypassrls THEN 'a BYPASSRLS role' \
            WHEN o.oid IN (SELECT t.relowner FROM protected t) THEN 'the owner of a tenant table' \
            ELSE 'a member of a superuser, BYPASSRLS or tenant table owner role' END AS why \
     FROM pg_catalog.pg_proc f \
     JOIN pg_catalog.pg_namespace n ON n.oid = f.pronamespace \
     JOIN pg_catalog.pg_roles o ON o.oid = f.proowner \
     WHERE f.prosecdef \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
       AND f.prorettype NOT IN ('pg_catalog.trigger'::pg_catalog.regtype, \
                                'pg_catalog.event_trigger'::pg_catalog.regtype) \
       AND pg_catalog.has_function_privilege(f.oid, 'EXECUTE') \
       AND EXISTS (SELECT 1 FROM powerful w WHERE pg_catalog.pg_has_role(f.proowner, w.oid, 'MEMBER')) \
     ORDER BY 1"
);

/// Views and materialized views that read a protected table, directly or
/// through other views, and that the tenant role can access: a view runs
/// with its owner's rights unless it has `security_invoker`; a materialized
/// view stores rows and has no row-level security at all.
/// $1 schema, $2 declared tables, $3 policy name.
const VIEWS: &str = concat!(
    "WITH RECURSIVE ",
    protected_cte!(),
    ", reach(oid) AS ( \
       SELECT t.oid FROM protected t \
       UNION \
       SELECT r.ev_class FROM reach x \
       JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
         AND d.refobjid = x.oid AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
       JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid AND r.rulename = '_RETURN' \
       JOIN pg_catalog.pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm') \
       WHERE r.ev_class <> x.oid) \
     SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name, c.relkind::text AS kind \
     FROM reach x \
     JOIN pg_catalog.pg_class c ON c.oid = x.oid AND c.relkind IN ('v', 'm') \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE pg_catalog.has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE') \
       AND NOT (c.relkind = 'v' AND ",
    security_invoker!(),
    ") ORDER BY 1"
);

/// The savepoint of an audit inside the caller's transaction.
const SAVEPOINT: &str = "tenancy_audit";

impl RlsPool {
    /// Checks, as tenant transactions will run, that they cannot bypass
    /// row-level security; fails with [`TenancyError::Configuration`] listing
    /// every problem otherwise. Run it at start-up, after
    /// [`setup_role`](Self::setup_role) and [`protect_all`](Self::protect_all)
    /// (or [`RlsManager::setup`](crate::shared::rls::RlsManager::setup), which
    /// runs all three). [`RlsManager::migrate_all`](crate::shared::rls::RlsManager::migrate_all)
    /// runs it again, inside the migrations' transaction, whenever it applies
    /// migrations.
    ///
    /// It opens a tenant transaction exactly like [`begin`](Self::begin) (with
    /// a probe key and the pinned `search_path`, rolled back at the end) and
    /// refuses:
    ///
    /// - a tenant role that is a superuser, has `BYPASSRLS`, or is a member of
    ///   a role that is or has either (it could `SET ROLE` to it);
    /// - a login role that cannot switch to the tenant role, or a missing role;
    /// - a declared table that is missing, lacks the tenant column (`NOT NULL`,
    ///   defaulting to the tenant key), `ENABLE` or `FORCE ROW LEVEL SECURITY`,
    ///   or the fail-closed `tenancy_isolation` policy in its exact form; that
    ///   has other permissive policies (they are OR-ed with it and widen
    ///   access); or on which row-level security is not active for the tenant
    ///   role;
    /// - any other table, view or materialized view with the tenant column
    ///   that the tenant role can access without row-level security (views run
    ///   with their owner's rights unless `security_invoker` is set);
    /// - the `TRUNCATE` privilege of the tenant role on a protected table (a
    ///   declared table, or any table with the `tenancy_isolation` policy):
    ///   `TRUNCATE` ignores row-level security;
    /// - a `SECURITY DEFINER` function or procedure (outside `pg_catalog` and
    ///   `information_schema`; trigger functions aside) that the tenant role
    ///   may execute and whose owner is a superuser, has `BYPASSRLS`, owns a
    ///   protected table, or is a member of such a role: it runs with its
    ///   owner's rights;
    /// - a view (unless `security_invoker` is set, Postgres 15+) or a
    ///   materialized view that reads a protected table, directly or through
    ///   other views, and that the tenant role can access, with or without the
    ///   tenant column.
    ///
    /// A superuser *login* is fine: tenant queries switch to the tenant role.
    pub async fn audit(&self) -> Result<RlsAudit, TenancyError> {
        let config = &self.config;
        let probe = probe_key()?;
        let begin = sql::begin_statement(&config.role, &config.schema, &probe);
        let mut tx = PgTx::begin(self.pool(), Some(AssertSqlSafe(begin).into_sql_str()))
            .await
            .map_err(|error| begin_error(&config.role, error))?;
        let outcome = self.inspect(&mut tx).await;
        tx.rollback().await.map_err(store_error)?;
        verdict(outcome?)
    }

    /// The [audit](Self::audit) inside the caller's open transaction (which
    /// runs as the login role), e.g. after migrations, so that a refusal can
    /// roll them back: it sees the transaction's uncommitted changes. The
    /// tenant scope is taken and dropped around the checks with a savepoint,
    /// so the transaction's role, settings and `search_path` are unchanged
    /// afterwards.
    pub(crate) async fn audit_on(&self, conn: &mut PgConnection) -> Result<RlsAudit, TenancyError> {
        let config = &self.config;
        let probe = probe_key()?;
        let scope = format!(
            "SAVEPOINT {SAVEPOINT}; {}",
            sql::scope_statement(&config.role, &config.schema, &probe)
        );
        let undo = format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}");
        if let Err(error) = sqlx::raw_sql(AssertSqlSafe(scope))
            .execute(&mut *conn)
            .await
        {
            // Best effort: the caller rolls its transaction back anyway.
            let _ = sqlx::raw_sql(AssertSqlSafe(undo)).execute(&mut *conn).await;
            return Err(begin_error(&config.role, error));
        }
        let outcome = self.inspect(&mut *conn).await;
        sqlx::raw_sql(AssertSqlSafe(undo))
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
        verdict(outcome?)
    }

    async fn inspect(
        &self,
        conn: &mut PgConnection,
    ) -> Result<(RlsAudit, Vec<String>), TenancyError> {
        let config = &self.config;
        let mut problems = Vec::new();
        let mut warnings = Vec::new();

        let facts = sqlx::query(ROLE_FACTS)
            .persistent(false)
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?;
        let login: String = facts.try_get("login").map_err(TenancyError::storage)?;
        let login_is_superuser: bool = facts
            .try_get("login_super")
            .map_err(TenancyError::storage)?;
        let role: String = facts.try_get("role").map_err(TenancyError::storage)?;
        let superuser: bool = facts.try_get("rolsuper").map_err(TenancyError::storage)?;
        let bypass: bool = facts
            .try_get("rolbypassrls")
            .map_err(TenancyError::storage)?;
        let escalations: Vec<String> = facts
            .try_get("escalations")
            .map_err(TenancyError::storage)?;
        if superuser {
            problems.push(format!("the tenant role `{role}` is a superuser"));
        }
        if bypass {
            problems.push(format!("the tenant role `{role}` has BYPASSRLS"));
        }
        if !escalations.is_empty() {
            problems.push(format!(
                "the tenant role `{role}` is a member of {}, which {} superuser or BYPASSRLS \
                 (tenant SQL could SET ROLE to it)",
                escalations.join(", "),
                if escalations.len() == 1 { "is" } else { "are" }
            ));
        }

        let names: Vec<&str> = config.tables.iter().map(|t| t.as_str()).collect();
        let rows = sqlx::query(TABLE_FACTS)
            .persistent(false)
            .bind(&names)
            .bind(config.schema.as_str())
            .bind(sql::POLICY)
            .bind(config.column.as_str())
            .bind(sql::SETTING)
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
        let mut tables = Vec::with_capacity(rows.len());
        let column = &config.column;
        for row in &rows {
            let name: String = row.try_get("name").map_err(TenancyError::storage)?;
            let table = format!("{}.{name}", config.schema);
            let flag = |field: &str| row.try_get::<bool, _>(field).map_err(TenancyError::storage);
            if !flag("present")? || !flag("is_table")? {
                problems.push(format!("the tenant table {table} does not exist"));
                continue;
            }
            if !flag("has_column")? {
                problems.push(format!("{table} has no tenant column `{column}`"));
            } else {
                if !flag("not_null")? {
                    problems.push(format!("the tenant column {table}.{column} is nullable"));
                }
                if !flag("default_ok")? {
                    warnings.push(format!(
                        "the tenant column {table}.{column} does not default to the tenant key \
                         (inserts must set it); RlsPool::protect sets the default"
                    ));
                }
            }
            if !flag("enabled")? {
                problems.push(format!("{table} does not ENABLE ROW LEVEL SECURITY"));
            }
            if !flag("forced")? {
                problems.push(format!("{table} does not FORCE ROW LEVEL SECURITY"));
            }
            if !flag("has_policy")? {
                problems.push(format!("{table} lacks the policy `{}`", sql::POLICY));
            } else if !flag("policy_ok")? {
                problems.push(format!(
                    "the policy `{}` on {table} is not the fail-closed tenant policy \
                     (RlsPool::protect recreates it)",
                    sql::POLICY
                ));
            }
            let others: Vec<String> = row
                .try_get("other_policies")
                .map_err(TenancyError::storage)?;
            if !others.is_empty() {
                problems.push(format!(
                    "{table} has other permissive policies ({}), which are OR-ed with the tenant \
                     policy and widen access",
                    others.join(", ")
                ));
            }
            if flag("enabled")? && flag("forced")? && !flag("active")? {
                problems.push(format!(
                    "row-level security is not active on {table} for the tenant role `{role}`"
                ));
            }
            if !flag("granted")? {
                warnings.push(format!(
                    "the tenant role `{role}` lacks SELECT, INSERT, UPDATE or DELETE on {table}"
                ));
            }
            tables.push(table);
        }

        let exposed = sqlx::query(EXPOSED)
            .persistent(false)
            .bind(config.column.as_str())
            .bind(config.schema.as_str())
            .bind(&names)
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
        let mut reported = HashSet::new();
        for row in &exposed {
            let name: String = row.try_get("name").map_err(TenancyError::storage)?;
            let kind: String = row.try_get("kind").map_err(TenancyError::storage)?;
            let what = match kind.as_str() {
                "v" => "the view",
                "m" => "the materialized view",
                "f" => "the foreign table",
                _ => "the undeclared table",
            };
            problems.push(format!(
                "{what} {name} has the tenant column `{column}` and the tenant role can read or \
                 write it without row-level security"
            ));
            reported.insert(name);
        }

        let schema = config.schema.as_str();
        let truncatable = protected_rows(conn, TRUNCATABLE, schema, &names).await?;
        for row in &truncatable {
            let name: String = row.try_get("name").map_err(TenancyError::storage)?;
            problems.push(format!(
                "the tenant role `{role}` may TRUNCATE the tenant table {name}, which ignores \
                 row-level security (it empties every tenant's rows); revoke TRUNCATE"
            ));
        }

        let definers = protected_rows(conn, DEFINERS, schema, &names).await?;
        for row in &definers {
            let name: String = row.try_get("name").map_err(TenancyError::storage)?;
            let procedure: bool = row.try_get("is_procedure").map_err(TenancyError::storage)?;
            let owner: String = row.try_get("owner").map_err(TenancyError::storage)?;
            let why: String = row.try_get("why").map_err(TenancyError::storage)?;
            problems.push(format!(
                "the tenant role `{role}` may execute the SECURITY DEFINER {} {name}, owned by \
                 `{owner}` ({why}), which runs with its owner's rights and so can bypass \
                 row-level security; revoke EXECUTE from PUBLIC and the tenant role, or make it \
                 SECURITY INVOKER",
                if procedure { "procedure" } else { "function" }
            ));
        }

        let views = protected_rows(conn, VIEWS, schema, &names).await?;
        for row in &views {
            let name: String = row.try_get("name").map_err(TenancyError::storage)?;
            if reported.contains(&name) {
                continue;
            }
            let kind: String = row.try_get("kind").map_err(TenancyError::storage)?;
            problems.push(if kind == "m" {
                format!(
                    "the materialized view {name} holds rows of a tenant table and the tenant \
                     role `{role}` can read it (materialized views have no row-level security)"
                )
            } else {
                format!(
                    "the view {name} reads a tenant table and the tenant role `{role}` can access \
                     it; the view runs with its owner's rights, bypassing row-level security \
                     (set security_invoker = true, Postgres 15+, or revoke access)"
                )
            });
        }

        Ok((
            RlsAudit {
                login,
                login_is_superuser,
                role,
                tables,
                warnings,
            },
            problems,
        ))
    }
}

/// The key of the audit's tenant transaction (no tenant has it: keys are random).
fn probe_key() -> Result<SharedKey, TenancyError> {
    Ok(SharedKey::new("tenancy-audit-probe")?)
}

/// Passes the audit, or refuses it with every problem found.
fn verdict((audit, problems): (RlsAudit, Vec<String>)) -> Result<RlsAudit, TenancyError> {
    if problems.is_empty() {
        tracing::info!(%audit, "row-level security audit passed");
        Ok(audit)
    } else {
        Err(TenancyError::Configuration {
            message: format!(
                "the row-level security audit refuses this setup, because tenant queries \
                 could bypass the policies: {}",
                problems.join("; ")
            ),
        })
    }
}

/// Runs one of the checks over the protected tables (`$1` schema, `$2`
/// declared tables, `$3` policy name).
async fn protected_rows(
    conn: &mut PgConnection,
    check: &'static str,
    schema: &str,
    tables: &[&str],
) -> Result<Vec<sqlx::postgres::PgRow>, TenancyError> {
    sqlx::query(check)
        .persistent(false)
        .bind(schema)
        .bind(tables)
        .bind(sql::POLICY)
        .fetch_all(conn)
        .await
        .map_err(store_error)
}
