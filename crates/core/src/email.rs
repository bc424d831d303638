//! Email addresses.
//!
//! Lead files hold addresses in every wrapping: `mailto:` links, `Jane Doe
//! <jane@acme.com>`, trailing spaces, upper-case domains. [`Email::parse`]
//! unwraps those, checks the address against RFC 5321/5322 (dot-atom or
//! quoted local part, with UTF-8 local parts per RFC 6531) and stores one
//! canonical spelling: local part as written (mail servers may treat its
//! case as significant), domain lower case and in punycode.
//!
//! Identity is a different question from validity: `Jane.Doe+news@Gmail.com`
//! and `janedoe@googlemail.com` reach the same inbox. [`Email::dedupe_key`]
//! answers that one.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::{HostError, push_normalized_host};

/// A syntactically valid email address in canonical form `local@domain`.
///
/// One `String` holds the address; `at` is the index of the `@` that
/// separates local part and domain.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email {
    addr: String,
    at: usize,
}

/// Why a string is not an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email is empty")]
    Empty,
    #[error("email has no @")]
    NoAt,
    #[error("email has more than one @ (only a quoted local part may contain one)")]
    MultipleAt,
    #[error("email contains a space")]
    Space,
    #[error("email has nothing before the @")]
    EmptyLocal,
    #[error("email has nothing after the @")]
    EmptyDomain,
    #[error("the part before the @ is {0} bytes long; at most 64 are allowed")]
    LocalTooLong(usize),
    #[error("email is {0} bytes long; at most 254 are allowed")]
    TooLong(usize),
    #[error("the part before the @ starts or ends with a dot, or has two dots in a row")]
    Dots,
    #[error(
        "email contains '{0}', which is not allowed before the @ unless that part is in quotes"
    )]
    LocalChar(char),
    #[error("email contains the control character U+{0:04X}")]
    Control(u32),
    #[error("email has an opening quote with no closing quote")]
    UnclosedQuote,
    #[error("email has text between the closing quote and the @")]
    AfterQuote,
    #[error("email domain '{domain}' {reason}")]
    Domain { domain: String, reason: HostError },
    #[error(
        "email domain '{0}' is not a valid IP address literal (expected [1.2.3.4] or [IPv6:...])"
    )]
    IpLiteral(String),
}

/// The address inside `mailto:…?query` and `Name <addr>` wrappers, trimmed.
pub fn unwrap_address(raw: &str) -> &str {
    let mut s = crate::text::trim(raw);
    if s.len() >= 7 && s.as_bytes()[..7].eq_ignore_ascii_case(b"mailto:") {
        s = &s[7..];
        if let Some(q) = s.find('?') {
            s = &s[..q];
        }
        s = s.trim();
    }
    if let Some(inner) = s.strip_suffix('>')
        && let Some(lt) = inner.rfind('<')
    {
        s = inner[lt + 1..].trim();
    }
    s
}

/// Characters besides letters and digits allowed in a dot-atom (RFC 5322 atext).
pub const fn is_atext_symbol(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'/'
            | b'='
            | b'?'
            | b'^'
            | b'_'
            | b'`'
            | b'{'
            | b'|'
            | b'}'
            | b'~'
    )
}

impl Email {
    /// Parses an address as found in a lead file.
    ///
    /// Accepts `jane@acme.com`, `  Jane@Acme.COM `, `mailto:jane@acme.com?subject=hi`,
    /// `Jane Doe <jane@acme.com>`, `"jane doe"@acme.com`, `jürgen@bücher.de`
    /// (stored as `jürgen@xn--bcher-kva.de`) and `jane@[192.0.2.1]`.
    pub fn parse(raw: &str) -> Result<Email, EmailError> {
        let s = unwrap_address(raw);
        if s.is_empty() {
            return Err(EmailError::Empty);
        }

        let mut addr = String::with_capacity(s.len());
        let domain_raw = if s.starts_with('"') {
            let (quoted_end, content) = scan_quoted(s)?;
            let after = &s[quoted_end..];
            let domain = after.strip_prefix('@').ok_or(if after.is_empty() {
                EmailError::NoAt
            } else {
                EmailError::AfterQuote
            })?;
            push_quoted_local(&mut addr, &content);
            domain
        } else {
            let at = s.find('@').ok_or(EmailError::NoAt)?;
            let (local, domain) = (&s[..at], &s[at + 1..]);
            if domain.contains('@') {
                return Err(EmailError::MultipleAt);
            }
            check_dot_atom_local(local)?;
            addr.push_str(local);
            domain
        };
        if addr.len() > 64 {
            return Err(EmailError::LocalTooLong(addr.len()));
        }
        let at = addr.len();
        addr.push('@');
        push_domain(&mut addr, domain_raw)?;
        if addr.len() > 254 {
            return Err(EmailError::TooLong(addr.len()));
        }
        Ok(Email { addr, at })
    }

