//! What the routes do, independent of the web framework.

use std::sync::Arc;

use http::StatusCode;
use serde_json::{Value, json};
use tenancy_core::{DomainName, Tenancy, TenancyError, TenantId, TenantStore};
use tenancy_sqlx::{NewTenant, RegistryTenant};

use super::error::AppError;
use super::model::{
    CloneTenant, CreateTenant, Item, NewItem, RenameTenant, TenantSummary, TenantView,
};
use super::storage::{ItemsStore, TenantAdmin};

/// Everything a request handler needs.
pub struct AppState<S> {
    /// The tenancy pipeline (resolver + cached registry).
    pub tenancy: Arc<Tenancy<S>>,
    /// Items, scoped per tenant.
    pub items: Arc<dyn ItemsStore>,
    /// Tenant administration.
    pub admin: Arc<dyn TenantAdmin>,
    /// The admin bearer token; `None` disables the admin API.
    pub admin_token: Option<String>,
}

impl<S> std::fmt::Debug for AppState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("admin_api", &self.admin_token.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: TenantStore<Tenant = RegistryTenant> + 'static> AppState<S> {
    /// `GET /`.
    pub fn root(&self, tenant: Option<&RegistryTenant>) -> Value {
        let tenant = tenant.map(|tenant| TenantSummary {
            id: tenant.id().to_string(),
            name: tenant.name().to_owned(),
        });
        json!({ "tenant": tenant })
    }

    /// `GET /items`.
    pub async fn list_items(&self, tenant: &RegistryTenant) -> Result<Vec<Item>, AppError> {
        Ok(self.items.list(tenant).await?)
    }

    /// `POST /items`.
    pub async fn create_item(
        &self,
        tenant: &RegistryTenant,
        item: NewItem,
    ) -> Result<Item, AppError> {
        check_item_name(&item.name)?;
        if !item.capacity.is_finite() {
            return Err(AppError::invalid_body(
                StatusCode::UNPROCESSABLE_ENTITY,
                "capacity must be a finite number",
            ));
        }
        Ok(self.items.create(tenant, item).await?)
    }

    /// `GET /items/{id}`.
    pub async fn get_item(&self, tenant: &RegistryTenant, id: &str) -> Result<Item, AppError> {
        let id = item_id(id)?;
        self.items.get(tenant, id).await?.ok_or_else(|| no_item(id))
    }

    /// `DELETE /items/{id}`.
    pub async fn delete_item(&self, tenant: &RegistryTenant, id: &str) -> Result<(), AppError> {
        let id = item_id(id)?;
        if self.items.delete(tenant, id).await? {
            Ok(())
        } else {
            Err(no_item(id))
        }
    }

    /// Admin routes answer only on central hosts, with the right bearer token.
    pub fn authorize(
        &self,
        authorization: Option<&[u8]>,
        tenant: Option<&RegistryTenant>,
    ) -> Result<(), AppError> {
        let Some(expected) = self.admin_token.as_deref() else {
            return Err(AppError::not_found("the admin API is disabled"));
        };
        if tenant.is_some() {
            return Err(AppError::not_found(
                "the admin API is only served on central hosts",
            ));
        }
        let given = authorization
            .and_then(|value| value.strip_prefix(b"Bearer "))
            .unwrap_or_default();
        if constant_time_eq(given, expected.as_bytes()) {
            Ok(())
        } else {
            Err(AppError::unauthorized())
        }
    }

    /// `POST /admin/tenants`.
    pub async fn create_tenant(&self, body: CreateTenant) -> Result<TenantView, AppError> {
        let id = TenantId::new(&body.id).map_err(TenancyError::from)?;
        let name = body.name.trim();
        check_name(name)?;
        if body.domains.len() > MAX_DOMAINS {
            return Err(AppError::invalid_body(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("a tenant has at most {MAX_DOMAINS} domains"),
            ));
        }
        let mut tenant = NewTenant::new(id, name);
        let mut seen = Vec::with_capacity(body.domains.len());
        for (index, domain) in body.domains.iter().enumerate() {
            let domain = DomainName::new(domain).map_err(TenancyError::from)?;
            if seen.contains(&domain) {
                return Err(AppError::invalid_body(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("domain {domain} is listed twice"),
                ));
            }
            seen.push(domain.clone());
            tenant = if index == 0 {
                tenant.primary_domain(domain)
            } else {
                tenant.domain(domain)
            };
        }
        Ok(view(&self.admin.create(tenant).await?))
    }

    /// `GET /admin/tenants`.
    pub async fn list_tenants(&self) -> Result<Vec<TenantView>, AppError> {
        Ok(self.admin.list().await?.iter().map(view).collect())
    }

    /// `POST /admin/tenants/{id}/activate` and `/deactivate`.
    pub async fn set_active(&self, id: &str, active: bool) -> Result<TenantView, AppError> {
        let id = tenant_id(id)?;
        self.admin.set_active(&id, active).await?;
        self.tenant_view(&id).await
    }

    /// `POST /admin/tenants/{id}/rename`.
    pub async fn rename_tenant(
        &self,
        id: &str,
        body: RenameTenant,
    ) -> Result<TenantView, AppError> {
        let from = tenant_id(id)?;
        let to = TenantId::new(&body.new_id).map_err(TenancyError::from)?;
        self.admin.rename(&from, &to).await?;
        self.tenant_view(&to).await
    }

    /// `POST /admin/tenants/{id}/clone`: a new tenant with a copy of the
    /// tenant's items (no domains: they stay the source's).
    pub async fn clone_tenant(&self, id: &str, body: CloneTenant) -> Result<TenantView, AppError> {
        let from = tenant_id(id)?;
        let to = TenantId::new(&body.new_id).map_err(TenancyError::from)?;
        let name = match body.name {
            Some(name) => name.trim().to_owned(),
            None => self.tenant_view(&from).await?.name,
        };
        check_name(&name)?;
        let cloned = self
            .admin
            .clone_tenant(&from, NewTenant::new(to, name))
            .await?;
        Ok(view(&cloned))
    }

    /// `DELETE /admin/tenants/{id}`.
    pub async fn delete_tenant(&self, id: &str) -> Result<(), AppError> {
        let id = tenant_id(id)?;
        Ok(self.admin.delete(&id).await?)
    }

    /// `POST /admin/migrate`.
    pub async fn migrate(&self) -> Result<Value, AppError> {
        Ok(self.admin.migrate_all().await?)
    }

    async fn tenant_view(&self, id: &TenantId) -> Result<TenantView, AppError> {
        let tenant = self
            .admin
            .get(id)
            .await?
            .ok_or_else(|| TenancyError::TenantNotFound {
                key: id.clone().into(),
            })?;
        Ok(view(&tenant))
    }
}

