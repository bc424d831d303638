//! Company domains: the registrable domain (eTLD+1) of whatever the row
//! gives, be it a URL, a bare host or an email address.
//!
//! `https://www.Acme.co.uk/about`, `acme.co.uk.`, `jane@acme.co.uk` and
//! `ACME.CO.UK` are all the company `acme.co.uk`, so [`Domain`] keeps only
//! that. The public suffix list (the `psl` crate, ICANN and private
//! sections) decides where the registrable part starts, so `acme.co.uk`
//! keeps three labels and `acme.github.io` keeps the user's subdomain.
//!
//! This module also owns host-name syntax ([`push_normalized_host`]), which email
//! parsing shares: lower case, one trailing dot removed, IDN to punycode,
//! labels of letters, digits and inner hyphens.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::split_ascii;

/// A registrable domain (`acme.co.uk`), lower case ASCII (punycode for
/// international names), with a suffix on the public suffix list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

/// What is wrong with a host name. Shown after the host, as in
/// "domain 'foo' has no dot ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("is empty")]
    Empty,
    #[error("is {0} characters long; at most 253 are allowed")]
    TooLong(usize),
    #[error("has an empty part between dots")]
    EmptyLabel,
    #[error("has a part longer than 63 characters")]
    LabelTooLong,
    #[error("contains '{0}', which is not allowed in a domain name")]
    BadChar(char),
    #[error("has a part that starts or ends with a hyphen")]
    Hyphen,
    #[error("has no dot (a domain needs a name and a top-level domain, like acme.com)")]
    OneLabel,
    #[error("ends in a number, which is not a top-level domain")]
    NumericTld,
    #[error("is not a valid international domain name")]
    Idna,
}

/// Why a string gives no company domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("domain is empty")]
    Empty,
    #[error("'{0}' is an IP address, not a domain name")]
    IpAddress(String),
    #[error("'{0}' is a local host name, not a public domain")]
    Localhost(String),
    #[error("domain '{host}' {reason}")]
    Host { host: String, reason: HostError },
    #[error("domain '{0}' has no public suffix (its ending is not a known top-level domain)")]
    NoPublicSuffix(String),
    #[error("'{0}' is a public suffix (like co.uk), not a company's domain")]
    IsPublicSuffix(String),
}

impl Domain {
    /// Reads a company domain from a URL (`https://www.Acme.co.uk/about`,
    /// with any scheme, user info, port, path, query), a bare host
    /// (`www.acme.com`, `acme.com.`), an IDN host (`bücher.de` →
    /// `xn--bcher-kva.de`) or an email address (`jane@acme.com`).
    pub fn parse(raw: &str) -> Result<Domain, DomainError> {
        let mut buf = String::new();
        let start = {
            let host = host_into(raw, &mut buf)?;
            let Some(reg) = psl::domain(host.as_bytes()) else {
                return Err(DomainError::IsPublicSuffix(host.to_owned()));
            };
            if !reg.suffix().is_known() {
                return Err(DomainError::NoPublicSuffix(host.to_owned()));
            }
            // The registrable domain is a suffix of the host.
            host.len().saturating_sub(reg.as_bytes().len())
        };
        if !buf.is_char_boundary(start) {
            return Err(DomainError::NoPublicSuffix(buf));
        }
        buf.drain(..start);
        Ok(Domain(buf))
    }

