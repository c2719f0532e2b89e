//! `status` (where each tenant stands against the migrations) and `audit`
//! (the mode's safety checks, and migration drift).

use serde_json::{Map, Value, json};
use tenancy_core::{TenancyError, TenantId};
use tenancy_sqlx::TenantLifecycle;
use tenancy_sqlx::migrate::{MigrationState, TenantFilter};

use crate::admin::{CommandError, Outcome, chain};
use crate::args::TenantSelection;
use crate::output::{Output, aligned};

type States = Vec<(TenantId, Result<MigrationState, TenancyError>)>;

/// Runs `status`: a table (or JSON) of every selected tenant's state; exit
/// status 1 when any has drift or cannot be read.
pub(crate) async fn run_status(
    lifecycle: &dyn TenantLifecycle,
    select: &TenantSelection,
    output: Output,
) -> Result<Outcome, CommandError> {
    let states = lifecycle.migration_states(select.filter()?).await?;
    select.require_found(states.iter().map(|(id, _)| id))?;
    let text = format!("{}\n{}", state_table(&states), summary(&states));
    let document = json!({
        "tenants": states.iter().map(state_json).collect::<Vec<_>>(),
        "summary": summary(&states),
    });
    output.report(text.trim_start(), &document)?;
    Ok(verdict(&states))
}

/// Runs `audit`: the mode's checks, then every tenant's history; exit
/// status 1 when the mode's audit fails or any tenant has drift or cannot
/// be read.
pub(crate) async fn run_audit(
    lifecycle: &dyn TenantLifecycle,
    output: Output,
) -> Result<Outcome, CommandError> {
    let mode = lifecycle.audit().await;
    let states = lifecycle.migration_states(TenantFilter::all()).await?;
    let troubled: States = states
        .into_iter()
        .filter(|(_, state)| state.as_ref().map_or(true, MigrationState::has_drift))
        .collect();
    let mut text = match &mode {
        Ok(warnings) if warnings.is_empty() => "mode audit: passed".to_owned(),
        Ok(warnings) => format!(
            "mode audit: passed, with warnings\n{}",
            warnings
                .iter()
                .map(|warning| format!("  warning: {warning}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        Err(error) => format!("mode audit: FAILED: {}", chain(error)),
    };
    if troubled.is_empty() {
        text.push_str("\nmigrations: no drift");
    } else {
        text.push_str(&format!(
            "\nmigrations: {} tenant(s) with drift or an unreadable history\n{}",
            troubled.len(),
            state_table(&troubled)
        ));
    }
    let document = json!({
        "mode": match &mode {
            Ok(warnings) => json!({ "passed": true, "warnings": warnings }),
            Err(error) => json!({ "passed": false, "error": chain(error) }),
        },
        "drift": troubled.iter().map(state_json).collect::<Vec<_>>(),
    });
    output.report(&text, &document)?;
    Ok(if mode.is_ok() && troubled.is_empty() {
        Outcome::Done
    } else {
        Outcome::Failed
    })
}

/// 1 (failed) when any tenant has drift or could not be read.
fn verdict(states: &States) -> Outcome {
    let troubled = states
        .iter()
        .any(|(_, state)| state.as_ref().map_or(true, MigrationState::has_drift));
    if troubled {
        Outcome::Failed
    } else {
        Outcome::Done
    }
}

/// `3 tenants: 1 current, 1 pending, 1 with drift, 0 unreadable`.
fn summary(states: &States) -> String {
    let count = |wanted: &str| {
        states
            .iter()
            .filter(|(_, state)| kind(state) == wanted)
            .count()
    };
    format!(
        "{} tenants: {} current, {} pending, {} with drift, {} unreadable",
        states.len(),
        count("current"),
        count("pending"),
        count("drift"),
        count("error")
    )
}

fn kind(state: &Result<MigrationState, TenancyError>) -> &'static str {
    match state {
        Err(_) => "error",
        Ok(state) if state.has_drift() => "drift",
        Ok(state) if !state.pending.is_empty() => "pending",
        Ok(_) => "current",
    }
}

/// Id, applied version, pending versions, state.
fn state_table(states: &States) -> String {
    if states.is_empty() {
        return "no tenants".to_owned();
    }
    aligned(
        ["ID", "VERSION", "PENDING", "STATE"],
        states.iter().map(|(id, state)| {
            let (version, pending) = match state {
                Ok(state) => (
                    state.latest().map_or("-".to_owned(), |v| v.to_string()),
                    versions(&state.pending),
                ),
                Err(_) => ("?".to_owned(), "?".to_owned()),
            };
            [id.to_string(), version, pending, state_text(state)]
        }),
    )
}

/// `current`, `pending`, `drift: unknown 9; changed 2`, `error: …`.
fn state_text(state: &Result<MigrationState, TenancyError>) -> String {
    let state = match state {
        Err(error) => return format!("error: {}", chain(error)),
        Ok(state) => state,
    };
    if !state.has_drift() {
        return kind(&Ok(state.clone())).to_owned();
    }
    let mut parts = Vec::new();
    for (label, list) in [
        ("unknown", &state.unknown),
        ("changed", &state.changed),
        ("failed", &state.failed),
    ] {
        if !list.is_empty() {
            parts.push(format!("{label} {}", versions(list)));
        }
    }
    format!("drift: {}", parts.join("; "))
}

/// `2,3`, or `-` when there are none.
fn versions(list: &[i64]) -> String {
    if list.is_empty() {
        "-".to_owned()
    } else {
        list.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn state_json((id, state): &(TenantId, Result<MigrationState, TenancyError>)) -> Value {
    let mut entry = Map::new();
    entry.insert("id".into(), json!(id.as_str()));
    entry.insert("state".into(), json!(kind(state)));
    match state {
        Ok(state) => {
            entry.insert("version".into(), json!(state.latest()));
            entry.insert("applied".into(), json!(state.applied));
            entry.insert("pending".into(), json!(state.pending));
            entry.insert("unknown".into(), json!(state.unknown));
            entry.insert("changed".into(), json!(state.changed));
            entry.insert("failed".into(), json!(state.failed));
        }
        Err(error) => {
            entry.insert("error".into(), json!(chain(error)));
        }
    }
    Value::Object(entry)
}
