//! `phonenumber::is_valid`, evaluated the way its validator does but with
//! regular expressions compiled once per thread.
//!
//! `phonenumber` keeps its metadata patterns in a shared LRU cache behind a
//! mutex and looks each one up by hashing its source text (SipHash over
//! patterns hundreds of bytes long), a dozen times per number. For the
//! numbers the NANP fast path does not take (`+44 …`, `+49 …`) that made
//! validity about three quarters of a full parse, ~16 µs a number.
//!
//! The rule is `phonenumber`'s `is_valid_with`, step for step:
//!
//! 1. The region: when the country code has one region, that region (or,
//!    for a non-geographic code, `001`, its first metadata entry). When it
//!    has several, the first whose leading-digits pattern matches at the
//!    start of the national number or, for a region without one, whose
//!    number type is known.
//! 2. Valid when the number type in that region is not `Unknown`: the
//!    general descriptor matches and so does one of the ten type
//!    descriptors `number_type` tries (premium rate, toll free, shared cost,
//!    VoIP, personal, pager, UAN, voicemail, fixed line, mobile).
//! 3. A descriptor matches when its possible lengths (if any) admit the
//!    national number's length and its pattern matches at position 0
//!    (`find(..).start() == 0`; a leftmost match starts at 0 exactly when
//!    some match does, so an anchored match is the same test).
//!
//! Patterns are compiled as `phonenumber` compiles them (whitespace
//! ignored). `tests::agrees_with_phonenumber_for_every_region` compares
//! the two over every region's example numbers and variations of them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use phonenumber::PhoneNumber;
use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::Regex;

/// One descriptor: its pattern, anchored, and its possible lengths.
struct Desc {
    re: Regex,
    lengths: Vec<u16>,
}

impl Desc {
    fn of(d: &Descriptor) -> Option<Desc> {
        Some(Desc {
            re: anchored(d.national_number().as_str())?,
            lengths: d.possible_length().to_vec(),
        })
    }

    fn is_match(&self, national: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
            && self.re.is_match(national)
    }
}

/// One region's validity rules.
struct Region {
    leading_digits: Option<Regex>,
    general: Desc,
    types: Vec<Desc>,
}

impl Region {
    fn of(meta: &Metadata) -> Option<Region> {
        let d = meta.descriptors();
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ];
        Some(Region {
            leading_digits: match meta.leading_digits() {
                Some(ld) => Some(anchored(ld.as_str())?),
                None => None,
            },
            general: Desc::of(d.general())?,
            types: types
                .into_iter()
                .flatten()
                .map(Desc::of)
                .collect::<Option<_>>()?,
        })
    }

    /// `number_type(meta, national) != Type::Unknown`.
    fn known_type(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
    }
}

/// The rules of one country calling code.
enum Code {
    /// One region decides.
    Single(Region),
    /// Several regions, tried in `phonenumber`'s order.
    Shared(Vec<Region>),
    /// No region `phonenumber` can name: nothing is valid.
    None,
}

impl Code {
    fn of(code: u16) -> Option<Code> {
        let Some(regions) = DATABASE.region(&code) else {
            return Some(Code::None);
        };
        if let [only] = regions[..] {
            let meta = if only == "001" {
                DATABASE.by_code(&code).and_then(|m| m.into_iter().next())
            } else if only.parse::<phonenumber::country::Id>().is_ok() {
                DATABASE.by_id(only)
            } else {
                None
            };
            return Some(match meta {
                Some(meta) => Code::Single(Region::of(meta)?),
                None => Code::None,
            });
        }
        let mut out = Vec::with_capacity(regions.len());
        for region in regions {
            out.push(Region::of(DATABASE.by_id(region)?)?);
        }
        Some(Code::Shared(out))
    }

    fn is_valid(&self, national: &str) -> bool {
        match self {
            Code::None => false,
            Code::Single(r) => r.known_type(national),
            Code::Shared(regions) => {
                for r in regions {
                    match &r.leading_digits {
                        Some(ld) if ld.is_match(national) => return r.known_type(national),
                        Some(_) => {}
                        None if r.known_type(national) => return true,
                        None => {}
                    }
                }
                false
            }
        }
    }
}

/// `pattern` compiled as `phonenumber` compiles it, anchored at the start.
/// The line break keeps a trailing `#` comment from swallowing the `)`.
fn anchored(pattern: &str) -> Option<Regex> {
    regex::RegexBuilder::new(&format!("^(?:{pattern}\n)"))
        .ignore_whitespace(true)
        .build()
        .ok()
}

thread_local! {
    /// Compiled rules per calling code; `None` when a pattern would not
    /// compile, and `phonenumber` itself is asked.
    static CODES: RefCell<HashMap<u16, Option<Rc<Code>>>> = RefCell::new(HashMap::new());
}

/// Whether `phonenumber` deems the number valid.
pub(crate) fn is_valid(pn: &PhoneNumber) -> bool {
    let code = pn.country().code();
    let rules = CODES.with(|codes| {
        codes
            .borrow_mut()
            .entry(code)
            .or_insert_with(|| Code::of(code).map(Rc::new))
            .clone()
    });
    match rules {
        Some(rules) => rules.is_valid(&pn.national().to_string()),
        None => phonenumber::is_valid(pn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Variations of a number that land on both sides of the rules: other
    /// digits at the start and the end, one digit more and one fewer.
    fn variations(example: &str) -> Vec<String> {
        let mut out = vec![example.to_owned()];
        let digits: Vec<u8> = example.bytes().collect();
        for d in b'0'..=b'9' {
            for at in [0, 1, digits.len().saturating_sub(1)] {
                if at < digits.len() {
                    let mut v = digits.clone();
                    v[at] = d;
                    out.push(String::from_utf8(v).unwrap());
                }
            }
            out.push(format!("{example}{}", d as char));
            out.push(format!("{}{example}", d as char));
        }
        out.push(example[..example.len().saturating_sub(1)].to_owned());
        out.push(example[..example.len().saturating_sub(2)].to_owned());
        out
    }

    #[test]
    fn agrees_with_phonenumber_for_every_region() {
        let mut checked = 0;
        let mut valid = 0;
        for meta in DATABASE.iter() {
            let d = meta.descriptors();
            let examples = [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ]
            .into_iter()
            .flatten()
            .filter_map(|d| d.example());
            for example in examples {
                for national in variations(example) {
                    let text = format!("+{}{national}", meta.country_code());
                    let Ok(pn) = phonenumber::parse(None, &text) else {
                        continue;
                    };
                    let expected = phonenumber::is_valid(&pn);
                    assert_eq!(is_valid(&pn), expected, "{text} ({})", meta.id());
                    checked += 1;
                    valid += usize::from(expected);
                }
            }
        }
        // Both answers are well represented.
        assert!(checked > 20_000, "only {checked} numbers checked");
        assert!(
            valid > 3_000 && checked - valid > 3_000,
            "{valid} of {checked} valid"
        );
    }

    #[test]
    fn shared_calling_codes_pick_the_region_phonenumber_picks() {
        // +44 is GB, GG, IM and JE; +7 is RU and KZ; +1 is the NANP.
        for text in [
            "+44 20 7946 0958",
            "+44 1481 256789",
            "+44 1624 756789",
            "+44 1534 456789",
            "+44 7700 900123",
            "+7 727 250 0123",
            "+7 495 123 4567",
            "+1 441 292 1234",
            "+1 876 927 1234",
            "+44 20 7946",
        ] {
            let pn = phonenumber::parse(None, text).unwrap();
            assert_eq!(is_valid(&pn), phonenumber::is_valid(&pn), "{text}");
        }
    }
}
