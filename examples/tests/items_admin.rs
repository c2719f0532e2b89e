//! `items-admin`: the admin commands mounted in the app's own binary, with
//! the app's settings and compiled migrations (embedded SQLite).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

fn items_admin(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_items-admin"))
        .env_clear()
        .env(
            "TENANCY_DATABASE_URL",
            format!("sqlite://{}/registry.db", dir.display()),
        )
        .env("TENANCY_ISOLATION", "database")
        .args(args)
        .output()
        .expect("run items-admin")
}

#[test]
fn the_app_binary_administers_its_tenants() {
    let dir = std::env::temp_dir().join(format!("tenancy-items-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let created = items_admin(
        &dir,
        &[
            "--json",
            "tenants",
            "create",
            "acme",
            "--domain",
            "acme.localhost",
        ],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let tenant: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(tenant["domains"][0]["name"], "acme.localhost");

    // The app's compiled migrations were applied at creation: nothing is pending.
    let migrated = items_admin(&dir, &["migrate"]);
    let stdout = String::from_utf8_lossy(&migrated.stdout);
    assert!(migrated.status.success(), "{stdout}");
    assert!(stdout.contains("acme: up to date"), "{stdout}");
    assert!(
        stdout.contains("1 tenants: 0 migrated, 1 up to date, 0 failed"),
        "{stdout}"
    );

    // Seeding is the server's business: only the tenant created here is listed.
    let listed = items_admin(&dir, &["tenants", "list"]);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.lines().nth(1).unwrap().starts_with("acme "),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
