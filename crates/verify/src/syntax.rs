//! Address syntax as real mail systems accept it (RFC 5321/5322, RFC 6531),
//! with a machine reason for every refusal and a suggestion where the
//! mistake is a known typo.
//!
//! Two paths. The fast path takes a plain ASCII `local@domain` (dot-atom
//! local part, LDH domain) in one pass over the bytes and borrows the input
//! when it is already canonical, so a clean list allocates nothing per
//! address. Everything else — wrappers (`mailto:`, `Name <…>`), quoted local
//! parts, UTF-8, IDN domains, IP literals and every invalid input — takes
//! the slow path, which first names the common list mistakes (missing `@`,
//! spaces, commas, stray dots) precisely, then hands the address to
//! `leadgen_core::email::Email::parse` for the RFC corner cases and the IDN
//! → punycode step, so the canonical spelling is the one the store uses.

use std::borrow::Cow;
use std::fmt;

use leadgen_core::domain::HostError;
use leadgen_core::email::{Email, EmailError};

/// Why an address is not valid, as a stable machine code (`reason` in the
/// JSON result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Empty,
    MissingAt,
    MultipleAt,
    ContainsSpace,
    ContainsComma,
    EmptyLocalPart,
    EmptyDomain,
    LocalPartTooLong,
    DomainTooLong,
    AddressTooLong,
    LeadingDot,
    TrailingDot,
    ConsecutiveDots,
    InvalidCharacter,
    ControlCharacter,
    UnclosedQuote,
    TextAfterQuote,
    InvalidDomain,
    DomainLabelTooLong,
    DomainHyphen,
    DomainWithoutDot,
    NumericTld,
    InvalidIpLiteral,
    InvalidIdn,
}

impl Reason {
    pub fn code(self) -> &'static str {
        use Reason::*;
        match self {
            Empty => "empty",
            MissingAt => "missing_at",
            MultipleAt => "multiple_at",
            ContainsSpace => "contains_space",
            ContainsComma => "contains_comma",
            EmptyLocalPart => "empty_local_part",
            EmptyDomain => "empty_domain",
            LocalPartTooLong => "local_part_too_long",
            DomainTooLong => "domain_too_long",
            AddressTooLong => "address_too_long",
            LeadingDot => "leading_dot",
            TrailingDot => "trailing_dot",
            ConsecutiveDots => "consecutive_dots",
            InvalidCharacter => "invalid_character",
            ControlCharacter => "control_character",
            UnclosedQuote => "unclosed_quote",
            TextAfterQuote => "text_after_quote",
            InvalidDomain => "invalid_domain",
            DomainLabelTooLong => "domain_label_too_long",
            DomainHyphen => "domain_hyphen",
            DomainWithoutDot => "domain_without_dot",
            NumericTld => "numeric_tld",
            InvalidIpLiteral => "invalid_ip_literal",
            InvalidIdn => "invalid_idn",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused address: the machine reason, a sentence for people, and a
/// corrected address when the mistake is an obvious one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub reason: Reason,
    pub message: String,
    pub suggestion: Option<String>,
}

impl SyntaxError {
    fn new(reason: Reason, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            reason,
            message: message.into(),
            suggestion: None,
        }
    }
}

/// A valid address in canonical form: local part as written (or minimally
/// quoted), domain lower case and punycode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address<'a> {
    normalized: Cow<'a, str>,
    at: usize,
}

impl<'a> Address<'a> {
    pub fn as_str(&self) -> &str {
        &self.normalized
    }
    pub fn local(&self) -> &str {
        self.normalized.get(..self.at).unwrap_or("")
    }
    pub fn domain(&self) -> &str {
        self.normalized.get(self.at + 1..).unwrap_or("")
    }
    /// `true` when the canonical form is the input itself (no allocation).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.normalized, Cow::Borrowed(_))
    }
    pub fn into_owned(self) -> Address<'static> {
        Address {
            normalized: Cow::Owned(self.normalized.into_owned()),
            at: self.at,
        }
    }
}

const LOCAL_MAX: usize = 64;
const DOMAIN_MAX: usize = 255;
const ADDRESS_MAX: usize = 254;

