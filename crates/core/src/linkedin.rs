//! LinkedIn profile and company URLs.
//!
//! The same profile is written `linkedin.com/in/jane`, `https://www.linkedin.com/in/Jane/?utm_source=x`,
//! `http://uk.linkedin.com/in/jane` or with a percent-encoded slug. A
//! [`LinkedinUrl`] keeps one canonical spelling,
//! `https://www.linkedin.com/in/<slug>` or
//! `https://www.linkedin.com/company/<slug>`, slug decoded and lower case
//! (LinkedIn slugs are case-insensitive), no trailing slash. That string is
//! the dedupe key.
//!
//! Decisions:
//! * `/school/<slug>` and `/showcase/<slug>` pages are organisations: kind
//!   [`LinkedinKind::Company`], canonical path kept (`/school/<slug>`), since
//!   LinkedIn serves them under those paths.
//! * Old public profiles (`/pub/jane-doe/1a/2b3/4c5`) are rejected. LinkedIn
//!   redirects them to an `/in/` URL built from the member's id, and deriving
//!   it offline would sometimes give a different person's key; a wrong merge
//!   is worse than a rejected cell.
//! * Sales Navigator, Recruiter and Talent URLs are not public profiles and
//!   are rejected with a message saying so.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A person's profile or an organisation's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkedinKind {
    Person,
    Company,
}

/// A canonical LinkedIn profile or company URL.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkedinUrl {
    url: String,
    kind: LinkedinKind,
    slug_start: usize,
}

/// Why a string is not a LinkedIn profile or company URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkedinError {
    #[error("LinkedIn URL is empty")]
    Empty,
    #[error("'{0}' is not a LinkedIn address")]
    NotLinkedin(String),
    #[error("lnkd.in short links cannot be resolved offline; paste the full linkedin.com URL")]
    ShortLink,
    #[error(
        "Sales Navigator URLs are not public profiles; open the lead in LinkedIn and copy its linkedin.com/in/ URL"
    )]
    SalesNavigator,
    #[error(
        "LinkedIn {0} URLs are not public profiles; copy the person's linkedin.com/in/ URL instead"
    )]
    PrivateTool(&'static str),
    #[error(
        "old /pub/ profile URLs cannot be mapped to the current /in/ URL offline; open it and copy the /in/ URL it redirects to"
    )]
    OldPublicProfile,
    #[error(
        "LinkedIn member-id URLs (profile/view?id=...) are not public profile URLs; copy the /in/ URL instead"
    )]
    MemberId,
    #[error(
        "'{0}' is not a LinkedIn profile or company page (expected /in/<name> or /company/<name>)"
    )]
    NotAProfile(String),
    #[error("LinkedIn URL has no name after /in/ or /company/")]
    MissingSlug,
    #[error("LinkedIn profile name '{slug}' {reason}")]
    BadSlug { slug: String, reason: &'static str },
}

const BASE: &str = "https://www.linkedin.com/";

/// The longest slug accepted, in characters; LinkedIn's own limit is 100.
const MAX_SLUG: usize = 100;

impl LinkedinUrl {
    /// Parses a profile (`/in/<slug>`) or organisation (`/company/<slug>`,
    /// `/school/<slug>`, `/showcase/<slug>`) URL on `linkedin.com` or any of
    /// its country/mobile subdomains, with or without scheme, with any
    /// query, fragment or trailing path (`/about/`, `/details/...`).
    pub fn parse(raw: &str) -> Result<LinkedinUrl, LinkedinError> {
        let s = crate::text::trim(raw);
        if s.is_empty() {
            return Err(LinkedinError::Empty);
        }
        let rest = strip_scheme(s).ok_or_else(|| LinkedinError::NotLinkedin(s.to_owned()))?;
        let host_end = rest
            .bytes()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        let host = &rest[..host_end];
        let host = host
            .rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.eq_ignore_ascii_case("lnkd.in") {
            return Err(LinkedinError::ShortLink);
        }
        if !is_linkedin_host(host) {
            return Err(LinkedinError::NotLinkedin(if host.is_empty() {
                s.to_owned()
            } else {
                host.to_owned()
            }));
        }
        let after_host = &rest[host_end..];
        let path_end = after_host
            .bytes()
            .position(|b| matches!(b, b'?' | b'#'))
            .unwrap_or(after_host.len());
        let path = &after_host[..path_end];
        let mut segs = crate::text::split_ascii(path, b'/').filter(|p| !p.is_empty());
        let section = segs.next().unwrap_or("");
        let (kind, canonical_section) = match_section(section, after_host, path)?;
        let raw_slug = segs.next().ok_or(LinkedinError::MissingSlug)?;
        let mut url =
            String::with_capacity(BASE.len() + canonical_section.len() + 1 + raw_slug.len());
        url.push_str(BASE);
        url.push_str(canonical_section);
        url.push('/');
        let slug_start = url.len();
        push_slug(&mut url, raw_slug)?;
        Ok(LinkedinUrl {
            url,
            kind,
            slug_start,
        })
    }

