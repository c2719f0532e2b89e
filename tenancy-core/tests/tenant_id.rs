//! Table-driven tests of the `TenantId` and `DomainName` grammars.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)] // test helpers

use tenancy_core::{DomainName, TenantId};

/// `(input, expected normalised id or None when invalid)`.
const ID_CASES: &[(&[u8], Option<&str>)] = &[
    (b"acme", Some("acme")),
    (b"a", Some("a")),
    (b"0", Some("0")),
    (b"123", Some("123")),
    (b"a-b", Some("a-b")),
    (b"a--b", Some("a--b")),
    (b"ACME", Some("acme")),
    (b"AcMe-42", Some("acme-42")),
    (b"select", Some("select")),
    (b"user", Some("user")),
    (b"public", Some("public")),
    (b"xn--mnchen-3ya", Some("xn--mnchen-3ya")),
    (b"", None),
    (b"-acme", None),
    (b"acme-", None),
    (b"-", None),
    (b"ac me", None),
    (b" acme", None),
    (b"acme ", None),
    (b"acme\n", None),
    (b"ac\0me", None),
    (b"acme_corp", None),
    (b"acme.corp", None),
    (b"..", None),
    (b".", None),
    (b"%2e", None),
    (b"%61cme", None),
    (b"ac/me", None),
    (b"ac\\me", None),
    (b"acme;drop table tenants", None),
    (b"a'; DROP SCHEMA public CASCADE; --", None),
    (b"\"acme\"", None),
    (b"acme$1", None),
    ("münchen".as_bytes(), None),
    ("аcme".as_bytes(), None),     // Cyrillic "а"
    ("ａｃｍｅ".as_bytes(), None), // full-width letters
    (b"acm\xffe", None),
    (b"\xc3\x28", None),
    (b"acme\r\nX-Injected: 1", None),
];

#[test]
fn tenant_id_grammar_table() {
    assert!(
        ID_CASES.len() >= 30,
        "the table must keep at least 30 cases"
    );
    for (input, expected) in ID_CASES {
        let parsed = TenantId::from_bytes(input);
        match expected {
            Some(normalised) => {
                let id = parsed.unwrap_or_else(|e| panic!("{input:?} should be valid: {e}"));
                assert_eq!(id.as_str(), *normalised, "normalising {input:?}");
            }
            None => assert!(
                parsed.is_err(),
                "{input:?} should be invalid, got {parsed:?}"
            ),
        }
    }
}

#[test]
fn length_limits_are_those_of_a_dns_label() {
    let max = "a".repeat(63);
    assert_eq!(TenantId::new(&max).unwrap().as_str(), max);
    let too_long = "a".repeat(64);
    let error = TenantId::new(&too_long).unwrap_err();
    assert!(error.to_string().contains("64 bytes"), "{error}");
    assert!(TenantId::new("a".repeat(10_000)).is_err());
}

#[test]
fn str_and_bytes_constructors_agree() {
    for (input, _) in ID_CASES {
        if let Ok(text) = std::str::from_utf8(input) {
            assert_eq!(
                TenantId::new(text).ok(),
                TenantId::from_bytes(input).ok(),
                "{input:?}"
            );
            assert_eq!(text.parse::<TenantId>().ok(), TenantId::new(text).ok());
        }
    }
}

#[test]
fn error_messages_explain_the_rule_without_echoing_input() {
    let error = TenantId::new("acme_corp").unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid tenant id: character '_' at position 4 is not one of a-z, 0-9 and -"
    );
    let error = TenantId::new("x".repeat(100) + "!").unwrap_err();
    assert!(!error.to_string().contains("xxxx"), "{error}");
    assert_eq!(
        TenantId::new("").unwrap_err().to_string(),
        "invalid tenant id: it is empty"
    );
    assert_eq!(
        TenantId::new("-a").unwrap_err().to_string(),
        "invalid tenant id: it starts with a hyphen"
    );
}

#[test]
fn ids_compare_hash_and_display_normalised() {
    use std::collections::HashSet;
    let set: HashSet<TenantId> = ["Acme", "ACME", "acme"]
        .into_iter()
        .map(|s| TenantId::new(s).unwrap())
        .collect();
    assert_eq!(set.len(), 1);
    let id = TenantId::new("Globex").unwrap();
    assert_eq!(id.to_string(), "globex");
    assert_eq!(format!("{id:?}"), "TenantId(\"globex\")");
    assert!(id == "globex");
}

/// `(input, expected normalised domain or None when invalid)`.
const DOMAIN_CASES: &[(&str, Option<&str>)] = &[
    ("acme.test", Some("acme.test")),
    ("Shop.ACME.test", Some("shop.acme.test")),
    ("acme.test.", Some("acme.test")),
    ("localhost", Some("localhost")),
    ("xn--mnchen-3ya.de", Some("xn--mnchen-3ya.de")),
    ("a-b.c-d.e", Some("a-b.c-d.e")),
    ("", None),
    (".", None),
    ("acme..test", None),
    (".acme.test", None),
    ("acme.test..", None),
    ("-acme.test", None),
    ("acme-.test", None),
    ("acme_corp.test", None),
    ("acme.test:8080", None),
    ("127.0.0.1", None),
    ("::1", None),
    ("münchen.de", None),
    ("acme test", None),
];

#[test]
fn domain_grammar_table() {
    for (input, expected) in DOMAIN_CASES {
        let parsed = DomainName::new(input);
        match expected {
            Some(normalised) => assert_eq!(parsed.unwrap().as_str(), *normalised, "{input:?}"),
            None => assert!(
                parsed.is_err(),
                "{input:?} should be invalid, got {parsed:?}"
            ),
        }
    }
    let long_label = "a".repeat(64);
    assert!(DomainName::new(format!("{long_label}.test")).is_err());
    let max = [
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61),
    ]
    .join(".");
    assert_eq!(max.len(), 253);
    assert!(DomainName::new(&max).is_ok());
    assert!(DomainName::new(format!("{max}e")).is_err());
}

#[cfg(feature = "serde")]
#[test]
fn serde_validates_on_the_way_in() {
    let id: TenantId = serde_json::from_str("\"ACME\"").unwrap();
    assert_eq!(id.as_str(), "acme");
    assert_eq!(serde_json::to_string(&id).unwrap(), "\"acme\"");
    assert!(serde_json::from_str::<TenantId>("\"ac me\"").is_err());
    assert!(serde_json::from_str::<DomainName>("\"127.0.0.1\"").is_err());
}