    /// The canonical address, `local@domain`.
    pub fn as_str(&self) -> &str {
        &self.addr
    }

    /// The part before the `@`, as written (quoted if it needs quotes).
    pub fn local(&self) -> &str {
        self.addr.get(..self.at).unwrap_or("")
    }

    /// The part after the `@`: lower case, punycode, or an IP literal.
    pub fn domain(&self) -> &str {
        self.addr.get(self.at + 1..).unwrap_or("")
    }

    /// The identity of the mailbox, for dedupe: the whole address lower
    /// case, a `+tag` removed from the local part, and for Gmail
    /// (`gmail.com`, `googlemail.com`) the dots removed from the local part
    /// and the domain folded to `gmail.com`, because Gmail ignores them.
    /// `Jane.Doe+news@GoogleMail.com` → `janedoe@gmail.com`.
    pub fn dedupe_key(&self) -> String {
        let mut buf = String::with_capacity(self.addr.len());
        self.dedupe_key_into(&mut buf);
        buf
    }

    /// [`Email::dedupe_key`] into a reused buffer (cleared first), so a hot
    /// loop allocates nothing.
    pub fn dedupe_key_into(&self, buf: &mut String) {
        buf.clear();
        let local = self.local();
        let domain = self.domain();
        if local.starts_with('"') {
            // Quoted local parts carry no tag or dot conventions.
            push_lower(buf, local);
        } else {
            let gmail = domain == "gmail.com" || domain == "googlemail.com";
            let base = match local.find('+') {
                Some(i) if i > 0 => &local[..i],
                _ => local,
            };
            if base.is_ascii() {
                if gmail {
                    base.split('.').for_each(|part| buf.push_str(part));
                } else {
                    buf.push_str(base);
                }
                buf.make_ascii_lowercase();
            } else {
                for c in base.chars().filter(|&c| !(gmail && c == '.')) {
                    push_lower_char(buf, c);
                }
            }
            // `a.+tag` leaves `a.`, which is no address; drop the dot.
            let kept = buf.trim_end_matches('.').len();
            buf.truncate(kept);
            if buf.is_empty() {
                push_lower(buf, local);
            }
        }
        buf.push('@');
        if domain == "googlemail.com" {
            buf.push_str("gmail.com");
        } else {
            // The domain is already lower case (IP literals keep `IPv6:`).
            buf.push_str(domain);
        }
    }
}

fn push_lower(buf: &mut String, s: &str) {
    if s.is_ascii() {
        buf.extend(s.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        for c in s.chars() {
            push_lower_char(buf, c);
        }
    }
}

/// `c` lower-cased; ASCII, most of any address, without the Unicode tables.
fn push_lower_char(buf: &mut String, c: char) {
    if c.is_ascii() {
        buf.push(c.to_ascii_lowercase());
    } else {
        buf.extend(c.to_lowercase());
    }
}

/// Checks an unquoted local part: dot-atom of atext, plus any non-ASCII
/// character except spaces and controls (RFC 6531).
fn check_dot_atom_local(local: &str) -> Result<(), EmailError> {
    if local.is_empty() {
        return Err(EmailError::EmptyLocal);
    }
    if local.len() > 64 {
        // Still report a space or a bad character first: it is the
        // likelier mistake ("name with spaces@x.com" is not a long local part).
        if local.contains(char::is_whitespace) {
            return Err(EmailError::Space);
        }
        return Err(EmailError::LocalTooLong(local.len()));
    }
    let b = local.as_bytes();
    if b[0] == b'.' || b[b.len() - 1] == b'.' || b.windows(2).any(|w| w == b"..") {
        if local.contains(char::is_whitespace) {
            return Err(EmailError::Space);
        }
        return Err(EmailError::Dots);
    }
    if local.is_ascii() {
        for &c in b {
            if !(c.is_ascii_alphanumeric() || c == b'.' || is_atext_symbol(c)) {
                return Err(bad_local_char(char::from(c)));
            }
        }
    } else {
        for c in local.chars() {
            let ok = if c.is_ascii() {
                c.is_ascii_alphanumeric() || c == '.' || is_atext_symbol(c as u8)
            } else {
                !c.is_whitespace() && !c.is_control()
            };
            if !ok {
                return Err(bad_local_char(c));
            }
        }
    }
    Ok(())
}

fn bad_local_char(c: char) -> EmailError {
    if c.is_whitespace() {
        EmailError::Space
    } else if c.is_control() {
        EmailError::Control(c as u32)
    } else {
        EmailError::LocalChar(c)
    }
}

/// Reads a quoted local part starting at `s[0] == '"'`. Returns the index
/// just past the closing quote and the unescaped content.
fn scan_quoted(s: &str) -> Result<(usize, String), EmailError> {
    let mut content = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((i + 1, content)),
            '\\' => match chars.next() {
                Some((_, e))
                    if e == ' '
                        || e == '\t'
                        || (e.is_ascii_graphic())
                        || !e.is_ascii() && !e.is_control() =>
                {
                    content.push(e)
                }
                Some((_, e)) => return Err(bad_quoted_char(e)),
                None => return Err(EmailError::UnclosedQuote),
            },
            c if c == ' '
                || c == '\t'
                || c.is_ascii_graphic()
                || (!c.is_ascii() && !c.is_control()) =>
            {
                content.push(c)
            }
            c => return Err(bad_quoted_char(c)),
        }
    }
    Err(EmailError::UnclosedQuote)
}

