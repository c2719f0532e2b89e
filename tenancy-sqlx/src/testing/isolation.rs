//! The isolation suite: what a [`TenantAccess`] over registry tenants
//! promises — a handle opened for one tenant reads and writes that tenant's
//! data only.

use std::future::Future;

use tenancy_core::TenantAccess;

use super::Guard;
use crate::tenant::RegistryTenant;

/// The handle of the access under test.
pub type Handle<H> = <<H as IsolationHarness>::Access as TenantAccess>::Handle;

/// How the access of one mode is set up for the
/// [isolation suite](crate::isolation_suite).
pub trait IsolationHarness {
    /// The access under test.
    type Access: TenantAccess<Tenant = RegistryTenant>;

    /// The access and two tenants of it, created by the mode's manager with
    /// no rows yet; and what to drop when the case ends.
    fn setup() -> impl Future<Output = (Self::Access, [RegistryTenant; 2], Guard)>;

    /// Writes a row holding `marker` through `handle`.
    fn write(handle: &mut Handle<Self>, marker: &str) -> impl Future<Output = ()>;

    /// Every marker `handle` can read.
    fn read(handle: &mut Handle<Self>) -> impl Future<Output = Vec<String>>;

    /// Ends the handle's work durably (commits a transaction; nothing for a
    /// plain connection).
    fn finish(handle: Handle<Self>) -> impl Future<Output = ()>;
}

/// Expands into one test per case of [`cases`], for the
/// [`IsolationHarness`] `$harness`, each carrying the attribute `$test`.
/// Needs the feature `testing`.
///
/// ```ignore
/// tenancy_sqlx::isolation_suite!(#[tokio::test] MyMode);
/// ```
#[macro_export]
macro_rules! isolation_suite {
    (#[$test:meta] $harness:ty) => {
        $crate::isolation_suite!(@cases #[$test] $harness;
            each_tenant_sees_only_its_own_rows,
            interleaved_handles_never_cross,
            open_current_follows_the_scope,
        );
    };
    (@cases #[$test:meta] $harness:ty; $($case:ident,)*) => {
        $(
            #[$test]
            async fn $case() {
                $crate::testing::isolation::cases::$case::<$harness>().await;
            }
        )*
    };
}

/// The cases of the isolation suite, one function each.
pub mod cases {
    use super::*;

    async fn write<H: IsolationHarness>(access: &H::Access, tenant: &RegistryTenant, marker: &str) {
        let mut handle = access.open(tenant).await.unwrap();
        H::write(&mut handle, marker).await;
        H::finish(handle).await;
    }

    async fn read<H: IsolationHarness>(access: &H::Access, tenant: &RegistryTenant) -> Vec<String> {
        let mut handle = access.open(tenant).await.unwrap();
        let mut markers = H::read(&mut handle).await;
        H::finish(handle).await;
        markers.sort();
        markers
    }

    /// Rows written for one tenant are read back for it, never for the other.
    pub async fn each_tenant_sees_only_its_own_rows<H: IsolationHarness>() {
        let (access, [a, b], _guard) = H::setup().await;
        write::<H>(&access, &a, "a1").await;
        write::<H>(&access, &a, "a2").await;
        write::<H>(&access, &b, "b1").await;
        assert_eq!(read::<H>(&access, &a).await, ["a1", "a2"]);
        assert_eq!(read::<H>(&access, &b).await, ["b1"]);
    }

    /// Many handles of both tenants open at once, interleaving their
    /// writes and reads: each reads its own tenant's rows only.
    pub async fn interleaved_handles_never_cross<H: IsolationHarness>() {
        let (access, [a, b], _guard) = H::setup().await;
        let rounds = (0..8).map(|n| {
            let tenant = if n % 2 == 0 { &a } else { &b };
            let access = &access;
            async move {
                let mut handle = access.open(tenant).await.unwrap();
                let marker = format!("{}-{n}", tenant.id());
                H::write(&mut handle, &marker).await;
                let seen = H::read(&mut handle).await;
                H::finish(handle).await;
                for row in &seen {
                    assert!(
                        row.starts_with(&format!("{}-", tenant.id())),
                        "{} read {row:?}",
                        tenant.id()
                    );
                }
                assert!(seen.contains(&marker), "{} lost {marker}", tenant.id());
            }
        });
        futures_util::future::join_all(rounds).await;
        assert_eq!(read::<H>(&access, &a).await.len(), 4);
        assert_eq!(read::<H>(&access, &b).await.len(), 4);
    }

    /// `open_current` inside a tenant's scope opens that tenant's data, and
    /// outside any scope refuses.
    pub async fn open_current_follows_the_scope<H: IsolationHarness>() {
        let (access, [a, b], _guard) = H::setup().await;
        tenancy_core::scope::scope(a.clone(), async {
            let mut handle = access.open_current().await.unwrap();
            H::write(&mut handle, "scoped").await;
            H::finish(handle).await;
        })
        .await;
        assert_eq!(read::<H>(&access, &a).await, ["scoped"]);
        assert!(read::<H>(&access, &b).await.is_empty());
        assert!(access.open_current().await.is_err(), "no scope, no tenant");
    }
}
