//! Phone numbers, stored as E.164 (`+14155550123`) plus an optional
//! extension.
//!
//! The full parser is the `phonenumber` crate (Google's libphonenumber
//! metadata), which understands every country's dialling rules but reads
//! only about 120,000 numbers a second on one core. Most lead files are
//! North American, so [`Phone::parse`] first tries a byte-level fast path for
//! the common NANP shapes (`(415) 555-0123`, `415.555.0123`, `+1 415 555
//! 0123`, `1-415-555-0123`, with `x123` / `ext. 123` / `#123` extensions)
//! and hands everything else to the full parser.
//!
//! The fast path must give exactly the answer the full parser gives,
//! including whether the number is valid. It earns that in four steps:
//!
//! 1. It accepts only a narrow grammar whose handling inside `phonenumber`
//!    was traced through its source (see `fast_nanp`): for those strings the
//!    full parser always yields country code 1 and the ten digits as
//!    written. Every metadata fact that trace relies on (the US/CA national
//!    prefix, the international prefix, the general pattern) is checked at
//!    start-up against the loaded metadata; if any fails, the fast path
//!    turns itself off.
//! 2. Validity: `phonenumber` decides it by matching regular expressions
//!    from its metadata (each NANP region's leading digits, then number-type
//!    patterns). The start-up code parses those same patterns with
//!    `regex-syntax` and shows, per area code, by a structural analysis of
//!    each pattern's derivative, that a match depends only on the first six
//!    digits (area code and exchange). Barbados (246) and Jamaica (876)
//!    allocate some numbers by thousands-block, need seven digits, and go to
//!    the full parser.
//! 3. The answer for an area code + exchange is computed once by evaluating
//!    `phonenumber`'s validity rule (its `source_for` and `number_type`, step
//!    by step) over those patterns with an exact matcher, and cached in a
//!    table of 800,000 one-byte slots. (Asking `phonenumber::is_valid`
//!    directly costs about 30 µs, because its regex cache thrashes across the
//!    NANP regions; the evaluator takes about 1 µs.) A unit test compares the
//!    evaluator with `phonenumber::is_valid` for every area code.
//! 4. A property test (`tests/normalize_props.rs`) generates NANP-shaped
//!    strings, valid and invalid, in many layouts and default regions, and
//!    asserts fast == full for each; another checks every area code.

use std::fmt;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU8, Ordering};

use phonenumber::country::Id;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::geo::Country;

/// A phone number that `phonenumber` deems valid, as E.164 plus extension.
///
/// Equality and hashing use the E.164 form and the extension only: two rows
/// that wrote the same number differently hold the same phone. The raw
/// input is kept for provenance and shown back to users.
#[derive(Clone)]
pub struct Phone {
    /// `+` and up to 15 digits, ASCII; `e164_len` bytes are used.
    e164: [u8; 16],
    e164_len: u8,
    extension: Option<Box<str>>,
    raw: Box<str>,
}

/// Why a string is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("no phone number found (a phone number needs at least a few digits)")]
    NoNumber,
    #[error(
        "the country calling code is not valid; write the number as +<country code> <number> or set the lead's country"
    )]
    BadCountryCode,
    #[error("phone number has too few digits")]
    TooShort,
    #[error("phone number has too many digits")]
    TooLong,
    #[error(
        "{e164} is not a valid phone number: no such area code, exchange or length in its country"
    )]
    Invalid { e164: String },
    #[error(
        "'{0}' is not a stored phone number (expected + and 7 to 15 digits, optionally ;ext=digits)"
    )]
    NotE164(String),
}

impl Phone {
    /// Parses a phone number as written in a lead file. Numbers without a
    /// `+` country code are read as numbers of `default_region`.
    ///
    /// Trims whitespace and one leading apostrophe (spreadsheet exports write
    /// `'+44 20 7946 0958` to keep the `+`). Keeps an extension written as
    /// `x123`, `ext. 123`, `extension 123` or `#123`. Numbers the metadata
    /// says cannot exist are errors, and so are the few it accepts outside
    /// 7 to 15 digits in E.164 (some Japanese toll-free and German pager
    /// numbers), so that every stored value is E.164 that
    /// [`Phone::from_e164`] reads back.
    pub fn parse(raw: &str, default_region: Country) -> Result<Phone, PhoneError> {
        let s = clean(raw);
        if s.is_empty() {
            return Err(PhoneError::Empty);
        }
        match fast_nanp(s, default_region) {
            Some(Ok(fast)) => Ok(fast.into_phone(raw)),
            Some(Err(e)) => Err(e),
            None => parse_with_phonenumber(s, raw, default_region),
        }
    }

    /// The full parser only, bypassing the fast path. Exposed so tests and
    /// benches can compare the two; callers want [`Phone::parse`].
    #[doc(hidden)]
    pub fn parse_full(raw: &str, default_region: Country) -> Result<Phone, PhoneError> {
        let s = clean(raw);
        if s.is_empty() {
            return Err(PhoneError::Empty);
        }
        parse_with_phonenumber(s, raw, default_region)
    }

    /// The fast path only: `None` when it does not handle the input.
    #[doc(hidden)]
    pub fn parse_fast(raw: &str, default_region: Country) -> Option<Result<Phone, PhoneError>> {
        let s = clean(raw);
        fast_nanp(s, default_region).map(|r| r.map(|f| f.into_phone(raw)))
    }

    /// Re-reads a value this type produced (`+14155550123`, optionally
    /// `;ext=123`), as stored in a database, without running the parser:
    /// only the shape is checked. The length range is 7 to 15 digits, the
    /// range [`Phone::parse`] produces: E.164 allows at most 15, and valid
    /// numbers of Niue and Tokelau (`+6834002`) have 7.
    pub fn from_e164(s: &str) -> Result<Phone, PhoneError> {
        let bad = || PhoneError::NotE164(s.to_owned());
        let (num, ext) = match s.split_once(";ext=") {
            Some((n, e)) => (n, Some(e)),
            None => (s, None),
        };
        let digits = num.strip_prefix('+').ok_or_else(bad)?;
        if !(7..=15).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(bad());
        }
        if let Some(e) = ext
            && (e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        let mut e164 = [0u8; 16];
        let n = copy_e164(&mut e164, num.as_bytes()).ok_or_else(bad)?;
        Ok(Phone {
            e164,
            e164_len: n,
            extension: ext.map(Into::into),
            raw: s.into(),
        })
    }

