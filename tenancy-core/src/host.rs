//! [`Host`]: the normalised host of a request.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::domain::{DomainName, InvalidDomain, validate_host_name};

/// The host a request was sent to, normalised.
///
/// Normalisation lower-cases the name, removes a port (also after a bracketed
/// IPv6 literal such as `[::1]:8080`) and one trailing dot. A host that is an
/// IP address is kept apart, because an IP address never names a tenant.
///
/// ```
/// use tenancy_core::Host;
///
/// let host = Host::parse(b"Acme.Example.COM.:8443")?;
/// assert_eq!(host.name(), Some("acme.example.com"));
/// assert!(Host::parse(b"[::1]:8080")?.is_ip());
/// assert!(Host::parse(b"acme example").is_err());
/// # Ok::<(), tenancy_core::InvalidHost>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host<'a> {
    /// A DNS name, lower-case, without port or trailing dot.
    Name(Cow<'a, str>),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
}

impl<'a> Host<'a> {
    /// Parses and normalises the value of a `Host` header or a URI authority.
    pub fn parse(raw: &'a [u8]) -> Result<Self, InvalidHost> {
        if raw.is_empty() {
            return Err(InvalidHost(HostReason::Empty));
        }
        if raw.len() > DomainName::MAX_LEN + 1 + ":65535".len() {
            return Err(InvalidHost(HostReason::TooLong));
        }
        if let Some(rest) = raw.strip_prefix(b"[") {
            return parse_bracketed_ipv6(rest);
        }
        let name = match raw.iter().rposition(|&byte| byte == b':') {
            Some(colon) => {
                let (name, port) = raw.split_at(colon);
                check_port(port.get(1..).unwrap_or_default())?;
                name
            }
            None => raw,
        };
        let name = name.strip_suffix(b".").unwrap_or(name);
        if name
            .iter()
            .all(|&byte| byte.is_ascii_digit() || byte == b'.')
        {
            return parse_ipv4(name);
        }
        let has_upper =
            validate_host_name(name).map_err(|error| InvalidHost(HostReason::Name(error)))?;
        // Validation guarantees ASCII.
        let text = std::str::from_utf8(name).map_err(|_| InvalidHost(HostReason::NotAscii))?;
        Ok(Self::Name(if has_upper {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        }))
    }

    /// The DNS name, or `None` for an IP address.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Name(name) => Some(name),
            Self::Ip(_) => None,
        }
    }

    /// Whether the host is an IP address.
    pub fn is_ip(&self) -> bool {
        matches!(self, Self::Ip(_))
    }

    /// The host as an owned [`DomainName`], or `None` for an IP address.
    pub fn to_domain(&self) -> Option<DomainName> {
        // A parsed name already satisfies the domain grammar.
        self.name().and_then(|name| DomainName::new(name).ok())
    }
}

fn parse_ipv4(name: &[u8]) -> Result<Host<'_>, InvalidHost> {
    std::str::from_utf8(name)
        .ok()
        .and_then(|text| text.parse::<Ipv4Addr>().ok())
        .map(|ip| Host::Ip(IpAddr::V4(ip)))
        .ok_or(InvalidHost(HostReason::BadIpv4))
}

fn parse_bracketed_ipv6(rest: &[u8]) -> Result<Host<'_>, InvalidHost> {
    let close = rest
        .iter()
        .position(|&byte| byte == b']')
        .ok_or(InvalidHost(HostReason::BadIpv6))?;
    let (literal, after) = rest.split_at(close);
    let after = after.get(1..).unwrap_or_default();
    match after.split_first() {
        None => {}
        Some((b':', port)) => check_port(port)?,
        Some(_) => return Err(InvalidHost(HostReason::BadIpv6)),
    }
    let text = std::str::from_utf8(literal).map_err(|_| InvalidHost(HostReason::BadIpv6))?;
    let ip: Ipv6Addr = text.parse().map_err(|_| InvalidHost(HostReason::BadIpv6))?;
    Ok(Host::Ip(IpAddr::V6(ip)))
}

/// A port is empty (RFC 3986 allows `host:`) or a decimal number up to 65535.
fn check_port(port: &[u8]) -> Result<(), InvalidHost> {
    let mut value = 0u32;
    for &byte in port {
        if !byte.is_ascii_digit() || value > 6_553 {
            return Err(InvalidHost(HostReason::BadPort));
        }
        value = value * 10 + u32::from(byte - b'0');
    }
    if value <= u32::from(u16::MAX) {
        Ok(())
    } else {
        Err(InvalidHost(HostReason::BadPort))
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Why a host is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostReason {
    Empty,
    TooLong,
    NotAscii,
    BadPort,
    BadIpv4,
    BadIpv6,
    Name(InvalidDomain),
    Repeated,
    Mismatch,
}

impl fmt::Display for HostReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty"),
            Self::TooLong => f.write_str("it is too long"),
            Self::NotAscii => f.write_str("it contains non-ASCII bytes"),
            Self::BadPort => f.write_str("the port is not a number"),
            Self::BadIpv4 => f.write_str("the IPv4 address is malformed"),
            Self::BadIpv6 => f.write_str("the IPv6 literal is malformed"),
            Self::Name(error) => write!(f, "{error}"),
            Self::Repeated => f.write_str("the request has more than one Host header"),
            Self::Mismatch => {
                f.write_str("the Host header and the request URI name different hosts")
            }
        }
    }
}

/// The error returned for a malformed, repeated or ambiguous host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid host: {0}")]
pub struct InvalidHost(pub(crate) HostReason);