/// The admin view of a tenant.
pub fn view(tenant: &RegistryTenant) -> TenantView {
    TenantView {
        id: tenant.id().to_string(),
        name: tenant.name().to_owned(),
        active: tenant.is_active(),
        domains: tenant
            .domains()
            .iter()
            .map(|domain| domain.name.to_string())
            .collect(),
    }
}

fn tenant_id(text: &str) -> Result<TenantId, AppError> {
    Ok(TenantId::new(text).map_err(TenancyError::from)?)
}

fn item_id(text: &str) -> Result<i64, AppError> {
    text.parse()
        .map_err(|_| AppError::not_found("there is no such item"))
}

fn no_item(id: i64) -> AppError {
    AppError::not_found(format!("item {id} does not exist"))
}

/// Compares secrets without an early exit on the first differing byte.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = given.len() ^ expected.len();
    for (index, byte) in expected.iter().enumerate() {
        difference |= usize::from(given.get(index).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
}

/// The most domains a tenant may have.
const MAX_DOMAINS: usize = 100;

/// An item name: 1 to 200 characters, stored exactly as sent (any Unicode,
/// tabs and newlines included) except NUL, which Postgres cannot store in
/// text, refused the same way on every backend.
fn check_item_name(name: &str) -> Result<(), AppError> {
    let length = name.chars().count();
    if length == 0 || length > 200 {
        return Err(AppError::invalid_body(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name must have 1 to 200 characters",
        ));
    }
    if name.contains('\0') {
        return Err(AppError::invalid_body(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name must not contain NUL (U+0000)",
        ));
    }
    Ok(())
}

/// A tenant's display name: 1 to 200 characters, not blank, no control
/// characters.
fn check_name(name: &str) -> Result<(), AppError> {
    let length = name.chars().count();
    if name.trim().is_empty() || length > 200 {
        return Err(AppError::invalid_body(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name must have 1 to 200 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::invalid_body(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name must not contain control characters",
        ));
    }
    Ok(())
}