/// Byte classes for the fast path.
const ATEXT: u8 = 1; // letters, digits and RFC 5322 atext symbols
const LDH: u8 = 2; // lower-case letters, digits, hyphen
const UPPER: u8 = 4; // upper-case letters (domain needs lower-casing)

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 128 {
        let c = b as u8;
        let lower = c.is_ascii_lowercase();
        let upper = c.is_ascii_uppercase();
        let digit = c.is_ascii_digit();
        let sym = leadgen_core::email::is_atext_symbol(c);
        let mut v = 0;
        if lower || upper || digit || sym {
            v |= ATEXT;
        }
        if lower || digit || c == b'-' {
            v |= LDH;
        }
        if upper {
            v |= UPPER;
        }
        t[b] = v;
        b += 1;
    }
    t
};

/// Parses one address. Never panics, whatever the input.
pub fn parse(raw: &str) -> Result<Address<'_>, SyntaxError> {
    let s = raw.trim_ascii();
    match fast_path(s) {
        Some(Fast::Canonical(at)) => Ok(Address {
            normalized: Cow::Borrowed(s),
            at,
        }),
        Some(Fast::NeedsLowerDomain(at)) => {
            let mut owned = s.to_owned();
            if let Some(d) = owned.get_mut(at + 1..) {
                d.make_ascii_lowercase();
            }
            Ok(Address {
                normalized: Cow::Owned(owned),
                at,
            })
        }
        None => slow_path(raw),
    }
}

enum Fast {
    Canonical(usize),
    NeedsLowerDomain(usize),
}

/// A plain ASCII dot-atom address with an LDH domain, or `None` to leave
/// it to the slow path (which also produces every error).
#[inline]
fn fast_path(s: &str) -> Option<Fast> {
    let b = s.as_bytes();
    if b.len() > ADDRESS_MAX || b.is_empty() {
        return None;
    }
    // Local part.
    let mut i = 0;
    let mut prev_dot = true; // a leading dot is refused
    while i < b.len() {
        let c = b[i];
        if c == b'@' {
            break;
        }
        if c == b'.' {
            if prev_dot {
                return None;
            }
            prev_dot = true;
        } else if CLASS[c as usize] & ATEXT != 0 {
            prev_dot = false;
        } else {
            return None;
        }
        i += 1;
    }
    let at = i;
    if at == 0 || at >= b.len() || prev_dot || at > LOCAL_MAX {
        return None;
    }
    // Domain: labels of 1..=63 LDH bytes, no hyphen at either end, at
    // least two labels, a top-level label that is not all digits.
    let mut upper = false;
    let mut label_start = at + 1;
    let mut labels = 0;
    let mut tld_all_digits;
    let mut j = at + 1;
    loop {
        let end = j >= b.len();
        let c = if end { b'.' } else { b[j] };
        if c == b'.' {
            let len = j - label_start;
            if len == 0 || len > 63 || b[label_start] == b'-' || b[j - 1] == b'-' {
                return None;
            }
            labels += 1;
            tld_all_digits = b[label_start..j].iter().all(u8::is_ascii_digit);
            if end {
                break;
            }
            label_start = j + 1;
        } else {
            let k = CLASS[c as usize];
            if k & LDH != 0 {
            } else if k & UPPER != 0 {
                upper = true;
            } else {
                return None;
            }
        }
        j += 1;
    }
    // An `xn--` label needs IDNA validation: the slow path does it.
    if labels < 2 || tld_all_digits || has_punycode_label(&b[at + 1..]) {
        return None;
    }
    Some(if upper {
        Fast::NeedsLowerDomain(at)
    } else {
        Fast::Canonical(at)
    })
}

#[inline]
fn has_punycode_label(domain: &[u8]) -> bool {
    domain
        .windows(4)
        .enumerate()
        .any(|(i, w)| w.eq_ignore_ascii_case(b"xn--") && (i == 0 || domain[i - 1] == b'.'))
}