    /// `https://www.linkedin.com/in/jane-doe-123`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn kind(&self) -> LinkedinKind {
        self.kind
    }

    /// The decoded, lower-case slug: `jane-doe-123`.
    pub fn slug(&self) -> &str {
        self.url.get(self.slug_start..).unwrap_or("")
    }
}

fn strip_scheme(s: &str) -> Option<&str> {
    for scheme in ["https://", "http://"] {
        if s.len() >= scheme.len()
            && s.as_bytes()[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
        {
            return Some(&s[scheme.len()..]);
        }
    }
    if crate::domain::find_scheme_separator(s).is_some() {
        return None;
    }
    Some(s.strip_prefix("//").unwrap_or(s))
}

/// `linkedin.com`, `www.linkedin.com`, and one-label subdomains such as
/// `uk.linkedin.com`, `de.linkedin.com`, `mobile.linkedin.com`.
fn is_linkedin_host(host: &str) -> bool {
    const APEX: &str = "linkedin.com";
    if host.eq_ignore_ascii_case(APEX) {
        return true;
    }
    let Some(sub_len) = host.len().checked_sub(APEX.len() + 1) else {
        return false;
    };
    let (sub, apex) = host.as_bytes().split_at(sub_len);
    apex[0] == b'.'
        && apex[1..].eq_ignore_ascii_case(APEX.as_bytes())
        && !sub.is_empty()
        && sub.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

fn match_section(
    section: &str,
    after_host: &str,
    path: &str,
) -> Result<(LinkedinKind, &'static str), LinkedinError> {
    let is = |name: &str| section.eq_ignore_ascii_case(name);
    if is("in") {
        Ok((LinkedinKind::Person, "in"))
    } else if is("company") {
        Ok((LinkedinKind::Company, "company"))
    } else if is("school") {
        Ok((LinkedinKind::Company, "school"))
    } else if is("showcase") {
        Ok((LinkedinKind::Company, "showcase"))
    } else if is("pub") {
        Err(LinkedinError::OldPublicProfile)
    } else if is("sales") {
        Err(LinkedinError::SalesNavigator)
    } else if is("talent") {
        Err(LinkedinError::PrivateTool("Talent"))
    } else if is("recruiter") {
        Err(LinkedinError::PrivateTool("Recruiter"))
    } else if is("profile") {
        Err(LinkedinError::MemberId)
    } else if section.is_empty() {
        Err(LinkedinError::MissingSlug)
    } else {
        let shown = if path.is_empty() { after_host } else { path };
        Err(LinkedinError::NotAProfile(shown.to_owned()))
    }
}

/// Percent-decodes, lower-cases and checks a slug, appending it to `url`.
/// Slugs keep letters (any script), digits and `-_.~&'+`; a slug that
/// decodes to something else is rejected rather than guessed at.
fn push_slug(url: &mut String, raw: &str) -> Result<(), LinkedinError> {
    let bad = |reason: &'static str| LinkedinError::BadSlug {
        slug: raw.to_owned(),
        reason,
    };
    let decoded: std::borrow::Cow<'_, str> = if raw.contains('%') {
        let mut bytes = Vec::with_capacity(raw.len());
        let b = raw.as_bytes();
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            if c == b'%' {
                let hex = b
                    .get(i + 1..i + 3)
                    .ok_or_else(|| bad("has a broken %-escape"))?;
                let hi = hex_val(hex[0]).ok_or_else(|| bad("has a broken %-escape"))?;
                let lo = hex_val(hex[1]).ok_or_else(|| bad("has a broken %-escape"))?;
                bytes.push(hi << 4 | lo);
                i += 3;
            } else {
                bytes.push(c);
                i += 1;
            }
        }
        String::from_utf8(bytes)
            .map_err(|_| bad("is not valid UTF-8 after %-decoding"))?
            .into()
    } else {
        raw.into()
    };
    let start = url.len();
    let is_slug_byte = |b: u8| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'&' | b'\'' | b'+')
    };
    if decoded.bytes().all(is_slug_byte) {
        // The usual slug: ASCII, one byte per character, lower-cased in place.
        if decoded.len() > MAX_SLUG {
            return Err(bad("is longer than LinkedIn allows (100 characters)"));
        }
        url.push_str(&decoded);
        if let Some(slug) = url.get_mut(start..) {
            slug.make_ascii_lowercase();
        }
        return if url.len() == start {
            Err(LinkedinError::MissingSlug)
        } else {
            Ok(())
        };
    }
    let mut count = 0usize;
    for c in decoded.chars() {
        count += 1;
        if c.is_ascii() {
            if is_slug_byte(c as u8) {
                url.push(c.to_ascii_lowercase());
            } else {
                return Err(bad("contains a character LinkedIn names do not use"));
            }
        } else if c.is_alphanumeric() {
            for lc in c.to_lowercase() {
                if lc.is_alphanumeric() {
                    url.push(lc);
                } else {
                    return Err(bad("contains a character LinkedIn names do not use"));
                }
            }
        } else {
            return Err(bad("contains a character LinkedIn names do not use"));
        }
    }
    if count > MAX_SLUG {
        return Err(bad("is longer than LinkedIn allows (100 characters)"));
    }
    if url.len() == start {
        return Err(LinkedinError::MissingSlug);
    }
    Ok(())
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl fmt::Debug for LinkedinUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LinkedinUrl").field(&self.url).finish()
    }
}