    /// `+14155550123`.
    pub fn e164(&self) -> &str {
        let len = usize::from(self.e164_len).min(self.e164.len());
        std::str::from_utf8(&self.e164[..len]).unwrap_or("")
    }

    /// The extension digits, if the input had one.
    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// The input as given.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// E.164 and, when there is an extension, `;ext=<digits>` (RFC 3966's
    /// spelling), which [`Phone::from_e164`] reads back.
    pub fn canonical(&self) -> String {
        self.to_string()
    }
}

fn copy_e164(dst: &mut [u8; 16], src: &[u8]) -> Option<u8> {
    let d = dst.get_mut(..src.len())?;
    d.copy_from_slice(src);
    u8::try_from(src.len()).ok()
}

/// Trim, then drop one spreadsheet apostrophe.
fn clean(raw: &str) -> &str {
    let s = crate::text::trim(raw);
    match s.strip_prefix(['\'', '\u{2019}']) {
        Some(rest) => rest.trim(),
        None => s,
    }
}

impl PartialEq for Phone {
    fn eq(&self, other: &Phone) -> bool {
        self.e164() == other.e164() && self.extension == other.extension
    }
}
impl Eq for Phone {}

impl std::hash::Hash for Phone {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.e164().hash(h);
        self.extension.hash(h);
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Phone")
            .field("e164", &self.e164())
            .field("extension", &self.extension)
            .field("raw", &self.raw)
            .finish()
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.e164())?;
        if let Some(e) = &self.extension {
            write!(f, ";ext={e}")?;
        }
        Ok(())
    }
}

impl Serialize for Phone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Phone, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Phone::from_e164(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------
// Full path
// ---------------------------------------------------------------------------

fn region_id(c: Country) -> Option<Id> {
    c.as_str().parse().ok()
}

/// libphonenumber's metadata holds thousands of patterns but the crate
/// caches only 100 compiled ones, so a list mixing a few countries recompiles
/// regexes on nearly every number. A cache large enough for every pattern a
/// real list touches makes the full path several times faster.
fn widen_regex_cache() {
    static WIDENED: std::sync::Once = std::sync::Once::new();
    WIDENED.call_once(|| {
        let cache = phonenumber::metadata::DATABASE.cache();
        if let Ok(mut c) = cache.lock() {
            *c = regex_cache::RegexCache::new(4096);
        }
    });
}

fn parse_with_phonenumber(s: &str, raw: &str, region: Country) -> Result<Phone, PhoneError> {
    use phonenumber::ParseError as P;
    widen_regex_cache();
    let pn = phonenumber::parse(region_id(region), s).map_err(|e| match e {
        P::NoNumber => PhoneError::NoNumber,
        P::InvalidCountryCode => PhoneError::BadCountryCode,
        P::TooShortAfterIdd | P::TooShortNsn => PhoneError::TooShort,
        P::TooLong => PhoneError::TooLong,
        P::MalformedInteger(_) => PhoneError::NoNumber,
    })?;
    let mut e164 = [0u8; 16];
    let len = write_e164(
        &mut e164,
        pn.code().value(),
        pn.national().zeros(),
        pn.national().value(),
    )
    .ok_or(PhoneError::TooLong)?;
    let e164_str = std::str::from_utf8(&e164[..usize::from(len)]).unwrap_or("");
    // `len` counts the '+': fewer than 7 digits is not stored.
    if usize::from(len) < 8 {
        return Err(PhoneError::TooShort);
    }
    if !crate::phone_valid::is_valid(&pn) {
        return Err(PhoneError::Invalid {
            e164: e164_str.to_owned(),
        });
    }
    let extension = pn
        .extension()
        .map(|e| &**e)
        .filter(|e| !e.is_empty())
        .map(Into::into);
    Ok(Phone {
        e164,
        e164_len: len,
        extension,
        raw: raw.into(),
    })
}

/// `+`, country code, leading zeros, national number; `None` past 15 digits.
fn write_e164(out: &mut [u8; 16], code: u16, zeros: u8, national: u64) -> Option<u8> {
    let mut digits = [0u8; 40];
    let mut n = 0usize;
    let push_num = |digits: &mut [u8; 40], n: &mut usize, mut v: u64| {
        let mut tmp = [0u8; 20];
        let mut k = 0;
        loop {
            tmp[k] = b'0' + (v % 10) as u8;
            k += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &d in tmp[..k].iter().rev() {
            if let Some(slot) = digits.get_mut(*n) {
                *slot = d;
            }
            *n += 1;
        }
    };
    push_num(&mut digits, &mut n, u64::from(code));
    for _ in 0..zeros {
        if let Some(slot) = digits.get_mut(n) {
            *slot = b'0';
        }
        n += 1;
    }
    push_num(&mut digits, &mut n, national);
    if n > 15 {
        return None;
    }
    out[0] = b'+';
    out.get_mut(1..=n)?.copy_from_slice(digits.get(..n)?);
    u8::try_from(n + 1).ok()
}

// ---------------------------------------------------------------------------
// Fast path
// ---------------------------------------------------------------------------

/// What the fast path found: the ten national digits and the extension.
struct Fast<'a> {
    national: [u8; 10],
    extension: Option<&'a str>,
}

impl Fast<'_> {
    fn into_phone(self, raw: &str) -> Phone {
        let mut e164 = [0u8; 16];
        e164[0] = b'+';
        e164[1] = b'1';
        e164[2..12].copy_from_slice(&self.national);
        Phone {
            e164,
            e164_len: 12,
            extension: self.extension.map(Into::into),
            raw: raw.into(),
        }
    }
}