fn slow_path(raw: &str) -> Result<Address<'static>, SyntaxError> {
    let s = leadgen_core::email::unwrap_address(raw);
    if s.is_empty() {
        return Err(SyntaxError::new(Reason::Empty, "the address is empty"));
    }
    if !s.starts_with('"') {
        diagnose_unquoted(s)?;
    }
    let email = Email::parse(s).map_err(from_core)?;
    let at = email.local().len();
    Ok(Address {
        normalized: Cow::Owned(email.as_str().to_owned()),
        at,
    })
}

/// The list mistakes, named before the RFC check so the reason is the one
/// a person would give.
fn diagnose_unquoted(s: &str) -> Result<(), SyntaxError> {
    if s.contains(',') {
        let mut e = SyntaxError::new(
            Reason::ContainsComma,
            "the address contains a comma (a list of addresses, or a comma typed for a dot)",
        );
        e.suggestion = comma_fix(s);
        return Err(e);
    }
    if s.contains(char::is_whitespace) {
        let mut e = SyntaxError::new(Reason::ContainsSpace, "the address contains a space");
        let joined: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        e.suggestion = Email::parse(&joined).ok().map(|e| e.as_str().to_owned());
        return Err(e);
    }
    let Some(at) = s.rfind('@') else {
        return Err(SyntaxError::new(
            Reason::MissingAt,
            "the address has no @ between the mailbox and the domain",
        ));
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.contains('@') {
        return Err(SyntaxError::new(
            Reason::MultipleAt,
            "the address has more than one @ (only a quoted local part may contain one)",
        ));
    }
    if local.is_empty() {
        return Err(SyntaxError::new(
            Reason::EmptyLocalPart,
            "the address has nothing before the @",
        ));
    }
    if domain.is_empty() {
        return Err(SyntaxError::new(
            Reason::EmptyDomain,
            "the address has nothing after the @",
        ));
    }
    dots(local, "mailbox (before the @)", s, at)?;
    if local.len() > LOCAL_MAX {
        return Err(SyntaxError::new(
            Reason::LocalPartTooLong,
            format!(
                "the part before the @ is {} bytes long; at most {LOCAL_MAX} are allowed",
                local.len()
            ),
        ));
    }
    if !domain.starts_with('[') {
        dots(domain, "domain", s, at)?;
        if domain.len() > DOMAIN_MAX {
            return Err(SyntaxError::new(
                Reason::DomainTooLong,
                format!(
                    "the domain is {} bytes long; at most {DOMAIN_MAX} are allowed",
                    domain.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Leading, trailing and doubled dots in one part; the suggestion removes them.
fn dots(part: &str, what: &str, whole: &str, at: usize) -> Result<(), SyntaxError> {
    let reason = if part.starts_with('.') {
        Reason::LeadingDot
    } else if part.ends_with('.') {
        Reason::TrailingDot
    } else if part.contains("..") {
        Reason::ConsecutiveDots
    } else {
        return Ok(());
    };
    let message = match reason {
        Reason::LeadingDot => format!("the {what} starts with a dot"),
        Reason::TrailingDot => format!("the {what} ends with a dot"),
        _ => format!("the {what} has two dots in a row"),
    };
    let mut e = SyntaxError::new(reason, message);
    let squash = |p: &str| -> String {
        p.split('.')
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(".")
    };
    let (local, domain) = (&whole[..at], &whole[at + 1..]);
    let fixed = format!("{}@{}", squash(local), squash(domain));
    e.suggestion = Email::parse(&fixed).ok().map(|e| e.as_str().to_owned());
    Err(e)
}

/// `jane@acme,com` → `jane@acme.com`; a list `a@x.com,b@y.com` → none.
fn comma_fix(s: &str) -> Option<String> {
    if s.matches('@').count() != 1 {
        return None;
    }
    let at = s.find('@')?;
    let fixed = format!("{}@{}", &s[..at], s[at + 1..].replace(',', "."));
    Email::parse(fixed.trim())
        .ok()
        .map(|e| e.as_str().to_owned())
}

fn from_core(e: EmailError) -> SyntaxError {
    use Reason::*;
    let reason = match &e {
        EmailError::Empty => Empty,
        EmailError::NoAt => MissingAt,
        EmailError::MultipleAt => MultipleAt,
        EmailError::Space => ContainsSpace,
        EmailError::EmptyLocal => EmptyLocalPart,
        EmailError::EmptyDomain => EmptyDomain,
        EmailError::LocalTooLong(_) => LocalPartTooLong,
        EmailError::TooLong(_) => AddressTooLong,
        EmailError::Dots => ConsecutiveDots,
        EmailError::LocalChar(',') => ContainsComma,
        EmailError::LocalChar(_) => InvalidCharacter,
        EmailError::Control(_) => ControlCharacter,
        EmailError::UnclosedQuote => UnclosedQuote,
        EmailError::AfterQuote => TextAfterQuote,
        EmailError::IpLiteral(_) => InvalidIpLiteral,
        EmailError::Domain { reason, .. } => match reason {
            HostError::Empty => EmptyDomain,
            HostError::TooLong(_) => DomainTooLong,
            HostError::EmptyLabel => ConsecutiveDots,
            HostError::LabelTooLong => DomainLabelTooLong,
            HostError::BadChar(',') => ContainsComma,
            HostError::BadChar(_) => InvalidDomain,
            HostError::Hyphen => DomainHyphen,
            HostError::OneLabel => DomainWithoutDot,
            HostError::NumericTld => NumericTld,
            HostError::Idna => InvalidIdn,
        },
    };
    SyntaxError::new(reason, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        match parse(raw) {
            Ok(a) => a.as_str().to_owned(),
            Err(e) => panic!("{raw:?} refused: {} ({})", e.reason, e.message),
        }
    }

    fn bad(raw: &str) -> Reason {
        match parse(raw) {
            Ok(a) => panic!("{raw:?} accepted as {}", a.as_str()),
            Err(e) => e.reason,
        }
    }

    #[test]
    fn valid_addresses_and_their_canonical_form() {
        let table = [
            ("jane.doe@acme.com", "jane.doe@acme.com"),
            ("  Jane.Doe@ACME.com ", "Jane.Doe@acme.com"),
            ("jane+news@acme.co.uk", "jane+news@acme.co.uk"),
            ("o'brien@acme.ie", "o'brien@acme.ie"),
            (
                "x!#$%&'*+-/=?^_`{|}~@acme.com",
                "x!#$%&'*+-/=?^_`{|}~@acme.com",
            ),
            ("mailto:jane@acme.com?subject=hi", "jane@acme.com"),
            ("MAILTO:jane@acme.com", "jane@acme.com"),
            ("Jane Doe <jane@acme.com>", "jane@acme.com"),
            ("\"jane doe\"@acme.com", "\"jane doe\"@acme.com"),
            ("\"jane@home\"@acme.com", "\"jane@home\"@acme.com"),
            ("jürgen@bücher.de", "jürgen@xn--bcher-kva.de"),
            ("用户@例子.测试", "用户@xn--fsqu00a.xn--0zwm56d"),
            ("jane@[192.0.2.1]", "jane@[192.0.2.1]"),
            ("jane@[IPv6:2001:db8::1]", "jane@[IPv6:2001:db8::1]"),
            ("a@b.co", "a@b.co"),
            ("jane@xn--bcher-kva.de", "jane@xn--bcher-kva.de"),
            ("jane@mail-server.acme.com", "jane@mail-server.acme.com"),
            ("1234@123.example", "1234@123.example"),
        ];
        for (raw, want) in table {
            assert_eq!(ok(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn plain_canonical_addresses_are_borrowed_not_copied() {
        let a = parse("jane.doe@acme.com").unwrap();
        assert!(a.is_borrowed());
        assert_eq!((a.local(), a.domain()), ("jane.doe", "acme.com"));
        assert!(!parse("jane@ACME.com").unwrap().is_borrowed());
    }

    #[test]
    fn length_limits_are_64_255_and_254() {
        let local64 = "a".repeat(64);
        assert_eq!(
            ok(&format!("{local64}@acme.com")),
            format!("{local64}@acme.com")
        );
        assert_eq!(
            bad(&format!("{}@acme.com", "a".repeat(65))),
            Reason::LocalPartTooLong
        );
        // 63-byte labels are fine; a 64-byte one is not.
        assert_eq!(
            ok(&format!("a@{}.com", "b".repeat(63))),
            format!("a@{}.com", "b".repeat(63))
        );
        assert_eq!(
            bad(&format!("a@{}.com", "b".repeat(64))),
            Reason::DomainLabelTooLong
        );
        // Whole address: 64 + 1 + 189 = 254 is fine, 255 is not.
        let domain = |n: usize| {
            let mut d = String::new();
            while d.len() + 4 < n {
                if !d.is_empty() {
                    d.push('.');
                }
                let left = n - 4 - d.len();
                d.push_str(&"c".repeat(left.min(60)));
            }
            d.push_str(".com");
            d
        };
        let d189 = domain(189);
        assert_eq!(d189.len(), 189);
        assert!(parse(&format!("{local64}@{d189}")).is_ok());
        let d190 = domain(190);
        assert_eq!(bad(&format!("{local64}@{d190}")), Reason::AddressTooLong);
        let d300 = domain(300);
        assert_eq!(bad(&format!("a@{d300}")), Reason::DomainTooLong);
    }

    #[test]
    fn real_list_mistakes_are_named() {
        let table = [
            ("", Reason::Empty),
            ("   ", Reason::Empty),
            ("mailto:", Reason::Empty),
            ("jane.doe.acme.com", Reason::MissingAt),
            ("jane doe@acme.com", Reason::ContainsSpace),
            ("jane@acme .com", Reason::ContainsSpace),
            ("jane@acme,com", Reason::ContainsComma),
            ("jane@acme.com, bob@acme.com", Reason::ContainsComma),
            ("jane@@acme.com", Reason::MultipleAt),
            ("jane@bob@acme.com", Reason::MultipleAt),
            ("@acme.com", Reason::EmptyLocalPart),
            ("jane@", Reason::EmptyDomain),
            (".jane@acme.com", Reason::LeadingDot),
            ("jane.@acme.com", Reason::TrailingDot),
            ("jane..doe@acme.com", Reason::ConsecutiveDots),
            ("jane@acme..com", Reason::ConsecutiveDots),
            ("jane@acme.com.", Reason::TrailingDot),
            ("jane@.acme.com", Reason::LeadingDot),
            ("jane(at)acme.com", Reason::MissingAt),
            ("jane;doe@acme.com", Reason::InvalidCharacter),
            ("jane\u{1}@acme.com", Reason::ControlCharacter),
            ("\"jane@acme.com", Reason::UnclosedQuote),
            ("\"jane\"doe@acme.com", Reason::TextAfterQuote),
            ("jane@acme_corp.com", Reason::InvalidDomain),
            ("jane@-acme.com", Reason::DomainHyphen),
            ("jane@acme-.com", Reason::DomainHyphen),
            ("jane@localhost", Reason::DomainWithoutDot),
            ("jane@1.2.3.4", Reason::NumericTld),
            ("jane@[300.1.1.1]", Reason::InvalidIpLiteral),
            ("jane@[IPv6:zz::1]", Reason::InvalidIpLiteral),
            ("jane@xn--a.com", Reason::InvalidIdn),
        ];
        for (raw, want) in table {
            assert_eq!(bad(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn obvious_mistakes_come_with_a_corrected_address() {
        let fix = |raw: &str| parse(raw).err().and_then(|e| e.suggestion);
        assert_eq!(fix("jane@acme,com").as_deref(), Some("jane@acme.com"));
        assert_eq!(fix("jane@acme.com.").as_deref(), Some("jane@acme.com"));
        assert_eq!(
            fix("jane..doe@acme.com").as_deref(),
            Some("jane.doe@acme.com")
        );
        assert_eq!(fix("jane @acme.com").as_deref(), Some("jane@acme.com"));
        assert_eq!(fix("jane@acme.com, bob@acme.com"), None);
        assert_eq!(fix("jane.doe.acme.com"), None);
    }

    #[test]
    fn every_reason_has_a_message() {
        for raw in ["", "x", "a@", "@b.com", "a..b@c.com", "a@b,com"] {
            let e = parse(raw).unwrap_err();
            assert!(!e.message.is_empty(), "{raw:?}");
        }
    }
}
