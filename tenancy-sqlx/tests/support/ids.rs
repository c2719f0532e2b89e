//! Random names for per-test databases, roles and directories; tenant ids.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use tenancy_core::TenantId;

/// 16 hex digits, unique per call (counter, process id, time, random keys).
pub fn token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    format!("{:016x}", hasher.finish())
}

/// `tenancy_test_<token>`: the name of a per-test database or directory.
pub fn test_name() -> String {
    format!("tenancy_test_{}", token())
}

pub fn id(text: &str) -> TenantId {
    TenantId::new(text).unwrap()
}
