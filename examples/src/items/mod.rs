//! The `items` app: one multi-tenant JSON service, shared by the axum and
//! actix-web binaries (they differ only in the framework glue).

mod admin;
pub mod backends;
mod config;
mod error;
mod model;
mod seed;
mod service;
mod setup;
mod storage;

pub use admin::LifecycleAdmin;
pub use config::{Backend, Config, ConfigError, Isolation, Seed, backend_of};
pub use error::AppError;
pub use model::{
    CloneTenant, CreateTenant, Item, NewItem, RenameTenant, TenantSummary, TenantView,
};
pub use seed::{SEED_TENANTS, seed};
pub use service::{AppState, view};
pub use setup::{App, AppStore, POOL_SIZE, build, lifecycle};
pub use storage::{ItemsStore, TenantAdmin};

/// The largest request body accepted (1 MiB); larger bodies get `413 PayloadTooLarge`.
pub const BODY_LIMIT: usize = 1024 * 1024;
