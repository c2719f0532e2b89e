//! Change payloads: `<origin> <event> <event> …`, carried by Postgres'
//! `NOTIFY` and stored in the change log of the other registries.
//!
//! Each event is one token: `created:<id>`, `updated:<id>`,
//! `activated:<id>`, `deactivated:<id>`, `deleted:<id>`, `migrated:<id>`,
//! `renamed:<from>:<to>`, `domain-added:<domain>:<id>`,
//! `domain-removed:<domain>:<id>`, or `*` (unknown). Ids and domains are
//! validated (no spaces, no colons), so the tokens are unambiguous. A
//! payload with anything unreadable is read as "anything may have changed".

use std::fmt::Write as _;

use tenancy_core::{DomainName, TenantEvent, TenantId};

/// Postgres rejects NOTIFY payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;

/// Encodes `events` from `origin`; falls back to "unknown" if too long.
pub(crate) fn encode(origin: &str, events: &[TenantEvent]) -> String {
    let mut payload = String::from(origin);
    for event in events {
        let _infallible = match event {
            TenantEvent::Created(id) => write!(payload, " created:{id}"),
            TenantEvent::Updated(id) => write!(payload, " updated:{id}"),
            TenantEvent::Activated(id) => write!(payload, " activated:{id}"),
            TenantEvent::Deactivated(id) => write!(payload, " deactivated:{id}"),
            TenantEvent::Deleted(id) => write!(payload, " deleted:{id}"),
            TenantEvent::Migrated(id) => write!(payload, " migrated:{id}"),
            TenantEvent::Renamed { from, to } => write!(payload, " renamed:{from}:{to}"),
            TenantEvent::DomainAdded { tenant, domain } => {
                write!(payload, " domain-added:{domain}:{tenant}")
            }
            TenantEvent::DomainRemoved { tenant, domain } => {
                write!(payload, " domain-removed:{domain}:{tenant}")
            }
            _ => write!(payload, " *"),
        };
    }
    if payload.len() > MAX_PAYLOAD {
        return format!("{origin} *");
    }
    payload
}

/// The payload of `origin`'s removal of `domain` without the tenant id,
/// which Postgres appends (the owner of the row it deleted).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn domain_removed_prefix(origin: &str, domain: &DomainName) -> String {
    format!("{origin} domain-removed:{domain}:")
}

/// Decodes a payload into its origin and events.
pub(crate) fn decode(payload: &str) -> (&str, Vec<TenantEvent>) {
    let mut parts = payload.split(' ');
    let origin = parts.next().unwrap_or_default();
    let mut events = Vec::new();
    for part in parts {
        match token(part) {
            Some(event) => events.push(event),
            None => return (origin, vec![TenantEvent::Unknown]),
        }
    }
    if events.is_empty() {
        events.push(TenantEvent::Unknown);
    }
    (origin, events)
}

/// One token's event; `None` when it cannot be read.
fn token(part: &str) -> Option<TenantEvent> {
    if part == "*" {
        return Some(TenantEvent::Unknown);
    }
    let (kind, rest) = part.split_once(':')?;
    let id = || TenantId::new(rest).ok();
    let pair = || {
        let (first, second) = rest.split_once(':')?;
        Some((first, TenantId::new(second).ok()?))
    };
    match kind {
        "created" => id().map(TenantEvent::Created),
        "updated" => id().map(TenantEvent::Updated),
        "activated" => id().map(TenantEvent::Activated),
        "deactivated" => id().map(TenantEvent::Deactivated),
        "deleted" => id().map(TenantEvent::Deleted),
        "migrated" => id().map(TenantEvent::Migrated),
        "renamed" => {
            let (from, to) = pair()?;
            Some(TenantEvent::Renamed {
                from: TenantId::new(from).ok()?,
                to,
            })
        }
        "domain-added" => {
            let (domain, tenant) = pair()?;
            Some(TenantEvent::DomainAdded {
                tenant,
                domain: DomainName::new(domain).ok()?,
            })
        }
        "domain-removed" => {
            let (domain, tenant) = pair()?;
            Some(TenantEvent::DomainRemoved {
                tenant,
                domain: DomainName::new(domain).ok()?,
            })
        }
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: &str) -> TenantId {
        TenantId::new(value).unwrap()
    }

    #[test]
    fn round_trip() {
        let domain = DomainName::new("shop.acme.test").unwrap();
        let events = vec![
            TenantEvent::Created(id("a-b")),
            TenantEvent::Updated(id("a-b")),
            TenantEvent::Activated(id("a-b")),
            TenantEvent::Deactivated(id("a-b")),
            TenantEvent::Deleted(id("a-b")),
            TenantEvent::Migrated(id("a-b")),
            TenantEvent::Renamed {
                from: id("a-b"),
                to: id("c"),
            },
            TenantEvent::DomainAdded {
                tenant: id("c"),
                domain: domain.clone(),
            },
            TenantEvent::DomainRemoved {
                tenant: id("c"),
                domain,
            },
            TenantEvent::Unknown,
        ];
        let payload = encode("1f2e", &events);
        assert_eq!(
            payload,
            "1f2e created:a-b updated:a-b activated:a-b deactivated:a-b deleted:a-b \
             migrated:a-b renamed:a-b:c domain-added:shop.acme.test:c \
             domain-removed:shop.acme.test:c *"
        );
        assert_eq!(decode(&payload), ("1f2e", events));
    }

    #[test]
    fn garbage_means_unknown() {
        for payload in [
            "x created:Not_Valid",
            "x renamed:a",
            "x domain-added:a:b:c",
            "x t:a",
            "x",
            "x *",
            "",
        ] {
            assert_eq!(decode(payload).1, vec![TenantEvent::Unknown], "{payload}");
        }
    }

    #[test]
    fn long_payloads_collapse() {
        let events: Vec<_> = (0..2000)
            .map(|n| TenantEvent::Updated(id(&format!("tenant{n}"))))
            .collect();
        assert_eq!(encode("o", &events), "o *");
    }
}