/// The NANP fast path. `None` means "not sure": use the full parser.
///
/// Accepted grammar (all ASCII):
///
/// ```text
/// input  = ["+"] body [ext]
/// body   = { digit | " " | "-" | "." | "(" | ")" }        -- 10 or 11 digits
/// ext    = ("x" | "ext" | "extn" | "extension" | "#") [":" | "."] {" "} 1*7digit
/// ```
///
/// with 10 digits `[2-9]XXXXXXXXX` or 11 digits `1[2-9]XXXXXXXXX`; with `+`,
/// 11 digits starting `1`. Without `+` the default region must be US or CA;
/// with `+1` any region whose metadata cannot touch the number (see
/// [`plus_one_safe`]).
///
/// Why `phonenumber` reads every such string as `+1` and the ten digits:
/// * It tries RFC 3966 first. That parser fails on any space, and on any
///   character other than hex digits and `-.()` before the end, so on every
///   extension keyword we accept (each has an `x` or is `#`). Otherwise it
///   succeeds and takes the digits after `+` up to the first separator as
///   the country code: `+1-415-…` gives `1` (the natural parser's result),
///   `+1415-555-…` gives `1415` and an error. So with `+`, no space and no
///   extension we require that run to be `1`, empty, or the whole rest (then
///   RFC 3966 finds no national number and falls through).
/// * The natural parser drops leading characters up to the first `+` or
///   digit, takes the extension with a regex anchored at the end whose
///   leftmost match starts at the spaces before our keyword (no other
///   alternative can match within digits and separators), and strips every
///   non-digit from the rest. It takes at most 7 extension digits.
/// * Without `+`, ten digits starting 2-9 get the region's code; eleven
///   digits starting `1` have the `1` stripped, because no US/CA general
///   number starts with 1; neither can start with the `011` international
///   prefix. With `+`, the country code `1` is read first.
/// * The region's national-prefix rules then cannot match a number starting
///   2-9 (checked per region from its metadata).
fn fast_nanp(s: &str, region: Country) -> Option<Result<Fast<'_>, PhoneError>> {
    let b = s.as_bytes();
    let plus = b.first() == Some(&b'+');
    let mut i = usize::from(plus);
    let mut digits = [0u8; 11];
    let mut n = 0usize;
    let mut has_space = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                *digits.get_mut(n)? = c;
                n += 1;
            }
            b' ' => has_space = true,
            b'-' | b'.' | b'(' | b')' => {}
            _ => break,
        }
        i += 1;
    }
    let extension = match b.get(i..) {
        Some(rest) if !rest.is_empty() => Some(parse_extension(rest)?),
        _ => None,
    };
    let national: &[u8] = match (n, digits[0]) {
        (11, b'1') => &digits[1..11],
        (10, b'2'..=b'9') if !plus => &digits[..10],
        _ => return None,
    };
    if !matches!(national[0], b'2'..=b'9') {
        return None;
    }
    let proof = proof::get()?;
    if plus {
        if !plus_one_safe(region, proof) {
            return None;
        }
        if !has_space && extension.is_none() {
            // RFC 3966 would read the digits after '+' up to the first
            // separator as the country code.
            let run = b[1..]
                .iter()
                .take_while(|c| !matches!(c, b'-' | b'.' | b'(' | b')'))
                .count();
            if run != 0 && run != b.len() - 1 && run != 1 {
                return None;
            }
        }
    } else if region != Country::US && region != Country::CA {
        return None;
    }
    let mut ten = [0u8; 10];
    ten.copy_from_slice(national);
    let ext = match extension {
        Some((start, end)) => Some(s.get(start + i..end + i)?),
        None => None,
    };
    if !proof.six_digits_decide([ten[0], ten[1], ten[2]]) {
        return None;
    }
    match nanp_valid(proof, &ten)? {
        true => Some(Ok(Fast {
            national: ten,
            extension: ext,
        })),
        false => {
            let mut e = String::with_capacity(12);
            e.push_str("+1");
            e.extend(ten.iter().map(|&d| char::from(d)));
            Some(Err(PhoneError::Invalid { e164: e }))
        }
    }
}

/// Reads `x123`, `ext. 123`, `extn 123`, `extension: 123`, `#123` (any case)
/// to the end of `rest`. Returns the digit range within `rest`, or `None`
/// for anything else (the full parser then decides).
fn parse_extension(rest: &[u8]) -> Option<(usize, usize)> {
    let lower_starts =
        |kw: &[u8]| rest.len() >= kw.len() && rest[..kw.len()].eq_ignore_ascii_case(kw);
    let mut j = if lower_starts(b"extension") {
        9
    } else if lower_starts(b"extn") {
        4
    } else if lower_starts(b"ext") {
        3
    } else if lower_starts(b"x") || lower_starts(b"#") {
        1
    } else {
        return None;
    };
    if matches!(rest.get(j), Some(b':' | b'.')) {
        j += 1;
    }
    while rest.get(j) == Some(&b' ') {
        j += 1;
    }
    let digits = rest.len().checked_sub(j)?;
    if !(1..=7).contains(&digits) || !rest[j..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((j, rest.len()))
}

/// Validity of a NANP number by area code and exchange, cached.
/// 0 = not computed, 1 = valid, 2 = invalid.
static NANP_TABLE: LazyLock<Box<[AtomicU8]>> =
    LazyLock::new(|| (0..800 * 1000).map(|_| AtomicU8::new(0)).collect());

fn nanp_valid(proof: &proof::Proof, national: &[u8; 10]) -> Option<bool> {
    let d = |k: usize| usize::from(national[k].wrapping_sub(b'0'));
    let npa = d(0).checked_sub(2)? * 100 + d(1) * 10 + d(2);
    let idx = npa * 1000 + d(3) * 100 + d(4) * 10 + d(5);
    let slot = NANP_TABLE.get(idx)?;
    let valid = match slot.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            // By the determinacy check, every number with this area code
            // and exchange gets the same answer, so evaluating this one
            // settles all of them. Two threads may race to fill the slot;
            // both write the same value.
            let valid = proof.is_valid(national);
            slot.store(if valid { 1 } else { 2 }, Ordering::Relaxed);
            valid
        }
    };
    Some(valid)
}

