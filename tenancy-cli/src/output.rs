//! What the commands print: text for people (tables, one line per tenant)
//! or, with `--json`, one JSON document on stdout for machines.

use std::io::{self, Write};

use comfy_table::{Table, presets};
use serde::Serialize;
use serde_json::{Value, json};
use tenancy_sqlx::RegistryTenant;

/// Where and how a command reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    /// One JSON document instead of text.
    pub(crate) json: bool,
}

impl Output {
    /// Prints `text` for people, or `document` with `--json`.
    pub(crate) fn report(self, text: &str, document: &impl Serialize) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        if self.json {
            serde_json::to_writer_pretty(&mut stdout, document)?;
            writeln!(stdout)
        } else {
            writeln!(stdout, "{text}")
        }
    }

    /// Prints one line of text (nothing with `--json`).
    pub(crate) fn line(self, text: &str) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        writeln!(io::stdout().lock(), "{text}")
    }
}

/// A tenant as JSON: id, name, active, storage, domains.
pub(crate) fn tenant_json(tenant: &RegistryTenant) -> Value {
    let domains: Vec<Value> = tenant
        .domains()
        .iter()
        .map(|domain| json!({ "name": domain.name.as_str(), "primary": domain.primary }))
        .collect();
    json!({
        "id": tenant.id().as_str(),
        "name": tenant.name(),
        "active": tenant.is_active(),
        "storage": { "kind": tenant.storage().kind(), "location": tenant.storage().location() },
        "domains": domains,
    })
}

/// Rows under a header, in aligned columns without borders.
pub(crate) fn aligned<const N: usize>(
    header: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) -> String {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_header(header);
    for row in rows {
        table.add_row(row);
    }
    // The preset pads every cell with a space on both sides.
    table
        .lines()
        .map(|line| line.trim().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Tenants as an aligned table: id, name, state, storage, domains (the
/// primary one first, marked `*`).
pub(crate) fn tenant_table(tenants: &[RegistryTenant]) -> String {
    aligned(
        ["ID", "NAME", "STATE", "STORAGE", "DOMAINS"],
        tenants.iter().map(|tenant| {
            [
                tenant.id().to_string(),
                tenant.name().to_owned(),
                state(tenant).to_owned(),
                format!(
                    "{} {}",
                    tenant.storage().kind(),
                    tenant.storage().location()
                ),
                domains(tenant),
            ]
        }),
    )
}

/// One tenant as `key: value` lines.
pub(crate) fn tenant_text(tenant: &RegistryTenant) -> String {
    format!(
        "id:      {}\nname:    {}\nstate:   {}\nstorage: {} {}\ndomains: {}",
        tenant.id(),
        tenant.name(),
        state(tenant),
        tenant.storage().kind(),
        tenant.storage().location(),
        domains(tenant)
    )
}

fn state(tenant: &RegistryTenant) -> &'static str {
    if tenant.is_active() {
        "active"
    } else {
        "inactive"
    }
}

/// The domains, the primary one first and marked `*`; `-` when none.
fn domains(tenant: &RegistryTenant) -> String {
    let mut names: Vec<String> = tenant
        .domains()
        .iter()
        .filter(|domain| domain.primary)
        .map(|domain| format!("{}*", domain.name))
        .collect();
    names.extend(
        tenant
            .domains()
            .iter()
            .filter(|domain| !domain.primary)
            .map(|domain| domain.name.to_string()),
    );
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(" ")
    }
}