impl fmt::Display for LinkedinUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl Serialize for LinkedinUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.url)
    }
}

impl<'de> Deserialize<'de> for LinkedinUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LinkedinUrl, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        LinkedinUrl::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for LinkedinUrl {
    type Err = LinkedinError;
    fn from_str(s: &str) -> Result<LinkedinUrl, LinkedinError> {
        LinkedinUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> LinkedinUrl {
        LinkedinUrl::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn people() {
        for raw in [
            "linkedin.com/in/jane-doe-123",
            "https://www.linkedin.com/in/Jane-Doe-123/?utm_source=share",
            "HTTPS://WWW.LINKEDIN.COM/IN/JANE-DOE-123",
            "http://uk.linkedin.com/in/jane-doe-123",
            "www.linkedin.com/in/jane-doe-123/details/experience/",
            "https://linkedin.com/in/jane-doe-123#about",
            "  https://www.linkedin.com/in/jane%2Ddoe%2D123  ",
        ] {
            let u = ok(raw);
            assert_eq!(
                u.as_str(),
                "https://www.linkedin.com/in/jane-doe-123",
                "{raw}"
            );
            assert_eq!(u.kind(), LinkedinKind::Person);
            assert_eq!(u.slug(), "jane-doe-123");
        }
        assert_eq!(
            ok("linkedin.com/in/j%C3%BCrgen-m%C3%BCller").slug(),
            "jürgen-müller"
        );
        assert_eq!(ok("linkedin.com/in/J%C3%9CRGEN").slug(), "jürgen");
    }

    #[test]
    fn companies() {
        let u = ok("https://www.linkedin.com/company/acme-inc/about/");
        assert_eq!(u.as_str(), "https://www.linkedin.com/company/acme-inc");
        assert_eq!((u.kind(), u.slug()), (LinkedinKind::Company, "acme-inc"));
        assert_eq!(ok("linkedin.com/company/1035").slug(), "1035");
        let s = ok("https://www.linkedin.com/school/stanford-university/");
        assert_eq!(
            s.as_str(),
            "https://www.linkedin.com/school/stanford-university"
        );
        assert_eq!(s.kind(), LinkedinKind::Company);
        assert_eq!(
            ok("linkedin.com/showcase/acme-cloud").kind(),
            LinkedinKind::Company
        );
    }

    #[test]
    fn rejections() {
        let cases: &[(&str, LinkedinError)] = &[
            ("", LinkedinError::Empty),
            (
                "https://www.linkedin.com/sales/lead/ACwAAA123,NAME_SEARCH",
                LinkedinError::SalesNavigator,
            ),
            (
                "https://www.linkedin.com/sales/people/ACwAAA123",
                LinkedinError::SalesNavigator,
            ),
            (
                "https://www.linkedin.com/talent/profile/AEMAA",
                LinkedinError::PrivateTool("Talent"),
            ),
            (
                "linkedin.com/pub/jane-doe/1a/2b3/4c5",
                LinkedinError::OldPublicProfile,
            ),
            (
                "https://www.linkedin.com/profile/view?id=123",
                LinkedinError::MemberId,
            ),
            ("https://lnkd.in/abc", LinkedinError::ShortLink),
            ("https://www.linkedin.com/in/", LinkedinError::MissingSlug),
            ("https://www.linkedin.com/", LinkedinError::MissingSlug),
            (
                "https://example.com/in/jane",
                LinkedinError::NotLinkedin("example.com".into()),
            ),
            (
                "https://notlinkedin.com/in/jane",
                LinkedinError::NotLinkedin("notlinkedin.com".into()),
            ),
            (
                "ftp://linkedin.com/in/jane",
                LinkedinError::NotLinkedin("ftp://linkedin.com/in/jane".into()),
            ),
            (
                "https://www.linkedin.com/feed/",
                LinkedinError::NotAProfile("/feed/".into()),
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(LinkedinUrl::parse(raw).as_ref(), Err(want), "{raw}");
        }
        assert!(matches!(
            LinkedinUrl::parse("linkedin.com/in/jane%zz"),
            Err(LinkedinError::BadSlug { .. })
        ));
        assert!(matches!(
            LinkedinUrl::parse("linkedin.com/in/jane%ff"),
            Err(LinkedinError::BadSlug { .. })
        ));
        assert!(matches!(
            LinkedinUrl::parse("linkedin.com/in/jane%20doe"),
            Err(LinkedinError::BadSlug { .. })
        ));
        assert!(matches!(
            LinkedinUrl::parse("linkedin.com/in/jane%2Fdoe"),
            Err(LinkedinError::BadSlug { .. })
        ));
        // The limit counts characters, on the ASCII path and the other.
        for (slug, ok) in [
            ("A".repeat(100), true),
            ("a".repeat(101), false),
            ("é".repeat(100), true),
            ("é".repeat(101), false),
        ] {
            let got = LinkedinUrl::parse(&format!("linkedin.com/in/{slug}"));
            assert_eq!(
                got.is_ok(),
                ok,
                "{} characters: {got:?}",
                slug.chars().count()
            );
        }
        assert!(
            LinkedinError::SalesNavigator
                .to_string()
                .contains("not public profiles")
        );
    }

    #[test]
    fn idempotent_and_serde() {
        for raw in [
            "linkedin.com/in/J%C3%9CRGEN",
            "https://www.linkedin.com/company/Acme/",
            "linkedin.com/school/mit",
        ] {
            let u = ok(raw);
            assert_eq!(LinkedinUrl::parse(u.as_str()), Ok(u.clone()));
            let json = serde_json::to_string(&u).unwrap();
            assert_eq!(json, format!("\"{u}\""));
            let back: LinkedinUrl = serde_json::from_str(&json).unwrap();
            assert_eq!(back, u);
        }
    }
}