/// Whether a `+1` number given with `region` as default region is read the
/// same as with US: the region's international prefix cannot start with
/// `1` and its national prefix (and national-prefix pattern) cannot match a
/// number starting 2-9. Computed once per region from its metadata.
fn plus_one_safe(region: Country, proof: &proof::Proof) -> bool {
    if region == Country::US || region == Country::CA {
        return true;
    }
    let b = region.as_str().as_bytes();
    let idx = match b {
        [x, y] if x.is_ascii_uppercase() && y.is_ascii_uppercase() => {
            usize::from(x - b'A') * 26 + usize::from(y - b'A')
        }
        _ => return false,
    };
    let Some(slot) = proof.plus_safe.get(idx) else {
        return false;
    };
    match slot.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let safe =
                region_id(region).is_some_and(|id| proof::region_leaves_plus_one_alone(id, b'1'));
            slot.store(if safe { 1 } else { 2 }, Ordering::Relaxed);
            safe
        }
    }
}

/// Whether the fast path is on (its start-up checks succeeded). A test
/// asserts it, so a metadata update that breaks them is noticed.
#[doc(hidden)]
pub fn fast_path_enabled() -> bool {
    proof::get().is_some()
}

/// The start-up proof that the fast path agrees with `phonenumber`.
mod proof {
    use super::*;
    use phonenumber::Type;
    use phonenumber::metadata::DATABASE;
    use regex_syntax::hir::{Class, Hir, HirKind};

    pub(super) struct Proof {
        /// The NANP regions in the order `phonenumber` tries them, with
        /// the patterns its validity check consults.
        regions: Vec<RegionRules>,
        /// Per area code (NPA − 200): 0 unknown, 1 validity is decided by
        /// six digits, 2 it is not (or cannot be shown): use the full parser.
        npa: Box<[AtomicU8]>,
        /// Per region (26×26 by alpha-2): 0 unknown, 1 safe, 2 unsafe.
        pub(super) plus_safe: Box<[AtomicU8]>,
    }

    /// One NANP region's validity rules, from `phonenumber`'s metadata.
    struct RegionRules {
        leading_digits: Option<Re>,
        general: Desc,
        /// The number types `number_type` tries after the general pattern.
        types: Vec<Desc>,
    }

    /// A number-type descriptor: its pattern, and whether its possible
    /// lengths admit ten digits (an empty list admits any length).
    struct Desc {
        re: Re,
        ten_digits_ok: bool,
    }

    impl Desc {
        fn from(desc: &phonenumber::metadata::Descriptor) -> Option<Desc> {
            let lengths = desc.possible_length();
            Some(Desc {
                re: Re::from_hir(&parse(desc.national_number().as_str())?)?,
                ten_digits_ok: lengths.is_empty() || lengths.contains(&10),
            })
        }

        /// `Descriptor::is_match`: length admitted, and a prefix of the
        /// number matches the pattern (`find` at position 0).
        fn is_match(&self, n: &[u8; 10]) -> bool {
            self.ten_digits_ok && self.re.matches_prefix_of(n)
        }
    }

    impl RegionRules {
        /// `number_type(meta, n) != Unknown`: the general pattern matches
        /// and so does at least one type.
        fn known_type(&self, n: &[u8; 10]) -> bool {
            self.general.is_match(n) && self.types.iter().any(|t| t.is_match(n))
        }
    }

    static PROOF: LazyLock<Option<Proof>> = LazyLock::new(build);

