//! Change payloads: `<origin> t:<id> d:<domain> *`, carried by Postgres'
//! `NOTIFY` and stored in the change log of the other registries.
//!
//! Ids and domains are validated (no spaces), so a space-separated list is
//! unambiguous. Anything unparseable is read as "everything changed".

use std::fmt::Write as _;

use tenancy_core::{DomainName, Invalidation, TenantId};

/// Postgres rejects NOTIFY payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;

/// Encodes `events` from `origin`; falls back to "everything" if too long.
pub(crate) fn encode(origin: &str, events: &[Invalidation]) -> String {
    let mut payload = String::from(origin);
    for event in events {
        let _infallible = match event {
            Invalidation::Tenant(id) => write!(payload, " t:{id}"),
            Invalidation::Domain(domain) => write!(payload, " d:{domain}"),
            _ => write!(payload, " *"),
        };
    }
    if payload.len() > MAX_PAYLOAD {
        return format!("{origin} *");
    }
    payload
}

/// A random-enough token identifying one registry instance, so that it can
/// skip its own changes when they come back.
pub(crate) fn origin_token() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// Decodes a payload into its origin and events.
pub(crate) fn decode(payload: &str) -> (&str, Vec<Invalidation>) {
    let mut parts = payload.split(' ');
    let origin = parts.next().unwrap_or_default();
    let mut events = Vec::new();
    for part in parts {
        let event = if let Some(id) = part.strip_prefix("t:") {
            TenantId::new(id).ok().map(Invalidation::Tenant)
        } else if let Some(domain) = part.strip_prefix("d:") {
            DomainName::new(domain).ok().map(Invalidation::Domain)
        } else {
            None
        };
        match event {
            Some(event) => events.push(event),
            None => return (origin, vec![Invalidation::All]),
        }
    }
    if events.is_empty() {
        events.push(Invalidation::All);
    }
    (origin, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let events = vec![
            Invalidation::Tenant(TenantId::new("a-b").unwrap()),
            Invalidation::Domain(DomainName::new("shop.acme.test").unwrap()),
        ];
        let payload = encode("1f2e", &events);
        assert_eq!(payload, "1f2e t:a-b d:shop.acme.test");
        assert_eq!(decode(&payload), ("1f2e", events));
    }

    #[test]
    fn garbage_means_everything() {
        assert_eq!(decode("x t:Not_Valid").1, vec![Invalidation::All]);
        assert_eq!(decode("x").1, vec![Invalidation::All]);
        assert_eq!(decode("x *").1, vec![Invalidation::All]);
        assert_eq!(decode("").1, vec![Invalidation::All]);
    }

    #[test]
    fn long_payloads_collapse() {
        let events: Vec<_> = (0..2000)
            .map(|n| Invalidation::Tenant(TenantId::new(format!("tenant{n}")).unwrap()))
            .collect();
        assert_eq!(encode("o", &events), "o *");
    }
}
