//! Property tests: no parser or resolver panics on arbitrary input.
//! Each property runs 10,000 cases.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)] // test helpers

use proptest::prelude::*;
use tenancy_core::{
    ChainResolver, DomainName, HeaderResolver, HeaderValues, Host, InMemoryStore,
    PathPrefixResolver, RequestInfo, Resolution, SubdomainResolver, Tenancy, TenantId,
};

/// A request whose every part is arbitrary bytes, bypassing `http`'s own checks.
struct RawRequest {
    hosts: Vec<Vec<u8>>,
    authority: Option<String>,
    path: String,
    tenant_headers: Vec<Vec<u8>>,
}

impl RequestInfo for RawRequest {
    fn header(&self, name: &str) -> HeaderValues<'_> {
        let values = match name {
            "host" => &self.hosts,
            "x-tenant-id" => &self.tenant_headers,
            _ => return HeaderValues::Absent,
        };
        HeaderValues::collect(values.iter().map(Vec::as_slice))
    }

    fn uri_authority(&self) -> Option<&str> {
        self.authority.as_deref()
    }

    fn path(&self) -> &str {
        &self.path
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Bytes biased towards the characters that matter to the grammars.
fn interesting_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(b"aZ09-._:[]@/%\\ ".to_vec()),
            1 => any::<u8>(),
        ],
        0..max,
    )
}

fn chain() -> ChainResolver {
    ChainResolver::new()
        .with(
            SubdomainResolver::new(["localhost", "example.com"])
                .unwrap()
                .with_custom_domains(),
        )
        .with(PathPrefixResolver::new("/t").unwrap())
        .with(HeaderResolver::new("x-tenant-id").unwrap())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tenant_ids_parse_without_panicking(input in prop_oneof![interesting_bytes(80), prop::collection::vec(any::<u8>(), 0..80)]) {
        if let Ok(id) = TenantId::from_bytes(&input) {
            let text = id.as_str();
            prop_assert!((1..=63).contains(&text.len()));
            prop_assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert!(!text.starts_with('-') && !text.ends_with('-'));
            prop_assert_eq!(TenantId::new(text).unwrap(), id.clone());
            prop_assert!(input.eq_ignore_ascii_case(text.as_bytes()));
        }
    }

    #[test]
    fn domains_and_hosts_parse_without_panicking(input in prop_oneof![interesting_bytes(300), prop::collection::vec(any::<u8>(), 0..300)]) {
        if let Ok(domain) = DomainName::from_bytes(&input) {
            prop_assert!(domain.as_str().len() <= 253);
            prop_assert_eq!(DomainName::new(domain.as_str()).unwrap(), domain);
        }
        if let Ok(host) = Host::parse(&input)
            && let Some(name) = host.name()
        {
            prop_assert!(DomainName::new(name).is_ok(), "a host name is always a valid domain: {:?}", name);
            prop_assert_eq!(name.to_ascii_lowercase(), name);
        }
    }

    #[test]
    fn the_resolver_chain_never_panics(
        hosts in prop::collection::vec(prop_oneof![
            interesting_bytes(40),
            "[a-zA-Z0-9-]{0,10}\\.(localhost|example\\.com|acme\\.test)(:[0-9]{0,6})?".prop_map(String::into_bytes),
        ], 0..3),
        authority in proptest::option::of("[ -~]{0,30}"),
        path in prop_oneof!["\\PC{0,40}", "/t/[a-zA-Z0-9%._-]{0,12}(/[ -~]{0,10})?"],
        tenant_headers in prop::collection::vec(interesting_bytes(20), 0..3),
    ) {
        let request = RawRequest { hosts, authority, path, tenant_headers };
        let tenancy = Tenancy::new(chain(), InMemoryStore::new());
        if let Ok(Some(resolution)) = tenancy.resolve_key(&request) {
            let routed = resolution.routed_path(request.path());
            prop_assert!(request.path().ends_with(routed) || routed == "/");
            prop_assert!(resolution.path_prefix_len() <= request.path().len());
        }
    }

    #[test]
    fn routed_path_never_panics(path in "\\PC{0,40}", prefix_len in 0usize..64) {
        let id = TenantId::new("acme").unwrap();
        let routed = Resolution::id(id).with_path_prefix(prefix_len).routed_path(&path).to_owned();
        prop_assert!(path.ends_with(&routed) || routed == "/");
    }
}
