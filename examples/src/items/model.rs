//! The JSON shapes of the items app.

use serde::{Deserialize, Serialize};

/// An item of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Unique within the tenant.
    pub id: i64,
    /// The item's name.
    pub name: String,
    /// Any finite number.
    pub capacity: f64,
}

/// The body of `POST /items`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// The item's name (1 to 200 characters).
    pub name: String,
    /// Any finite number.
    pub capacity: f64,
}

/// The body of `POST /admin/tenants`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// The new tenant's id (a DNS label).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Custom domains, e.g. `["acme.test"]`.
    #[serde(default)]
    pub domains: Vec<String>,
}

/// The body of `POST /admin/tenants/{id}/rename`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameTenant {
    /// The id the tenant gets.
    pub new_id: String,
}

/// The body of `POST /admin/tenants/{id}/clone`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloneTenant {
    /// The id of the copy.
    pub new_id: String,
    /// Its display name (default: the source's).
    #[serde(default)]
    pub name: Option<String>,
}

/// A tenant as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantView {
    /// The id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// Whether requests are served.
    pub active: bool,
    /// Custom domains, lower-cased.
    pub domains: Vec<String>,
}

/// The tenant part of `GET /`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantSummary {
    /// The id.
    pub id: String,
    /// The display name.
    pub name: String,
}
