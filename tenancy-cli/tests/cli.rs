//! The real `tenancy` binary against real databases: every command on every
//! isolation mode and backend, bad input, failures and resuming.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Env, Pair, text};
use serde_json::Value;

/// The ids of a `tenants list --json` report, with their state.
fn listed(env: &Env) -> Vec<(String, bool)> {
    let list = env.json(&["tenants", "list"]);
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().to_owned(),
                t["active"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Migration report counts: (migrated, up to date, failed, skipped).
fn counts(report: &Value) -> (u64, u64, u64, u64) {
    let n = |key: &str| report[key].as_u64().unwrap();
    (n("migrated"), n("up_to_date"), n("failed"), n("skipped"))
}

async fn every_command(pair: Pair) {
    let env = Env::new(pair).await;

    // create: a tenant with two domains, and one registered inactive.
    let acme = env.json(&[
        "tenants",
        "create",
        "acme",
        "--name",
        "Acme Corp",
        "--domain",
        "acme.example.com",
        "--domain",
        "shop.acme.example",
    ]);
    assert_eq!(acme["name"], "Acme Corp");
    assert_eq!(
        acme["domains"][0],
        serde_json::json!({"name": "acme.example.com", "primary": true})
    );
    assert_eq!(acme["storage"]["kind"], pair.isolation());
    env.json(&["tenants", "create", "globex", "--inactive"]);
    assert_eq!(
        listed(&env),
        [("acme".to_owned(), true), ("globex".to_owned(), false)]
    );

    // list as a table, show as text.
    let table = env.command(&["tenants", "list"]).assert().success();
    let table = text(&table.get_output().stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("DOMAINS"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("acme ") && lines[1].contains("acme.example.com*"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("globex ") && lines[2].contains("inactive"),
        "{table}"
    );
    let shown = env.command(&["tenants", "show", "acme"]).assert().success();
    assert!(text(&shown.get_output().stdout).contains("name:    Acme Corp"));

    // activate, deactivate, --active / --inactive filters.
    env.json(&["tenants", "activate", "globex"]);
    env.json(&["tenants", "deactivate", "acme"]);
    let inactive = env.json(&["tenants", "list", "--inactive"]);
    assert_eq!(inactive.as_array().unwrap().len(), 1);
    assert_eq!(inactive[0]["id"], "acme");
    env.json(&["tenants", "activate", "acme"]);

    // domains: add as primary, remove; a taken domain is refused.
    let globex = env.json(&[
        "domains",
        "add",
        "globex",
        "globex.example.com",
        "--primary",
    ]);
    assert_eq!(globex["domains"][0]["name"], "globex.example.com");
    let taken = env.run(&["domains", "add", "globex", "acme.example.com"]);
    assert_eq!(taken.status.code(), Some(1));
    assert!(
        text(&taken.stderr).contains("acme.example.com"),
        "{}",
        text(&taken.stderr)
    );
    let removed = env.json(&["domains", "remove", "shop.acme.example"]);
    assert_eq!(removed["removed"], true);
    let again = env.json(&["domains", "remove", "shop.acme.example"]);
    assert_eq!(again["removed"], false);

    // rename keeps the domains.
    let initech = env.json(&["tenants", "rename", "globex", "initech"]);
    assert_eq!(initech["id"], "initech");
    assert_eq!(initech["domains"][0]["name"], "globex.example.com");

    // migrate: nothing pending (shared tables: made by the first run), then a
    // new migration for the selected tenants only.
    let report = env.json(&["migrate"]);
    assert_eq!(report["failed"], 0);
    let first = if pair.is_shared() { 2 } else { 0 };
    assert_eq!(report["migrated"], first, "{report}");
    let status = env.json(&["status"]);
    assert_eq!(
        status["summary"],
        "2 tenants: 2 current, 0 pending, 0 with drift, 0 unreadable"
    );
    assert_eq!(status["tenants"][0]["version"], 1, "{status}");
    env.write_migration(2, "item_notes", "ALTER TABLE items ADD COLUMN note TEXT;");
    let status = env.command(&["status"]).assert().success();
    let status = text(&status.get_output().stdout);
    let lines: Vec<&str> = status.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("PENDING"),
        "{status}"
    );
    let acme: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(acme, ["acme", "1", "2", "pending"], "{status}");
    assert!(
        status.ends_with("2 tenants: 0 current, 2 pending, 0 with drift, 0 unreadable\n"),
        "{status}"
    );
    let one = env.json(&["status", "--tenant", "initech"]);
    assert_eq!(one["tenants"].as_array().unwrap().len(), 1, "{one}");
    if pair.is_shared() {
        // One set of shared tables: migrating only some tenants is refused.
        let partial = env.run(&["migrate", "--pattern", "ac*"]);
        assert_eq!(partial.status.code(), Some(1));
        assert!(
            text(&partial.stderr).contains("every tenant"),
            "{}",
            text(&partial.stderr)
        );
        let report = env.json(&["migrate"]);
        assert_eq!(counts(&report), (2, 0, 0, 0), "{report}");
    } else {
        let report = env.json(&["migrate", "--pattern", "ac*"]);
        assert_eq!(counts(&report), (1, 0, 0, 1), "{report}");
        assert_eq!(report["tenants"][0]["versions"], serde_json::json!([2]));
        let report = env.json(&[
            "migrate",
            "--tenant",
            "acme",
            "--tenant",
            "initech",
            "--concurrency",
            "2",
        ]);
        assert_eq!(counts(&report), (1, 1, 0, 0), "{report}");
        assert_eq!(report["tenants"][1]["id"], "initech");
        assert_eq!(report["tenants"][1]["status"], "migrated");
    }

    // A failing migration: exit status 1, each tenant reported, nothing
    // recorded; fixed, the next run applies it (a run resumes).
    env.write_migration(3, "broken", "SELECT * FROM no_such_table;");
    let failed = env.run(&["--json", "migrate"]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stderr));
    let report: Value = serde_json::from_slice(&failed.stdout).unwrap();
    assert_eq!(report["failed"], 2, "{report}");
    assert!(
        report["tenants"][0]["error"]
            .as_str()
            .unwrap()
            .contains("no_such_table"),
        "{report}"
    );
    let plain = env.run(&["migrate"]);
    assert_eq!(plain.status.code(), Some(1));
    assert!(
        text(&plain.stdout).contains("acme: FAILED"),
        "{}",
        text(&plain.stdout)
    );
    env.write_migration(3, "fixed", "ALTER TABLE items ADD COLUMN price BIGINT;");
    let report = env.json(&["migrate"]);
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(
        report["migrated"].as_u64().unwrap() + report["up_to_date"].as_u64().unwrap(),
        2
    );
    let plain = env.command(&["migrate"]).assert().success();
    let plain = text(&plain.get_output().stdout);
    assert!(
        plain.contains("acme: up to date") && plain.contains("2 tenants: 0 migrated, 2 up to date"),
        "{plain}"
    );

    // Bad input: clear errors, nothing changed.
    for (args, expected) in [
        (&["tenants", "show", "Bad Id"][..], "invalid tenant id"),
        (&["tenants", "show", "nobody"][..], "not found"),
        (&["tenants", "create", "acme"][..], "exists"),
        (&["tenants", "rename", "acme", "initech"][..], "exists"),
        (
            &["domains", "add", "acme", "not a domain"][..],
            "invalid domain name",
        ),
        (
            &["migrate", "--tenant", "acme", "--tenant", "nobody"][..],
            "no such tenant: nobody",
        ),
    ] {
        let output = env.run(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
    }
    let usage = env.run(&["migrate", "--concurrency", "0"]);
    assert_eq!(
        usage.status.code(),
        Some(2),
        "clap rejects a zero concurrency"
    );
    assert_eq!(listed(&env).len(), 2);

    // Drift: a release without migration 3 (status and audit fail, naming
    // it), a changed migration 2; restored, the audit passes.
    let audit = env.json(&["audit"]);
    assert_eq!(audit["mode"]["passed"], true, "{audit}");
    assert_eq!(audit["drift"], serde_json::json!([]), "{audit}");
    env.remove_migration(3);
    let drift = env.run(&["status"]);
    assert_eq!(drift.status.code(), Some(1));
    assert!(
        text(&drift.stdout).contains("drift: unknown 3"),
        "{}",
        text(&drift.stdout)
    );
    let audit = env.run(&["audit"]);
    assert_eq!(audit.status.code(), Some(1));
    let audit = text(&audit.stdout);
    assert!(
        audit.contains("mode audit: passed") && audit.contains("2 tenant(s) with drift"),
        "{audit}"
    );
    env.write_migration(
        2,
        "item_notes",
        "ALTER TABLE items ADD COLUMN note TEXT; -- edited",
    );
    env.write_migration(3, "fixed", "ALTER TABLE items ADD COLUMN price BIGINT;");
    let status: Value = serde_json::from_slice(&env.run(&["--json", "status"]).stdout).unwrap();
    assert_eq!(
        status["tenants"][0]["changed"],
        serde_json::json!([2]),
        "{status}"
    );
    env.write_migration(2, "item_notes", "ALTER TABLE items ADD COLUMN note TEXT;");
    env.command(&["audit"]).assert().success();

    // clone: a new tenant with a copy of the data, no domains; a second
    // copy of a taken id or an unknown source is refused.
    let copy = env.json(&[
        "tenants",
        "clone",
        "acme",
        "acme-copy",
        "--domain",
        "copy.example.com",
    ]);
    assert_eq!(copy["name"], "Acme Corp", "the source's name by default");
    assert_eq!(copy["domains"][0]["name"], "copy.example.com");
    assert_ne!(
        copy["storage"],
        env.json(&["tenants", "show", "acme"])["storage"]
    );
    assert_eq!(
        env.json(&["status", "--tenant", "acme-copy"])["tenants"][0]["state"],
        "current"
    );
    for (args, expected) in [
        (&["tenants", "clone", "acme", "initech"][..], "exists"),
        (&["tenants", "clone", "nobody", "other"][..], "not found"),
    ] {
        let output = env.run(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            text(&output.stderr).contains(expected),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
    env.json(&["tenants", "delete", "acme-copy", "--yes"]);

    // delete: confirmed, idempotent.
    let deleted = env.json(&["tenants", "delete", "acme", "--yes"]);
    assert_eq!(deleted["deleted"], true);
    let deleted = env.json(&["tenants", "delete", "acme", "--yes"]);
    assert_eq!(deleted["deleted"], false);
    assert_eq!(listed(&env), [("initech".to_owned(), true)]);

    env.cleanup().await;
}

#[tokio::test]
async fn every_command_on_postgres_schemas() {
    every_command(Pair::PostgresSchema).await;
}

#[tokio::test]
async fn every_command_on_postgres_databases() {
    every_command(Pair::PostgresDatabase).await;
}

#[tokio::test]
async fn every_command_on_postgres_shared_tables() {
    every_command(Pair::PostgresShared).await;
}

#[tokio::test]
async fn every_command_on_mariadb_databases() {
    every_command(Pair::MysqlDatabase).await;
}

#[tokio::test]
async fn every_command_on_mariadb_shared_tables() {
    every_command(Pair::MysqlShared).await;
}

#[tokio::test]
async fn every_command_on_sqlite_databases() {
    every_command(Pair::SqliteDatabase).await;
}

#[tokio::test]
async fn every_command_on_sqlite_shared_tables() {
    every_command(Pair::SqliteShared).await;
}

#[tokio::test]
async fn bad_connection_options_are_clear_errors() {
    let env = Env::new(Pair::SqliteDatabase).await;
    let missing = env.dir.join("no-such-folder");
    let cases: [(Vec<(&str, String)>, &str); 3] = [
        (
            vec![("TENANCY_MIGRATIONS", missing.display().to_string())],
            "no such folder",
        ),
        (
            vec![("TENANCY_ISOLATION", "schema".to_owned())],
            "PostgreSQL",
        ),
        (vec![("TENANCY_ISOLATION", "shared".to_owned())], "--table"),
    ];
    for (vars, expected) in cases {
        let mut command = env.command(&["tenants", "list"]);
        for (key, value) in &vars {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{vars:?}");
        assert!(
            text(&output.stderr).contains(expected),
            "{vars:?}: {}",
            text(&output.stderr)
        );
    }
    env.cleanup().await;
}

#[tokio::test]
async fn audit_fails_when_tenant_rows_are_unprotected() {
    use sqlx::Connection;
    let env = Env::new(Pair::PostgresShared).await;
    env.json(&["tenants", "create", "acme"]);
    env.json(&["migrate"]);
    env.command(&["audit"]).assert().success();
    let url = env
        .vars
        .iter()
        .find(|(key, _)| key == "TENANCY_DATABASE_URL")
        .unwrap()
        .1
        .clone();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("ALTER TABLE items NO FORCE ROW LEVEL SECURITY; ALTER TABLE items DISABLE ROW LEVEL SECURITY")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let audit = env.run(&["--json", "audit"]);
    assert_eq!(audit.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(report["mode"]["passed"], false, "{report}");
    assert!(
        report["mode"]["error"].as_str().unwrap().contains("items"),
        "{report}"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn spares_are_made_taken_and_dropped_in_schema_mode_only() {
    let env = Env::new(Pair::PostgresSchema).await;
    let spares = env.json(&["spares", "--replenish", "2"]);
    assert_eq!(
        (spares["created"].as_u64(), spares["available"].as_u64()),
        (Some(2), Some(2)),
        "{spares}"
    );
    let again = env.json(&["spares", "--replenish", "2"]);
    assert_eq!(again["created"], 0, "{again}");
    env.json(&["tenants", "create", "acme"]);
    assert_eq!(
        env.json(&["spares"])["available"],
        1,
        "the new tenant took a spare"
    );
    let dropped = env.command(&["spares", "--drop"]).assert().success();
    assert_eq!(
        text(&dropped.get_output().stdout),
        "dropped 1; 0 spare schema(s) available\n"
    );
    assert_eq!(
        env.json(&["status"])["summary"],
        "1 tenants: 1 current, 0 pending, 0 with drift, 0 unreadable"
    );
    env.cleanup().await;

    let env = Env::new(Pair::SqliteDatabase).await;
    let refused = env.run(&["spares"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("schema isolation"),
        "{}",
        text(&refused.stderr)
    );
    env.cleanup().await;
}