    /// `acme.co.uk`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The full host of a URL, host, or email address, normalized (lower case,
/// punycode, no trailing dot): `https://WWW.Acme.co.uk:8080/x` →
/// `www.acme.co.uk`. `None` when there is no valid public host in it.
pub fn host_of(raw: &str) -> Option<String> {
    let mut buf = String::new();
    host_into(raw, &mut buf).ok()?;
    Some(buf)
}

/// Finds the host in `raw`, checks it is a name (not an IP address or
/// localhost) and writes it normalized into `buf`.
fn host_into<'b>(raw: &str, buf: &'b mut String) -> Result<&'b str, DomainError> {
    let s = crate::text::trim(raw);
    if s.is_empty() {
        return Err(DomainError::Empty);
    }
    let rest = match find_scheme_separator(s) {
        Some(i)
            if s[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            &s[i + 3..]
        }
        _ => s.strip_prefix("//").unwrap_or(s),
    };
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    // User info (`user:pw@host`) or an email address: the host follows the last @.
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.starts_with('[') {
        return Err(DomainError::IpAddress(hostport.to_owned()));
    }
    let host = match hostport.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    };
    let bare = host.strip_suffix('.').unwrap_or(host);
    // Digits and dots only: every IPv4 address, and nothing that is a name.
    if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(DomainError::IpAddress(host.to_owned()));
    }
    if bare.eq_ignore_ascii_case("localhost") || ends_with_ignore_case(bare, ".localhost") {
        return Err(DomainError::Localhost(host.to_owned()));
    }
    if host.is_empty() {
        return Err(DomainError::Empty);
    }
    buf.clear();
    push_normalized_host(host, buf).map_err(|reason| DomainError::Host {
        host: host.to_owned(),
        reason,
    })?;
    Ok(buf.as_str())
}

