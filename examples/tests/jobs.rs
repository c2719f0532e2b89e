//! The `jobs` example, run as a user runs it: each job re-resolves its
//! tenant; a deactivated or deleted tenant's job is refused with its typed
//! error and touches nothing; a forged tenant id is refused as input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn jobs_run_for_served_tenants_only() {
    let dir = std::env::temp_dir().join(format!("tenancy-jobs-test-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_jobs"))
        .env("TENANCY_JOBS_DIR", &dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the jobs example");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert_eq!(
        lines[0],
        r#"acme "welcome": done, the tenant has 1 note(s)"#
    );
    assert_eq!(lines[1], r#"globex "invoice": skipped, TenantInactive"#);
    assert_eq!(lines[2], r#"initech "report": skipped, TenantNotFound"#);
    assert_eq!(
        lines[3],
        r#"acme "reminder": done, the tenant has 2 note(s)"#
    );
    assert!(
        lines[4]
            .starts_with(r#"{"tenant": "../acme", "note": "forged"}: refused, not a valid job"#),
        "{}",
        lines[4]
    );
    // Nothing was written for the refused tenants: globex's database has no
    // notes, initech's is gone.
    let tenants: Vec<String> = std::fs::read_dir(dir.join("tenants"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        tenants.iter().all(|name| !name.contains("initech")),
        "initech's database was deleted: {tenants:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
