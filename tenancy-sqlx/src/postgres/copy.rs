//! Copying a tenant's tables on Postgres (clone): which tables, in which
//! order, which columns, and the sequence values to carry over, read from
//! the catalog of the source.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{PgConnection, Row};

use crate::ident::quote_ident;

/// A table to copy: `"schema"."table"` and its writable columns (generated
/// and dropped columns left out), quoted and comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyTable {
    /// The schema, unquoted.
    pub(crate) schema: String,
    /// The table, unquoted.
    pub(crate) name: String,
    /// The writable columns (quoted), each with the name of its type when
    /// that type is defined in the table's own schema (an enum, a domain,
    /// an array of them): a copy into another schema casts those to its
    /// own types.
    pub(crate) typed: Vec<(String, Option<String>)>,
    /// A partitioned table: its rows are its partitions' (read through it).
    pub(crate) partitioned: bool,
}

impl CopyTable {
    /// `"schema"."table"` in `schema` (another schema of the same layout).
    pub(crate) fn qualified_in(&self, schema: &str) -> String {
        format!("{}.{}", quote_ident(schema), quote_ident(&self.name))
    }

    /// `"schema"."table"`.
    pub(crate) fn qualified(&self) -> String {
        self.qualified_in(&self.schema)
    }

    /// The column list: `"a", "b"`.
    pub(crate) fn columns(&self) -> String {
        self.typed
            .iter()
            .map(|(column, _)| column.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The select list that reads these columns for the same table in
    /// `schema`: `"a", "b"::text::"schema"."mood"`.
    pub(crate) fn select_for(&self, schema: &str) -> String {
        self.typed
            .iter()
            .map(|(column, local_type)| match local_type {
                Some(kind) => format!("{column}::text::{}.{kind}", quote_ident(schema)),
                None => column.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What to read the table's own rows from: `ONLY "schema"."table"`
    /// (an inheritance parent without its children, which are copied on
    /// their own), or the partitioned table itself.
    pub(crate) fn rows(&self) -> String {
        if self.partitioned {
            self.qualified()
        } else {
            format!("ONLY {}", self.qualified())
        }
    }
}

/// A sequence whose value is carried over: `"schema"."sequence"` and its
/// last value (sequences never used are left as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopySequence {
    /// The schema, unquoted.
    pub(crate) schema: String,
    /// The sequence, unquoted.
    pub(crate) name: String,
    /// Its last value.
    pub(crate) last_value: i64,
}

impl CopySequence {
    /// `SELECT pg_catalog.setval('"schema"."sequence"', last, true)` for the
    /// sequence of that name in `schema`.
    pub(crate) fn setval_in(&self, schema: &str) -> String {
        let regclass = format!("{}.{}", quote_ident(schema), quote_ident(&self.name));
        format!(
            "SELECT pg_catalog.setval({}, {}, true)",
            crate::ident::quote_literal(&regclass),
            self.last_value
        )
    }
}

/// The user schemas of the database `conn` is on (Postgres' own left out).
pub(crate) async fn user_schemas(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT nspname::text FROM pg_catalog.pg_namespace \
         WHERE nspname NOT IN ('pg_catalog', 'information_schema') \
           AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%' \
         ORDER BY nspname",
    )
    .persistent(false)
    .fetch_all(conn)
    .await
}

/// The tables of `schemas` but `skip` (`(schema, table)`: the history
/// table), parents before the tables whose foreign keys reference them.
/// Partitions are left out (their rows are read through, and written into,
/// their partitioned table). A foreign-key cycle between tables is an error
/// (no order inserts them).
pub(crate) async fn tables_in_order(
    conn: &mut PgConnection,
    schemas: &[String],
    skip: (&str, &str),
) -> Result<Vec<CopyTable>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind = 'p', \
                (SELECT array_agg(pg_catalog.quote_ident(a.attname) ORDER BY a.attnum) \
                   FROM pg_catalog.pg_attribute a \
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                    AND a.attgenerated = ''), \
                (SELECT array_agg(CASE WHEN t.typnamespace = c.relnamespace \
                                       THEN pg_catalog.quote_ident(t.typname) END ORDER BY a.attnum) \
                   FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                    AND a.attgenerated = '') \
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
          WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
          ORDER BY n.nspname, c.relname",
    )
    .persistent(false)
    .bind(schemas)
    .fetch_all(&mut *conn)
    .await?;
    let mut tables = BTreeMap::new();
    for row in rows {
        let (oid, schema, name): (i64, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        if (schema.as_str(), name.as_str()) == skip {
            continue;
        }
        let partitioned: bool = row.try_get(3)?;
        let names: Option<Vec<String>> = row.try_get(4)?;
        let types: Option<Vec<Option<String>>> = row.try_get(5)?;
        let names = names.unwrap_or_default();
        let typed = names
            .into_iter()
            .zip(
                types
                    .unwrap_or_default()
                    .into_iter()
                    .chain(std::iter::repeat(None)),
            )
            .collect();
        tables.insert(
            oid,
            CopyTable {
                schema,
                name,
                typed,
                partitioned,
            },
        );
    }
    let oids: Vec<i64> = tables.keys().copied().collect();
    let references: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT conrelid::int8, confrelid::int8 FROM pg_catalog.pg_constraint \
          WHERE contype = 'f' AND conrelid::int8 = ANY($1) AND confrelid::int8 = ANY($1) \
            AND conrelid <> confrelid",
    )
    .persistent(false)
    .bind(&oids)
    .fetch_all(conn)
    .await?;
    order_by_references(tables, &references).map_err(|cycle| {
        sqlx::Error::Protocol(format!(
            "the foreign keys of these tables form a cycle, so no order copies them: {cycle}"
        ))
    })
}

/// The tables, each after the ones it references (Kahn's algorithm, ties by
/// name); `Err` names the tables on a cycle.
fn order_by_references(
    mut tables: BTreeMap<i64, CopyTable>,
    references: &[(i64, i64)],
) -> Result<Vec<CopyTable>, String> {
    let mut waiting_on: BTreeMap<i64, BTreeSet<i64>> =
        tables.keys().map(|oid| (*oid, BTreeSet::new())).collect();
    for (child, parent) in references {
        if let Some(parents) = waiting_on.get_mut(child) {
            parents.insert(*parent);
        }
    }
    let mut ordered = Vec::with_capacity(tables.len());
    loop {
        let ready: Vec<i64> = waiting_on
            .iter()
            .filter(|(_, parents)| parents.is_empty())
            .map(|(oid, _)| *oid)
            .collect();
        if ready.is_empty() {
            break;
        }
        for oid in ready {
            waiting_on.remove(&oid);
            for parents in waiting_on.values_mut() {
                parents.remove(&oid);
            }
            if let Some(table) = tables.remove(&oid) {
                ordered.push(table);
            }
        }
    }
    if tables.is_empty() {
        Ok(ordered)
    } else {
        Err(tables
            .values()
            .map(CopyTable::qualified)
            .collect::<Vec<_>>()
            .join(", "))
    }
}

/// The sequences of `schemas` that have been used, with their last values.
pub(crate) async fn used_sequences(
    conn: &mut PgConnection,
    schemas: &[String],
) -> Result<Vec<CopySequence>, sqlx::Error> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT schemaname::text, sequencename::text, last_value FROM pg_catalog.pg_sequences \
          WHERE schemaname = ANY($1) AND last_value IS NOT NULL ORDER BY 1, 2",
    )
    .persistent(false)
    .bind(schemas)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(schema, name, last_value)| CopySequence {
            schema,
            name,
            last_value,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> CopyTable {
        CopyTable {
            schema: "s".into(),
            name: name.into(),
            typed: vec![("\"id\"".into(), None)],
            partitioned: false,
        }
    }

    #[test]
    fn parents_come_first_and_cycles_are_named() {
        let tables: BTreeMap<i64, CopyTable> = [
            (1, table("tasks")),
            (2, table("projects")),
            (3, table("items")),
        ]
        .into();
        let ordered = order_by_references(tables.clone(), &[(1, 2)]).unwrap();
        let names: Vec<&str> = ordered.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["projects", "items", "tasks"]);
        let cycle = order_by_references(tables, &[(1, 2), (2, 1)]).unwrap_err();
        assert_eq!(cycle, "\"s\".\"tasks\", \"s\".\"projects\"");
    }

    #[test]
    fn names_are_quoted() {
        let odd = CopyTable {
            schema: "a\"b".into(),
            name: "T".into(),
            typed: vec![("\"m\"".into(), Some("\"mood\"".into()))],
            partitioned: true,
        };
        assert_eq!(odd.select_for("t"), "\"m\"::text::\"t\".\"mood\"");
        assert_eq!(
            odd.rows(),
            odd.qualified(),
            "a partitioned table is read whole"
        );
        assert_eq!(table("t").rows(), "ONLY \"s\".\"t\"");
        assert_eq!(odd.qualified(), "\"a\"\"b\".\"T\"");
        let sequence = CopySequence {
            schema: "s".into(),
            name: "it's".into(),
            last_value: 7,
        };
        assert_eq!(
            sequence.setval_in("t"),
            "SELECT pg_catalog.setval('\"t\".\"it''s\"', 7, true)"
        );
    }
}