    pub(super) fn get() -> Option<&'static Proof> {
        PROOF.as_ref()
    }

    fn build() -> Option<Proof> {
        // Metadata facts the trace in `fast_nanp` relies on, for US and CA.
        for id in [Id::US, Id::CA] {
            let meta = DATABASE.by_id(id.as_ref())?;
            let general = meta.descriptors().general();
            // An 11-digit `1…` is not a general-pattern match (no general
            // number starts with 1), so the leading 1 is stripped as the
            // country code; a 10-digit number is not "too short".
            let (nullable, first) = first_digits(general.national_number().as_str())?;
            let lengths = general.possible_length();
            if meta.country_code() != 1
                || meta.national_prefix() != Some("1")
                || nullable
                || first & 0b10 != 0
                || lengths.first().is_some_and(|&min| min > 10)
                || !region_leaves_plus_one_alone(id, b'0')
            {
                return None;
            }
        }
        Some(Proof {
            regions: validity_rules()?,
            npa: (0..800).map(|_| AtomicU8::new(0)).collect(),
            plus_safe: (0..26 * 26).map(|_| AtomicU8::new(0)).collect(),
        })
    }

    impl Proof {
        /// `phonenumber::is_valid` for `+1` and ten national digits,
        /// evaluated the way its validator does (`source_for`, then
        /// `number_type`) over the same metadata patterns, with an exact
        /// matcher instead of its regex cache (which, thrashing over the
        /// NANP regions' patterns, costs about 30 µs a number). Tests
        /// compare it with `phonenumber::is_valid` for every area code.
        pub(super) fn is_valid(&self, n: &[u8; 10]) -> bool {
            for r in &self.regions {
                match &r.leading_digits {
                    Some(ld) => {
                        if ld.matches_prefix_of(n) {
                            return r.known_type(n);
                        }
                    }
                    None => {
                        if r.known_type(n) {
                            return true;
                        }
                    }
                }
            }
            false
        }

        /// Whether, for numbers with area code `npa` (three ASCII digits,
        /// the first 2-9), validity is decided by the first six digits.
        pub(super) fn six_digits_decide(&self, npa: [u8; 3]) -> bool {
            let d = |k: usize| usize::from(npa[k].wrapping_sub(b'0'));
            let Some(idx) = d(0).checked_sub(2).map(|a| a * 100 + d(1) * 10 + d(2)) else {
                return false;
            };
            let Some(slot) = self.npa.get(idx) else {
                return false;
            };
            match slot.load(Ordering::Relaxed) {
                1 => true,
                2 => false,
                _ => {
                    let ok = self.determining_digits(npa).is_some_and(|k| k <= 6);
                    slot.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
                    ok
                }
            }
        }

        /// For ten-digit numbers starting with `npa`, how many leading
        /// digits decide every pattern validity consults (`None`: cannot
        /// tell). Validity is a fixed boolean combination of those pattern
        /// matches, so it is decided by that many digits too.
        pub(super) fn determining_digits(&self, npa: [u8; 3]) -> Option<usize> {
            let mut worst = 3;
            for r in &self.regions {
                let descs = std::iter::once(&r.general).chain(&r.types).map(|d| &d.re);
                for re in r.leading_digits.iter().chain(descs) {
                    worst = worst.max(determining_after_prefix(re, &npa)?);
                }
            }
            Some(worst)
        }
    }

    /// True when, with `id` as the default region, neither its international
    /// prefix nor its national-prefix rules can match at the start of a
    /// digit string starting `1` (and, for `allowed_first == b'0'`, at the
    /// start of any digit string starting 1-9).
    pub(super) fn region_leaves_plus_one_alone(id: Id, allowed_first: u8) -> bool {
        let Some(meta) = DATABASE.by_id(id.as_ref()) else {
            return false;
        };
        let idd_ok = match meta.international_prefix() {
            None => true,
            Some(re) => first_digits(re.as_str()).is_some_and(|(nullable, set)| {
                let forbidden: u16 = if allowed_first == b'0' {
                    0b11_1111_1110
                } else {
                    0b10
                };
                !nullable && set & forbidden == 0
            }),
        };
        // The national prefix and its pattern must not match a number that
        // starts 2-9: all their strings start with 0 or 1.
        let np_ok = meta
            .national_prefix()
            .is_none_or(|p| matches!(p.as_bytes().first(), Some(b'0' | b'1')));
        let npp_ok = match meta.national_prefix_for_parsing() {
            None => true,
            Some(re) => first_digits(re.as_str())
                .is_some_and(|(nullable, set)| !nullable && set & !0b11 == 0),
        };
        idd_ok && np_ok && npp_ok
    }

    /// The types `phonenumber`'s `number_type` tries after the general
    /// pattern (any match makes the type known).
    const TYPES: [Type; 10] = [
        Type::PremiumRate,
        Type::TollFree,
        Type::SharedCost,
        Type::Voip,
        Type::PersonalNumber,
        Type::Pager,
        Type::Uan,
        Type::Voicemail,
        Type::FixedLine,
        Type::Mobile,
    ];

    /// Each NANP region's leading digits, general pattern and type
    /// patterns, in the order `phonenumber` lists the regions for code 1.
    fn validity_rules() -> Option<Vec<RegionRules>> {
        let mut out = Vec::new();
        for region in DATABASE.region(&1)? {
            let meta = DATABASE.by_id(region)?;
            let leading_digits = match meta.leading_digits() {
                Some(ld) => Some(Re::from_hir(&parse(ld.as_str())?)?),
                None => None,
            };
            let mut types = Vec::new();
            for t in TYPES {
                if let Some(desc) = meta.descriptors().get(t) {
                    types.push(Desc::from(desc)?);
                }
            }
            out.push(RegionRules {
                leading_digits,
                general: Desc::from(meta.descriptors().general())?,
                types,
            });
        }
        Some(out)
    }

    fn parse(pattern: &str) -> Option<Hir> {
        // phonenumber compiles metadata patterns with ignore_whitespace.
        regex_syntax::ParserBuilder::new()
            .ignore_whitespace(true)
            .build()
            .parse(pattern)
            .ok()
    }

    /// A regular expression over ASCII digits, which is all a national
    /// number holds. A character class becomes the set of digits it
    /// contains (bit `d`), so anything else simply matches nothing.
    #[derive(Debug, Clone, PartialEq)]
    pub(super) enum Re {
        Nothing,
        Empty,
        Set(u16),
        Cat(Vec<Re>),
        Alt(Vec<Re>),
        Rep {
            min: u32,
            max: Option<u32>,
            sub: Box<Re>,
        },
    }

    const ALL_DIGITS: u16 = 0b11_1111_1111;

    fn class_digits(c: &Class) -> u16 {
        let mut set = 0u16;
        for d in b'0'..=b'9' {
            let hit = match c {
                Class::Unicode(u) => u
                    .ranges()
                    .iter()
                    .any(|r| r.start() <= char::from(d) && char::from(d) <= r.end()),
                Class::Bytes(by) => by.ranges().iter().any(|r| r.start() <= d && d <= r.end()),
            };
            if hit {
                set |= 1 << (d - b'0');
            }
        }
        set
    }

    impl Re {
        /// `None` for look-arounds, which this analysis does not model.
        pub(super) fn from_hir(h: &Hir) -> Option<Re> {
            Some(match h.kind() {
                HirKind::Empty => Re::Empty,
                HirKind::Literal(lit) => Re::cat(
                    lit.0
                        .iter()
                        .map(|&b| {
                            if b.is_ascii_digit() {
                                Re::Set(1 << (b - b'0'))
                            } else {
                                Re::Nothing
                            }
                        })
                        .collect(),
                ),
                HirKind::Class(c) => Re::set(class_digits(c)),
                HirKind::Look(_) => return None,
                HirKind::Capture(c) => Re::from_hir(&c.sub)?,
                HirKind::Repetition(r) => Re::rep(r.min, r.max, Re::from_hir(&r.sub)?),
                HirKind::Concat(items) => {
                    Re::cat(items.iter().map(Re::from_hir).collect::<Option<_>>()?)
                }
                HirKind::Alternation(alts) => {
                    Re::alt(alts.iter().map(Re::from_hir).collect::<Option<_>>()?)
                }
            })
        }

        fn set(s: u16) -> Re {
            if s == 0 { Re::Nothing } else { Re::Set(s) }
        }

        fn cat(items: Vec<Re>) -> Re {
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                match it {
                    Re::Nothing => return Re::Nothing,
                    Re::Empty => {}
                    Re::Cat(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Re::Empty,
                1 => out.pop().unwrap_or(Re::Empty),
                _ => Re::Cat(out),
            }
        }

        fn alt(items: Vec<Re>) -> Re {
            let mut out: Vec<Re> = Vec::with_capacity(items.len());
            for it in items {
                match it {
                    Re::Nothing => {}
                    Re::Alt(inner) => out.extend(inner),
                    other => {
                        if !out.contains(&other) {
                            out.push(other)
                        }
                    }
                }
            }
            match out.len() {
                0 => Re::Nothing,
                1 => out.pop().unwrap_or(Re::Nothing),
                _ => Re::Alt(out),
            }
        }

        fn rep(min: u32, max: Option<u32>, sub: Re) -> Re {
            match (max, sub) {
                (Some(0), _) | (_, Re::Empty) => Re::Empty,
                (_, Re::Nothing) => {
                    if min == 0 {
                        Re::Empty
                    } else {
                        Re::Nothing
                    }
                }
                (Some(1), sub) if min == 1 => sub,
                (max, sub) => Re::Rep {
                    min,
                    max,
                    sub: Box::new(sub),
                },
            }
        }

        fn nullable(&self) -> bool {
            match self {
                Re::Nothing | Re::Set(_) => false,
                Re::Empty => true,
                Re::Cat(items) => items.iter().all(Re::nullable),
                Re::Alt(items) => items.iter().any(Re::nullable),
                Re::Rep { min, sub, .. } => *min == 0 || sub.nullable(),
            }
        }

        /// The strings `w` such that `d·w` matches (Brzozowski derivative).
        fn derive(&self, d: u8) -> Re {
            match self {
                Re::Nothing | Re::Empty => Re::Nothing,
                Re::Set(s) => {
                    if s & (1 << d) != 0 {
                        Re::Empty
                    } else {
                        Re::Nothing
                    }
                }
                Re::Cat(items) => {
                    let mut alts = Vec::new();
                    for (i, head) in items.iter().enumerate() {
                        let mut v = Vec::with_capacity(items.len() - i);
                        v.push(head.derive(d));
                        v.extend(items[i + 1..].iter().cloned());
                        alts.push(Re::cat(v));
                        if !head.nullable() {
                            break;
                        }
                    }
                    Re::alt(alts)
                }
                Re::Alt(items) => Re::alt(items.iter().map(|r| r.derive(d)).collect()),
                Re::Rep { min, max, sub } => {
                    let rest = Re::rep(min.saturating_sub(1), max.map(|m| m - 1), (**sub).clone());
                    Re::cat(vec![sub.derive(d), rest])
                }
            }
        }

        /// Whether some prefix of `s` (ASCII digits, at most 15) matches:
        /// `phonenumber`'s `find(s)` starting at 0.
        pub(super) fn matches_prefix_of(&self, s: &[u8]) -> bool {
            s.len() < 16 && self.ends(s, 1) != 0
        }

        /// The positions where a match can end, given the positions where
        /// it may start (bit `p` = position `p`). Exact for regular
        /// expressions, and allocation-free.
        fn ends(&self, s: &[u8], starts: u16) -> u16 {
            if starts == 0 {
                return 0;
            }
            match self {
                Re::Nothing => 0,
                Re::Empty => starts,
                Re::Set(m) => {
                    let mut out = 0u16;
                    let mut st = starts;
                    while st != 0 {
                        let p = st.trailing_zeros() as usize;
                        st &= st - 1;
                        if let Some(&c) = s.get(p) {
                            let d = c.wrapping_sub(b'0');
                            if d <= 9 && m & (1 << d) != 0 {
                                out |= 1 << (p + 1);
                            }
                        }
                    }
                    out
                }
                Re::Cat(items) => items.iter().fold(starts, |acc, it| it.ends(s, acc)),
                Re::Alt(items) => items.iter().fold(0, |acc, it| acc | it.ends(s, starts)),
                Re::Rep { min, max, sub } => {
                    let min = *min as usize;
                    let mut result = if min == 0 { starts } else { 0 };
                    let mut cur = starts;
                    // Past `min + len` rounds nothing new is reachable: a
                    // longer path has an empty round that can be dropped.
                    let cap = max
                        .map_or(usize::MAX, |m| m as usize)
                        .min(min + s.len() + 1);
                    for round in 1..=cap {
                        cur = sub.ends(s, cur);
                        if cur == 0 {
                            break;
                        }
                        if round >= min {
                            result |= cur;
                        }
                    }
                    result
                }
            }
        }

        /// Minimum and maximum length (`None` max: unbounded).
        fn len_range(&self) -> Option<(usize, Option<usize>)> {
            Some(match self {
                Re::Nothing => return None,
                Re::Empty => (0, Some(0)),
                Re::Set(_) => (1, Some(1)),
                Re::Rep { min, max, sub } => {
                    let (smin, smax) = sub.len_range()?;
                    let lo = smin.checked_mul(*min as usize)?;
                    let hi = match (max, smax) {
                        (Some(m), Some(sm)) => Some(sm.checked_mul(*m as usize)?),
                        _ => None,
                    };
                    (lo, hi)
                }
                Re::Cat(items) => {
                    let (mut lo, mut hi) = (0usize, Some(0usize));
                    for it in items {
                        let (a, b) = it.len_range()?;
                        lo = lo.checked_add(a)?;
                        hi = match (hi, b) {
                            (Some(x), Some(y)) => Some(x.checked_add(y)?),
                            _ => None,
                        };
                    }
                    (lo, hi)
                }
                Re::Alt(items) => {
                    let (mut lo, mut hi) = (usize::MAX, Some(0usize));
                    for it in items {
                        let (a, b) = it.len_range()?;
                        lo = lo.min(a);
                        hi = match (hi, b) {
                            (Some(x), Some(y)) => Some(x.max(y)),
                            _ => None,
                        };
                    }
                    (lo, hi)
                }
            })
        }

        /// `det() = k` means: for digit strings `w`, `w'` of equal length
        /// that agree on their first `k` digits, `w` matches implies `w'`
        /// matches. `0` means only the length matters (like `\d{6}`).
        /// `None` when this structural analysis cannot bound it.
        pub(super) fn det(&self) -> Option<usize> {
            match self {
                Re::Nothing | Re::Empty => Some(0),
                Re::Set(s) => Some(if *s == ALL_DIGITS { 0 } else { 1 }),
                Re::Rep { sub, .. } => {
                    if sub.det()? == 0 {
                        // Every piece can be swapped for any digits of its length.
                        Some(0)
                    } else {
                        self.len_range()?.1
                    }
                }
                Re::Alt(items) => items.iter().try_fold(0, |acc, a| Some(acc.max(a.det()?))),
                Re::Cat(items) => {
                    // Fold from the right: `item · rest`.
                    let mut iter = items.iter().rev();
                    let mut rest = iter.next()?.det()?;
                    for item in iter {
                        let (min, max) = item.len_range()?;
                        let fixed = Some(min) == max;
                        rest = if rest == 0 {
                            // A length-only tail: what decides lies in the
                            // head, at most its longest match.
                            if fixed { item.det()? } else { max? }
                        } else if fixed {
                            min + rest
                        } else {
                            return None;
                        };
                    }
                    Some(rest)
                }
            }
        }
    }

    /// For digit strings starting with `prefix`, how many leading digits
    /// decide whether some prefix of the string matches `re` (the way
    /// `phonenumber` matches). If a prefix of `prefix` itself already
    /// matches, every such string matches and the answer is `prefix.len()`.
    /// Otherwise it is `prefix.len()` plus the determinacy of the derivative.
    /// Agreeing on the first `k` digits carries over from a language to "has
    /// a prefix in it": the matching prefix of one string, cut to the same
    /// length from the other, agrees on its first `k` digits too.
    pub(super) fn determining_after_prefix(re: &Re, prefix: &[u8]) -> Option<usize> {
        let mut cur = re.clone();
        for &b in prefix {
            if cur.nullable() {
                return Some(prefix.len());
            }
            cur = cur.derive(b.checked_sub(b'0').filter(|d| *d <= 9)?);
            if cur == Re::Nothing {
                return Some(prefix.len());
            }
        }
        if cur.nullable() {
            return Some(prefix.len());
        }
        Some(prefix.len() + cur.det()?)
    }

    /// Determinacy of a pattern over whole strings (test helper).
    #[cfg(test)]
    pub(super) fn determining_prefix(pattern: &str) -> Option<usize> {
        Re::from_hir(&parse(pattern)?)?.det()
    }

    /// An over-approximation of how a match of `pattern` can begin: whether
    /// it can be empty, and the set of digits (bit `d`) it can start with.
    /// Look-arounds are treated as zero-width matches anywhere, which only
    /// adds strings, so "cannot start with 1" stays true.
    pub(super) fn first_digits(pattern: &str) -> Option<(bool, u16)> {
        first(&parse(pattern)?)
    }

    fn first(h: &Hir) -> Option<(bool, u16)> {
        Some(match h.kind() {
            HirKind::Empty | HirKind::Look(_) => (true, 0),
            HirKind::Literal(lit) => match lit.0.first() {
                Some(&d @ b'0'..=b'9') => (false, 1 << (d - b'0')),
                Some(_) => (false, 0),
                None => (true, 0),
            },
            HirKind::Class(c) => (false, class_digits(c)),
            HirKind::Capture(c) => first(&c.sub)?,
            HirKind::Repetition(r) => {
                let (n, s) = first(&r.sub)?;
                (n || r.min == 0, s)
            }
            HirKind::Concat(items) => {
                let mut set = 0u16;
                for it in items {
                    let (n, s) = first(it)?;
                    set |= s;
                    if !n {
                        return Some((false, set));
                    }
                }
                (true, set)
            }
            HirKind::Alternation(alts) => {
                let mut nullable = false;
                let mut set = 0u16;
                for it in alts {
                    let (n, s) = first(it)?;
                    nullable |= n;
                    set |= s;
                }
                (nullable, set)
            }
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn determinacy_analysis() {
            assert_eq!(determining_prefix(r"\d{10}"), Some(0));
            assert_eq!(determining_prefix(r"[2-9]\d{9}|3\d{6}"), Some(1));
            assert_eq!(
                determining_prefix(r"(?:2(?:0[1-35-9]|1[02-9]))[2-9]\d{6}"),
                Some(4)
            );
            assert_eq!(determining_prefix(r"52[34][2-9]1[02-9]\d{4}"), Some(6));
            assert_eq!(
                determining_prefix(r"5056(?:[0-35-9]\d|4[468])\d{4}"),
                Some(6)
            );
            // The last digit matters: the analysis must say so.
            assert_eq!(determining_prefix(r"\d{9}5"), Some(10));
            assert_eq!(determining_prefix(r"\d*5"), None);
            assert_eq!(determining_prefix(r"^\d{3}"), None);
        }

        #[test]
        fn determinacy_after_prefix() {
            let re =
                Re::from_hir(&parse(r"246521[0369]\d{3}|246(?:2(?:2[78]))\d{4}|415\d{7}").unwrap())
                    .unwrap();
            assert_eq!(determining_after_prefix(&re, b"246"), Some(7));
            assert_eq!(determining_after_prefix(&re, b"415"), Some(3));
            assert_eq!(determining_after_prefix(&re, b"212"), Some(3));
            // A short alternative that already matches decides everything.
            let re = Re::from_hir(&parse(r"3\d{6}|[2-9]\d{9}").unwrap()).unwrap();
            assert_eq!(determining_after_prefix(&re, b"312"), Some(3));
        }

        #[test]
        fn first_digit_analysis() {
            assert_eq!(first_digits("011"), Some((false, 1)));
            assert_eq!(first_digits("00|1(?:[3-9])"), Some((false, 0b11)));
            assert_eq!(first_digits("(183[12])|0"), Some((false, 0b11)));
            assert_eq!(first_digits("0?"), Some((true, 1)));
        }

        #[test]
        fn matcher_is_prefix_find() {
            let re = |p: &str| Re::from_hir(&parse(p).unwrap()).unwrap();
            assert!(re(r"[2-9]\d{9}|3\d{6}").matches_prefix_of(b"4155550123"));
            // The short alternative matches a prefix of a longer number.
            assert!(re(r"[2-9]\d{9}|3\d{6}").matches_prefix_of(b"3125550123"));
            assert!(re(r"3\d{6}").matches_prefix_of(b"3125550123"));
            assert!(!re(r"[2-9]\d{9}").matches_prefix_of(b"1415555012"));
            assert!(!re(r"[2-9]\d{9}").matches_prefix_of(b"415555012"));
            assert!(re(r"41(?:5|6)").matches_prefix_of(b"4165550123"));
            assert!(re(r"(?:12)*3").matches_prefix_of(b"1212312"));
            assert!(!re(r"(?:12)+3").matches_prefix_of(b"3"));
            assert!(re(r"\d{0,3}9").matches_prefix_of(b"1239"));
            assert!(re(r"").matches_prefix_of(b"1"));
        }

        /// The evaluator must give `phonenumber::is_valid`'s answer. Every
        /// area code, with exchanges spread over the range.
        #[test]
        fn evaluator_agrees_with_phonenumber() {
            let proof = get().expect("proof holds");
            for npa in 200..1000u32 {
                for nxx in [0u32, 101, 211, 327, 555, 649, 788, 911, 958] {
                    let line = (npa * 31 + nxx * 7) % 10_000;
                    let digits = format!("{npa}{nxx:03}{line:04}");
                    let mut n = [0u8; 10];
                    n.copy_from_slice(digits.as_bytes());
                    let pn = phonenumber::parse(None, format!("+1{digits}")).expect("parses");
                    assert_eq!(proof.is_valid(&n), phonenumber::is_valid(&pn), "+1{digits}");
                }
            }
        }

        #[test]
        fn area_codes_decided_by_six_digits() {
            let proof = get().expect("proof holds");
            let mut seven = Vec::new();
            for npa in 200..1000u32 {
                let s = npa.to_string();
                let b = s.as_bytes();
                if !proof.six_digits_decide([b[0], b[1], b[2]]) {
                    seven.push(npa);
                }
            }
            // Barbados and Jamaica allocate some numbers by thousands-block;
            // those area codes go to the full parser. Everything else is fast.
            eprintln!("area codes needing seven digits: {seven:?}");
            assert!(seven.len() <= 5, "{seven:?}");
            for npa in [b"415", b"212", b"416", b"604", b"787", b"800"] {
                assert!(proof.six_digits_decide(*npa));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(raw: &str) -> Result<Phone, PhoneError> {
        Phone::parse(raw, Country::US)
    }

    #[test]
    fn fast_path_is_on() {
        assert!(fast_path_enabled());
    }

    #[test]
    fn common_us_shapes() {
        for raw in [
            "(415) 555-0123",
            "415-555-0123",
            "415.555.0123",
            "4155550123",
            "+1 415 555 0123",
            "1-415-555-0123",
            "+14155550123",
            "+1 (415) 555-0123",
            "'+1 415 555 0123",
            "  415 555 0123  ",
        ] {
            let p = us(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(p.e164(), "+14155550123", "{raw}");
            assert_eq!(p.extension(), None);
            assert_eq!(p.raw(), raw);
            assert!(
                Phone::parse_fast(raw, Country::US).is_some(),
                "fast path should take {raw}"
            );
            assert_eq!(Phone::parse_full(raw, Country::US), Ok(p.clone()));
        }
    }

    #[test]
    fn extensions() {
        for (raw, ext) in [
            ("415-555-0123 x123", "123"),
            ("415-555-0123 ext. 123", "123"),
            ("415-555-0123 ext 123", "123"),
            ("415-555-0123 EXT: 45", "45"),
            ("415-555-0123 extension 7", "7"),
            ("(415) 555-0123 #123", "123"),
            ("4155550123x0042", "0042"),
        ] {
            let p = us(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(
                (p.e164(), p.extension()),
                ("+14155550123", Some(ext)),
                "{raw}"
            );
            assert_eq!(Phone::parse_full(raw, Country::US), Ok(p.clone()), "{raw}");
            assert_eq!(p.to_string(), format!("+14155550123;ext={ext}"));
        }
    }

    #[test]
    fn other_countries_use_the_full_parser() {
        let p = Phone::parse("+44 20 7946 0958", Country::US).unwrap();
        assert_eq!(p.e164(), "+442079460958");
        let p = Phone::parse("020 7946 0958", Country::GB).unwrap();
        assert_eq!(p.e164(), "+442079460958");
        let p = Phone::parse("'+49 30 123456", Country::US).unwrap();
        assert_eq!(p.e164(), "+4930123456");
        let p = Phone::parse("+1 416 555 0199", Country::GB).unwrap();
        assert_eq!(p.e164(), "+14165550199");
    }

    #[test]
    fn invalid_numbers() {
        assert_eq!(us(""), Err(PhoneError::Empty));
        assert_eq!(us("  '  "), Err(PhoneError::Empty));
        assert!(matches!(us("hello"), Err(PhoneError::NoNumber)));
        // Area code 999 is not assigned: the fast path says so itself.
        let e = us("(999) 555-0123").unwrap_err();
        assert_eq!(
            e,
            PhoneError::Invalid {
                e164: "+19995550123".into()
            }
        );
        assert!(e.to_string().contains("not a valid phone number"));
        assert_eq!(
            Phone::parse_fast("(999) 555-0123", Country::US),
            Some(Err(e.clone()))
        );
        assert_eq!(Phone::parse_full("(999) 555-0123", Country::US), Err(e));
        // A leading 1 on ten digits is read as the country code, as
        // phonenumber does; what is left is too short to be valid.
        assert_eq!(
            us("(123) 555-0123"),
            Err(PhoneError::Invalid {
                e164: "+1235550123".into()
            })
        );
        assert!(us("415 555 012").is_err());
        assert!(us("415 555 01234 5").is_err());
    }

    #[test]
    fn from_e164_round_trip() {
        let p = us("(415) 555-0123 x12").unwrap();
        let back = Phone::from_e164(&p.to_string()).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.e164(), "+14155550123");
        assert_eq!(back.extension(), Some("12"));
        assert!(Phone::from_e164("+1415555012").is_ok());
        for bad in [
            "",
            "+",
            "14155550123",
            "+0415555012",
            "+1234567890123456",
            "+1415x555",
            "+14155550123;ext=",
            "+123456",
        ] {
            assert!(
                matches!(Phone::from_e164(bad), Err(PhoneError::NotE164(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn equality_ignores_raw_and_serde_is_canonical() {
        let a = us("(415) 555-0123").unwrap();
        let b = us("+1 415 555 0123").unwrap();
        assert_eq!(a, b);
        assert_ne!(a.raw(), b.raw());
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"+14155550123\"");
        let back: Phone = serde_json::from_str("\"+14155550123\"").unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn write_e164_bounds() {
        let mut out = [0u8; 16];
        assert_eq!(write_e164(&mut out, 39, 1, 612345678), Some(13));
        assert_eq!(&out[..13], b"+390612345678");
        assert_eq!(write_e164(&mut out, 1, 0, 123_456_789_012_345), None);
    }
}