/// Where the first `://` in `s` starts. Looked for from its colons: most
/// cells have none, and a substring search pays to set itself up.
pub(crate) fn find_scheme_separator(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s.get(from..)?.find(':') {
        let at = from + i;
        if s.get(at..)?.starts_with("://") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// Appends a host name to `out`, normalized: one trailing dot removed,
/// ASCII lower case, international names to punycode (UTS #46 via `idna`,
/// which also validates existing `xn--` labels), then checked: at most 253
/// characters, labels of 1 to 63 letters, digits and inner hyphens, at least
/// two labels, a top-level domain that is not all digits. Appending lets
/// an email write its domain straight after the `@`. On error `out` is left
/// as it was.
pub(crate) fn push_normalized_host(raw: &str, out: &mut String) -> Result<(), HostError> {
    let h = raw.strip_suffix('.').unwrap_or(raw);
    if h.is_empty() {
        return Err(HostError::Empty);
    }
    let start = out.len();
    if !h.is_ascii() || has_punycode_label(h) {
        let ascii: Cow<'_, str> =
            idna::domain_to_ascii_cow(h.as_bytes(), idna::AsciiDenyList::EMPTY)
                .map_err(|_| HostError::Idna)?;
        // A trailing full-width dot maps to '.', so strip once more.
        out.push_str(ascii.strip_suffix('.').unwrap_or(&ascii));
    } else {
        out.push_str(h);
        if let Some(tail) = out.get_mut(start..) {
            tail.make_ascii_lowercase();
        }
    }
    let checked = out.get(start..).map_or(Err(HostError::Empty), check_ldh);
    if checked.is_err() {
        out.truncate(start);
    }
    checked
}

fn has_punycode_label(h: &str) -> bool {
    // Every `xn--` label has a hyphen; most hosts have none.
    h.bytes().any(|b| b == b'-')
        && split_ascii(h, b'.')
            .any(|l| l.len() >= 4 && l.as_bytes()[..4].eq_ignore_ascii_case(b"xn--"))
}

fn check_ldh(host: &str) -> Result<(), HostError> {
    if host.is_empty() {
        return Err(HostError::Empty);
    }
    if host.len() > 253 {
        return Err(HostError::TooLong(host.len()));
    }
    let mut labels = 0usize;
    let mut last = "";
    for label in split_ascii(host, b'.') {
        labels += 1;
        last = label;
        let b = label.as_bytes();
        if b.is_empty() {
            return Err(HostError::EmptyLabel);
        }
        if b.len() > 63 {
            return Err(HostError::LabelTooLong);
        }
        if let Some(&c) = b
            .iter()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || **c == b'-'))
        {
            // Report the character as the user wrote it where we can.
            let ch = label
                .chars()
                .find(|ch| !(ch.is_ascii_lowercase() || ch.is_ascii_digit() || *ch == '-'));
            return Err(HostError::BadChar(ch.unwrap_or(char::from(c))));
        }
        if b[0] == b'-' || b[b.len() - 1] == b'-' {
            return Err(HostError::Hyphen);
        }
    }
    if labels < 2 {
        return Err(HostError::OneLabel);
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostError::NumericTld);
    }
    Ok(())
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Domain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Domain, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        Domain::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Domain {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Domain, DomainError> {
        Domain::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn scheme_separator_is_the_first_colon_slash_slash(s in "[:/aé]{0,10}") {
            proptest::prop_assert_eq!(find_scheme_separator(&s), s.find("://"));
        }
    }

    fn d(raw: &str) -> String {
        Domain::parse(raw)
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
            .to_string()
    }

    #[test]
    fn registrable_domains() {
        assert_eq!(d("https://www.Acme.co.uk/about"), "acme.co.uk");
        assert_eq!(d("www.acme.com"), "acme.com");
        assert_eq!(d("acme.com"), "acme.com");
        assert_eq!(d("ACME.COM."), "acme.com");
        assert_eq!(
            d("  http://user:pw@shop.acme.com:8080/x?y=1#z "),
            "acme.com"
        );
        assert_eq!(d("jane@acme.com"), "acme.com");
        assert_eq!(d("mailto:jane@Sales.Acme.io"), "acme.io");
        assert_eq!(d("bücher.de"), "xn--bcher-kva.de");
        assert_eq!(d("https://www.bücher.de/"), "xn--bcher-kva.de");
        assert_eq!(d("xn--bcher-kva.de"), "xn--bcher-kva.de");
        assert_eq!(d("//cdn.acme.com/x.js"), "acme.com");
        assert_eq!(d("acme.com?ref=x"), "acme.com");
        assert_eq!(d("acme.github.io"), "acme.github.io");
        assert_eq!(d("a.b.c.acme.com.au"), "acme.com.au");
    }

    #[test]
    fn rejects_non_domains() {
        assert_eq!(Domain::parse(""), Err(DomainError::Empty));
        assert!(matches!(
            Domain::parse("http://1.2.3.4/x"),
            Err(DomainError::IpAddress(_))
        ));
        assert!(matches!(
            Domain::parse("http://[::1]:80/"),
            Err(DomainError::IpAddress(_))
        ));
        assert!(matches!(
            Domain::parse("localhost"),
            Err(DomainError::Localhost(_))
        ));
        assert!(matches!(
            Domain::parse("http://localhost:3000"),
            Err(DomainError::Localhost(_))
        ));
        assert!(matches!(
            Domain::parse("co.uk"),
            Err(DomainError::IsPublicSuffix(_))
        ));
        assert!(matches!(
            Domain::parse("com"),
            Err(DomainError::Host {
                reason: HostError::OneLabel,
                ..
            })
        ));
        let e = Domain::parse("foo.notarealtld").unwrap_err();
        assert_eq!(
            e.to_string(),
            "domain 'foo.notarealtld' has no public suffix (its ending is not a known top-level domain)"
        );
        let e = Domain::parse("foo").unwrap_err();
        assert!(e.to_string().starts_with("domain 'foo' has no dot"), "{e}");
        assert!(matches!(
            Domain::parse("not a domain"),
            Err(DomainError::Host {
                reason: HostError::BadChar(' '),
                ..
            })
        ));
        assert!(matches!(
            Domain::parse("-acme.com"),
            Err(DomainError::Host {
                reason: HostError::Hyphen,
                ..
            })
        ));
        assert!(matches!(
            Domain::parse("acme..com"),
            Err(DomainError::Host {
                reason: HostError::EmptyLabel,
                ..
            })
        ));
        assert!(matches!(
            Domain::parse("xn--zz.com"),
            Err(DomainError::Host {
                reason: HostError::Idna,
                ..
            })
        ));
        assert!(matches!(
            Domain::parse("https:///path"),
            Err(DomainError::Empty)
        ));
    }

    #[test]
    fn host_of_keeps_subdomains() {
        assert_eq!(
            host_of("https://WWW.Acme.co.uk:8080/x").as_deref(),
            Some("www.acme.co.uk")
        );
        assert_eq!(host_of("garbage host"), None);
    }

    #[test]
    fn idempotent_and_serde() {
        for raw in [
            "https://www.Acme.co.uk/about",
            "bücher.de",
            "acme.github.io",
        ] {
            let a = Domain::parse(raw).unwrap();
            assert_eq!(Domain::parse(a.as_str()), Ok(a.clone()));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{a}\""));
            let back: Domain = serde_json::from_str(&json).unwrap();
            assert_eq!(back, a);
        }
    }
}