fn bad_quoted_char(c: char) -> EmailError {
    if c.is_control() {
        EmailError::Control(c as u32)
    } else {
        EmailError::LocalChar(c)
    }
}

/// Writes a quoted local part canonically: without quotes when the content
/// is a plain dot-atom (`"jane"` is `jane`), otherwise in quotes with only
/// `"` and `\` escaped.
fn push_quoted_local(addr: &mut String, content: &str) {
    if !content.is_empty() && check_dot_atom_local(content).is_ok() {
        addr.push_str(content);
        return;
    }
    addr.push('"');
    for c in content.chars() {
        if c == '"' || c == '\\' {
            addr.push('\\');
        }
        addr.push(c);
    }
    addr.push('"');
}

fn push_domain(addr: &mut String, domain: &str) -> Result<(), EmailError> {
    if domain.is_empty() {
        return Err(EmailError::EmptyDomain);
    }
    if let Some(inner) = domain.strip_prefix('[') {
        let lit = inner
            .strip_suffix(']')
            .ok_or_else(|| EmailError::IpLiteral(domain.to_owned()))?;
        if let Ok(v4) = lit.parse::<Ipv4Addr>() {
            use fmt::Write;
            let _ = write!(addr, "[{v4}]");
            return Ok(());
        }
        if lit.len() > 5
            && lit.as_bytes()[..5].eq_ignore_ascii_case(b"IPv6:")
            && let Ok(v6) = lit[5..].parse::<Ipv6Addr>()
        {
            use fmt::Write;
            let _ = write!(addr, "[IPv6:{v6}]");
            return Ok(());
        }
        return Err(EmailError::IpLiteral(domain.to_owned()));
    }
    push_normalized_host(domain, addr).map_err(|reason| match reason {
        HostError::BadChar(c) if c.is_whitespace() => EmailError::Space,
        reason => EmailError::Domain {
            domain: domain.to_owned(),
            reason,
        },
    })
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Email").field(&self.addr).finish()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.addr)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.addr)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Email, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Email::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Email, EmailError> {
        Email::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Email {
        Email::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(ok("jane@acme.com").as_str(), "jane@acme.com");
        assert_eq!(ok("  Jane.Doe@ACME.Com  ").as_str(), "Jane.Doe@acme.com");
        assert_eq!(
            ok("MAILTO:jane@acme.com?subject=Hello").as_str(),
            "jane@acme.com"
        );
        assert_eq!(ok("mailto: jane@acme.com").as_str(), "jane@acme.com");
        assert_eq!(ok("Jane Doe <jane@acme.com>").as_str(), "jane@acme.com");
        assert_eq!(
            ok("\"Doe, Jane\" <jane@acme.com>").as_str(),
            "jane@acme.com"
        );
        assert_eq!(ok("<jane@acme.com>").as_str(), "jane@acme.com");
        assert_eq!(ok("jane@acme.com.").as_str(), "jane@acme.com");
        assert_eq!(ok("jürgen@bücher.de").as_str(), "jürgen@xn--bcher-kva.de");
        assert_eq!(ok("jane@[192.0.2.1]").as_str(), "jane@[192.0.2.1]");
        assert_eq!(
            ok("jane@[ipv6:2001:DB8::1]").as_str(),
            "jane@[IPv6:2001:db8::1]"
        );
        assert_eq!(
            ok("\"jane doe\"@acme.com").as_str(),
            "\"jane doe\"@acme.com"
        );
        assert_eq!(ok("\"jane\"@acme.com").as_str(), "jane@acme.com");
        assert_eq!(ok("\"a\\\"b\"@acme.com").as_str(), "\"a\\\"b\"@acme.com");
        assert_eq!(ok("\"a@b\"@acme.com").as_str(), "\"a@b\"@acme.com");
        assert_eq!(
            ok("o'brien+sales@acme.co.uk").as_str(),
            "o'brien+sales@acme.co.uk"
        );
        assert_eq!(
            ok("user@xn--bcher-kva.de").as_str(),
            "user@xn--bcher-kva.de"
        );
        let e = ok("Jane.Doe@Acme.com");
        assert_eq!((e.local(), e.domain()), ("Jane.Doe", "acme.com"));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let cases: &[(&str, EmailError)] = &[
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("mailto:", EmailError::Empty),
            ("jane.acme.com", EmailError::NoAt),
            ("jane@doe@acme.com", EmailError::MultipleAt),
            ("jane doe@acme.com", EmailError::Space),
            ("jane@acme .com", EmailError::Space),
            ("@acme.com", EmailError::EmptyLocal),
            ("jane@", EmailError::EmptyDomain),
            (".jane@acme.com", EmailError::Dots),
            ("jane.@acme.com", EmailError::Dots),
            ("ja..ne@acme.com", EmailError::Dots),
            ("ja(ne@acme.com", EmailError::LocalChar('(')),
            ("jane,doe@acme.com", EmailError::LocalChar(',')),
            ("\"jane@acme.com", EmailError::UnclosedQuote),
            ("\"jane\"x@acme.com", EmailError::AfterQuote),
            ("jane@[1.2.3]", EmailError::IpLiteral("[1.2.3]".into())),
            ("ja\u{7}ne@acme.com", EmailError::Control(7)),
        ];
        for (raw, want) in cases {
            assert_eq!(Email::parse(raw).as_ref(), Err(want), "{raw:?}");
        }
        assert_eq!(
            Email::parse(&format!("{}@acme.com", "a".repeat(65))),
            Err(EmailError::LocalTooLong(65))
        );
        let long = format!(
            "{}@{}.com",
            "a".repeat(60),
            ["b".repeat(60).as_str(); 4].join(".")
        );
        assert!(matches!(Email::parse(&long), Err(EmailError::TooLong(_))));
        let e = Email::parse("jane@acme").unwrap_err();
        assert_eq!(
            e.to_string(),
            "email domain 'acme' has no dot (a domain needs a name and a top-level domain, like acme.com)"
        );
        assert!(matches!(
            Email::parse("jane@acme.123"),
            Err(EmailError::Domain {
                reason: HostError::NumericTld,
                ..
            })
        ));
        assert!(matches!(
            Email::parse("jane@-acme.com"),
            Err(EmailError::Domain {
                reason: HostError::Hyphen,
                ..
            })
        ));
        assert!(matches!(
            Email::parse("jane@acme_corp.com"),
            Err(EmailError::Domain {
                reason: HostError::BadChar('_'),
                ..
            })
        ));
        assert!(matches!(
            Email::parse(&format!("jane@{}.com", "a".repeat(64))),
            Err(EmailError::Domain {
                reason: HostError::LabelTooLong,
                ..
            })
        ));
        assert_eq!(EmailError::NoAt.to_string(), "email has no @");
    }

    #[test]
    fn dedupe_keys() {
        let key = |raw: &str| ok(raw).dedupe_key();
        assert_eq!(key("Jane.Doe+news@GoogleMail.com"), "janedoe@gmail.com");
        assert_eq!(key("j.a.n.e.doe@gmail.com"), "janedoe@gmail.com");
        assert_eq!(key("Jane.Doe+Sales@Acme.com"), "jane.doe@acme.com");
        assert_eq!(key("JANE.DOE@ACME.COM"), "jane.doe@acme.com");
        assert_eq!(key("+tag@acme.com"), "+tag@acme.com");
        assert_eq!(key("a.+x@acme.com"), "a@acme.com");
        assert_eq!(key("\"Jane Doe\"@acme.com"), "\"jane doe\"@acme.com");
        assert_eq!(key("JÜRGEN@bücher.de"), "jürgen@xn--bcher-kva.de");
        let mut buf = String::from("junk");
        ok("X+y@z.io").dedupe_key_into(&mut buf);
        assert_eq!(buf, "x@z.io");
    }

    #[test]
    fn idempotent_and_serde() {
        for raw in [
            "Jane Doe <Jane.Doe@ACME.com>",
            "\"a b\"@x.org",
            "jürgen@bücher.de",
            "x@[IPv6:::1]",
        ] {
            let e = ok(raw);
            assert_eq!(Email::parse(e.as_str()), Ok(e.clone()), "{raw}");
            let json = serde_json::to_string(&e).unwrap();
            let back: Email = serde_json::from_str(&json).unwrap();
            assert_eq!(back, e);
        }
    }
}
