//! Database mode across servers from the command line: `servers`,
//! placement on `tenants create`, and `tenants move`, between SQLite
//! directories and between the two PostgreSQL clusters of `scripts/test.sh`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Env, Pair, text};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};

/// `tenancy --json --server … ARGS`, which must succeed.
fn with_server(env: &Env, server: &str, args: &[&str]) -> Value {
    let mut all = vec!["--server", server];
    all.extend_from_slice(args);
    env.json(&all)
}

#[tokio::test]
async fn tenants_are_placed_and_moved_between_sqlite_directories() {
    let env = Env::new(Pair::SqliteDatabase).await;
    let second = format!("b=sqlite://{}/b/{{tenant}}.db", env.dir.display());
    assert_eq!(
        with_server(&env, &second, &["servers"]),
        json!({"b": 0, "local": 0})
    );
    let acme = with_server(
        &env,
        &second,
        &["tenants", "create", "acme", "--least-used"],
    );
    assert_eq!(
        acme["storage"]["location"], "b/acme",
        "ties go to the first name"
    );
    assert!(env.dir.join("b/acme.db").exists());
    let names = |file: &str| {
        let url = format!("sqlite://{}", env.dir.join(file).display());
        async move {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
            names
        }
    };
    {
        let url = format!("sqlite://{}", env.dir.join("b/acme.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("INSERT INTO items (name) VALUES ('anvil')")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let copy = with_server(&env, &second, &["tenants", "clone", "acme", "acme-copy"]);
    assert_eq!(
        copy["storage"]["location"], "b/acme-copy",
        "a clone stays on its source's server"
    );
    assert_eq!(
        names("b/acme-copy.db").await,
        ["anvil"],
        "the clone holds the row"
    );
    with_server(&env, &second, &["tenants", "delete", "acme-copy", "--yes"]);
    let globex = with_server(
        &env,
        &second,
        &["tenants", "create", "globex", "--server", "local"],
    );
    assert_eq!(globex["storage"]["location"], "local/globex");
    assert_eq!(
        with_server(&env, &second, &["servers"]),
        json!({"b": 1, "local": 1})
    );

    let moved = with_server(
        &env,
        &second,
        &["tenants", "move", "acme", "--to", "local", "--drain", "0"],
    );
    assert_eq!(moved["storage"]["location"], "local/acme");
    assert_eq!(moved["active"], true);
    assert!(
        !env.dir.join("b/acme.db").exists(),
        "the source file is gone"
    );
    assert_eq!(
        names("tenants/acme.db").await,
        ["anvil"],
        "the moved database holds the row"
    );
    assert_eq!(
        with_server(&env, &second, &["servers"]),
        json!({"b": 0, "local": 2})
    );
    let taken = env.run(&[
        "--server",
        &format!("local=sqlite://{}/c/{{tenant}}.db", env.dir.display()),
        "servers",
    ]);
    assert_eq!(taken.status.code(), Some(1));
    assert!(
        text(&taken.stderr).contains("main server"),
        "{}",
        text(&taken.stderr)
    );
    assert_eq!(
        with_server(&env, &second, &["status"])["summary"],
        "2 tenants: 2 current, 0 pending, 0 with drift, 0 unreadable"
    );

    let unknown = env.run(&[
        "--server",
        &second,
        "tenants",
        "move",
        "acme",
        "--to",
        "elsewhere",
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("no database server named `elsewhere`"),
        "{}",
        text(&unknown.stderr)
    );
    let bad = env.run(&["--server", "b=postgres://db/x_{tenant}", "servers"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("same backend"),
        "{}",
        text(&bad.stderr)
    );
    env.cleanup().await;

    let schemas = Env::new(Pair::PostgresSchema).await;
    let refused = schemas.run(&["servers"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("needs database isolation"),
        "{}",
        text(&refused.stderr)
    );
    schemas.cleanup().await;
}

#[tokio::test]
async fn a_tenant_moves_to_the_second_postgres_cluster() {
    let env = Env::new(Pair::PostgresDatabase).await;
    let pg2 = std::env::var("TENANCY_TEST_PG2_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5433/postgres".into());
    let base = pg2.rsplit_once('/').unwrap().0;
    let second = format!("second={base}/{}_{{tenant}}", env.name);
    with_server(&env, &second, &["tenants", "create", "acme"]);
    let moved = with_server(
        &env,
        &second,
        &["tenants", "move", "acme", "--to", "second", "--drain", "0"],
    );
    assert_eq!(
        moved["storage"]["location"],
        format!("second/{}_acme", env.name)
    );
    let pg1 = std::env::var("TENANCY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut first = sqlx::PgConnection::connect(&pg1).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(format!("{}_acme", env.name))
        .fetch_one(&mut first)
        .await
        .unwrap();
    first.close().await.unwrap();
    assert_eq!(
        left, 0,
        "the source database is dropped on the first server"
    );
    assert_eq!(
        with_server(&env, &second, &["servers"]),
        json!({"default": 0, "second": 1})
    );
    assert_eq!(
        with_server(&env, &second, &["status"])["tenants"][0]["state"],
        "current"
    );
    let deleted = with_server(&env, &second, &["tenants", "delete", "acme", "--yes"]);
    assert_eq!(deleted["deleted"], true);

    // Leave nothing on the second cluster (the template included).
    let mut admin = sqlx::PgConnection::connect(&pg2).await.unwrap();
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{}%", env.name))
            .fetch_all(&mut admin)
            .await
            .unwrap();
    for name in names {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
    admin.close().await.unwrap();
    env.cleanup().await;
}
