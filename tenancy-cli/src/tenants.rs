//! `tenants …` and `domains …`: registry and lifecycle operations, one
//! tenant at a time.

use serde_json::json;
use tenancy_core::{DomainName, TenancyError, TenantId, TenantKey};
use tenancy_sqlx::{NewTenant, RegistryTenant, TenantLifecycle};

use crate::admin::{CommandError, Outcome};
use crate::args::{DomainsCommand, TenantsCommand};
use crate::fleet::{self, Fleet};
use crate::output::{Output, tenant_json, tenant_table, tenant_text};

/// Runs a `tenants` command.
pub(crate) async fn run_tenants(
    lifecycle: &dyn TenantLifecycle,
    fleet: Option<&dyn Fleet>,
    command: &TenantsCommand,
    output: Output,
) -> Result<Outcome, CommandError> {
    match command {
        TenantsCommand::List { active, inactive } => {
            let mut tenants = lifecycle.registry().list().await?;
            tenants.retain(|tenant| {
                (!active || tenant.is_active()) && (!inactive || !tenant.is_active())
            });
            tenants.sort_by(|a, b| a.id().cmp(b.id()));
            let documents: Vec<_> = tenants.iter().map(tenant_json).collect();
            let text = if tenants.is_empty() {
                "no tenants".to_owned()
            } else {
                tenant_table(&tenants)
            };
            output.report(&text, &documents)?;
        }
        TenantsCommand::Show { id } => {
            let tenant = require(lifecycle, &tenant_id(id)?).await?;
            output.report(&tenant_text(&tenant), &tenant_json(&tenant))?;
        }
        TenantsCommand::Create {
            id,
            name,
            domains,
            inactive,
            server,
            least_used,
        } => {
            let id = tenant_id(id)?;
            let name = name.clone().unwrap_or_else(|| id.to_string());
            let new = new_tenant(id, name, domains, *inactive)?;
            let tenant = match (server, least_used) {
                (None, false) => lifecycle.create(new).await?,
                (server, _) => {
                    let fleet = fleet::required(fleet, "placing a tenant on a server")?;
                    let server = server.as_deref().map(fleet::server).transpose()?;
                    fleet.create_on(new, server.as_ref()).await?
                }
            };
            done(output, "created", &tenant)?;
        }
        TenantsCommand::Move { id, to, drain } => {
            let fleet = fleet::required(fleet, "tenants move")?;
            let id = tenant_id(id)?;
            let to = fleet::server(to)?;
            let tenant = fleet
                .move_to(&id, &to, std::time::Duration::from_secs(*drain))
                .await?;
            done(output, &format!("moved to {to}:"), &tenant)?;
        }
        TenantsCommand::Clone {
            from,
            id,
            name,
            domains,
            inactive,
        } => {
            let from = tenant_id(from)?;
            let name = match name {
                Some(name) => name.clone(),
                None => require(lifecycle, &from).await?.name().to_owned(),
            };
            let new = new_tenant(tenant_id(id)?, name, domains, *inactive)?;
            let tenant = lifecycle.clone_tenant(&from, new).await?;
            done(output, &format!("cloned {from} as"), &tenant)?;
        }
        TenantsCommand::Rename { from, to } => {
            let tenant = lifecycle.rename(&tenant_id(from)?, &tenant_id(to)?).await?;
            done(output, "renamed", &tenant)?;
        }
        TenantsCommand::Activate { id } => {
            let id = tenant_id(id)?;
            lifecycle.activate(&id).await?;
            done(output, "activated", &require(lifecycle, &id).await?)?;
        }
        TenantsCommand::Deactivate { id } => {
            let id = tenant_id(id)?;
            lifecycle.deactivate(&id).await?;
            done(output, "deactivated", &require(lifecycle, &id).await?)?;
        }
        TenantsCommand::Delete { id, yes } => {
            let id = tenant_id(id)?;
            if !yes {
                return Err(CommandError::Usage(format!(
                    "deleting {id} drops its storage and every row of its data; pass --yes to confirm"
                )));
            }
            let existed = lifecycle.delete(&id).await?;
            let text = if existed {
                format!("deleted {id}")
            } else {
                format!("no tenant {id}: nothing to delete")
            };
            output.report(&text, &json!({ "id": id.as_str(), "deleted": existed }))?;
        }
    }
    Ok(Outcome::Done)
}

/// Runs a `domains` command.
pub(crate) async fn run_domains(
    lifecycle: &dyn TenantLifecycle,
    command: &DomainsCommand,
    output: Output,
) -> Result<Outcome, CommandError> {
    let registry = lifecycle.registry();
    match command {
        DomainsCommand::Add {
            id,
            domain,
            primary,
        } => {
            let id = tenant_id(id)?;
            let domain = DomainName::new(domain).map_err(TenancyError::from)?;
            registry.add_domain(&id, &domain, *primary).await?;
            done(
                output,
                &format!("added {domain} to"),
                &require(lifecycle, &id).await?,
            )?;
        }
        DomainsCommand::Remove { domain } => {
            let domain = DomainName::new(domain).map_err(TenancyError::from)?;
            let removed = registry.remove_domain(&domain).await?;
            let text = if removed {
                format!("removed {domain}")
            } else {
                format!("no tenant has {domain}: nothing to remove")
            };
            output.report(
                &text,
                &json!({ "domain": domain.as_str(), "removed": removed }),
            )?;
        }
    }
    Ok(Outcome::Done)
}

/// A tenant to create: the first domain is the primary one.
fn new_tenant(
    id: TenantId,
    name: String,
    domains: &[String],
    inactive: bool,
) -> Result<NewTenant, CommandError> {
    let mut new = NewTenant::new(id, name);
    for (index, domain) in domains.iter().enumerate() {
        let domain = DomainName::new(domain).map_err(TenancyError::from)?;
        new = if index == 0 {
            new.primary_domain(domain)
        } else {
            new.domain(domain)
        };
    }
    Ok(if inactive { new.inactive() } else { new })
}

/// Reports a changed tenant: `{what} {id}` and its details, or its JSON.
fn done(output: Output, what: &str, tenant: &RegistryTenant) -> Result<(), CommandError> {
    let text = format!("{what} {}\n{}", tenant.id(), tenant_text(tenant));
    output.report(&text, &tenant_json(tenant))?;
    Ok(())
}

/// A tenant id from the command line; `InvalidTenantId` names the rule.
pub(crate) fn tenant_id(text: &str) -> Result<TenantId, CommandError> {
    Ok(TenantId::new(text).map_err(TenancyError::from)?)
}

/// The tenant as the registry has it now; `TenantNotFound` if none.
async fn require(
    lifecycle: &dyn TenantLifecycle,
    id: &TenantId,
) -> Result<RegistryTenant, CommandError> {
    lifecycle.registry().find_by_id(id).await?.ok_or_else(|| {
        CommandError::Tenancy(TenancyError::TenantNotFound {
            key: TenantKey::Id(id.clone()),
        })
    })
}
