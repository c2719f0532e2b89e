//! Ctrl-C during `tenancy migrate`: the run stops between tenants (exit
//! status 130, the tenants not started reported and untouched), and running
//! it again finishes the rest.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Env, Pair, text};

const TENANTS: usize = 12;

#[tokio::test]
async fn ctrl_c_stops_between_tenants_and_a_second_run_resumes() {
    let env = Env::new(Pair::PostgresSchema).await;
    for n in 0..TENANTS {
        env.json(&["tenants", "create", &format!("t{n:02}")]);
    }
    // Each tenant takes a quarter of a second: the signal lands mid-run.
    env.write_migration(2, "slow", "SELECT pg_sleep(0.25);");

    let binary = assert_cmd::cargo::cargo_bin("tenancy");
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.vars.iter().cloned())
        .args(["migrate", "--concurrency", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains(": migrated 2"), "{first}");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");

    let migrated = 1 + rest
        .iter()
        .filter(|line| line.contains(": migrated 2"))
        .count();
    let stopped = rest
        .iter()
        .filter(|line| line.contains("not started (interrupted)"))
        .count();
    assert!(stopped > 0, "the run went on to the end: {rest:?}");
    assert_eq!(migrated + stopped, TENANTS, "{rest:?}");
    assert!(
        rest.last()
            .unwrap()
            .contains(&format!("(stopped: {stopped} not started)")),
        "{rest:?}"
    );

    // Run again: the migrated tenants are up to date, the others get it.
    let report = env.json(&["migrate"]);
    assert_eq!(
        report["migrated"].as_u64().unwrap() as usize,
        stopped,
        "{report}"
    );
    assert_eq!(
        report["up_to_date"].as_u64().unwrap() as usize,
        migrated,
        "{report}"
    );
    assert_eq!(report["stopped"], 0);
    let report = env.json(&["migrate"]);
    assert_eq!(
        report["up_to_date"].as_u64().unwrap() as usize,
        TENANTS,
        "{}",
        text(report.to_string().as_bytes())
    );

    env.cleanup().await;
}

/// On a terminal, `migrate` draws a progress bar (rate, ETA) on stderr
/// instead of one line per tenant; run under `script`, which gives it one.
#[tokio::test]
async fn a_terminal_gets_a_progress_bar() {
    let env = Env::new(Pair::PostgresSchema).await;
    for n in 0..4 {
        env.json(&["tenants", "create", &format!("t{n}")]);
    }
    env.write_migration(2, "slow", "SELECT pg_sleep(0.3);");
    let binary = assert_cmd::cargo::cargo_bin("tenancy");
    let output = Command::new("script")
        .env_clear()
        .envs(env.vars.iter().cloned())
        .env("TERM", "xterm")
        .args([
            "-qefc",
            &format!("{} migrate --concurrency 1", binary.display()),
            "/dev/null",
        ])
        .output()
        .expect("run `script` (util-linux)");
    let shown = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("ETA") && shown.contains("/4 tenants"),
        "no bar: {shown}"
    );
    assert!(
        !shown.contains(": migrated 2"),
        "per-tenant lines on a terminal: {shown}"
    );
    assert!(shown.contains("4 tenants: 4 migrated"), "{shown}");
    env.cleanup().await;
}
