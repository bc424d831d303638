//! Property tests for the normalizers: nothing panics on any input, every
//! canonical form parses back to itself, keys are stable, and the NANP fast
//! path of `Phone::parse` agrees with the full `phonenumber` parser.

use leadgen_core::dedupe::{KeyHashes, LeadKeys};
use leadgen_core::domain::{Domain, host_of};
use leadgen_core::email::Email;
use leadgen_core::geo::{Country, us_state_code};
use leadgen_core::linkedin::LinkedinUrl;
use leadgen_core::names::{
    company_name_key, person_name_key, split_full_name, tidy_company_name, tidy_name_part,
};
use leadgen_core::phone::{Phone, PhoneError};
use proptest::prelude::*;

const REGIONS: [Country; 6] = [
    Country::US,
    Country::CA,
    Country::GB,
    Country::DE,
    Country::FR,
    Country::AU,
];

/// Arbitrary strings: any Unicode, plus strings built from the characters
/// the parsers care about, which reach deeper code.
fn messy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ a-zA-Z0-9@.<>\"\\\\:/?#%+()&,'_-]{0,40}",
        "[ \\PC]{0,30}",
        "[0-9 ()+.x#-]{0,24}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn nothing_panics(s in messy()) {
        let _ = Email::parse(&s);
        let _ = Domain::parse(&s);
        let _ = host_of(&s);
        let _ = LinkedinUrl::parse(&s);
        let _ = Country::parse(&s);
        let _ = us_state_code(&s);
        let _ = Phone::from_e164(&s);
        let _ = split_full_name(&s);
        let _ = tidy_name_part(&s);
        let _ = person_name_key(&s, &s);
        let _ = tidy_company_name(&s);
        let _ = company_name_key(&s);
        if let Ok(e) = Email::parse(&s) {
            let _ = e.dedupe_key();
        }
    }

    #[test]
    fn phone_parse_never_panics(s in messy(), r in 0usize..REGIONS.len()) {
        let _ = Phone::parse(&s, REGIONS[r]);
    }

    #[test]
    fn canonical_forms_reparse_to_themselves(s in messy()) {
        if let Ok(e) = Email::parse(&s) {
            prop_assert_eq!(Email::parse(e.as_str()), Ok(e.clone()));
        }
        if let Ok(d) = Domain::parse(&s) {
            prop_assert_eq!(Domain::parse(d.as_str()), Ok(d.clone()));
        }
        if let Ok(u) = LinkedinUrl::parse(&s) {
            prop_assert_eq!(LinkedinUrl::parse(u.as_str()), Ok(u.clone()));
        }
        if let Ok(c) = Country::parse(&s) {
            prop_assert_eq!(Country::parse(c.as_str()), Ok(c));
        }
        let k = company_name_key(&s);
        prop_assert_eq!(company_name_key(&k), k);
    }
}

// ---------------------------------------------------------------------------
// Emails
// ---------------------------------------------------------------------------

fn email_like() -> impl Strategy<Value = String> {
    let local = "[A-Za-z0-9][A-Za-z0-9._+!#$%&'*/=?^`{|}~-]{0,20}[A-Za-z0-9]";
    let utf8_local = "[a-zA-Zäöüéñß][a-zA-Z0-9äöüÄÖÜéÉñß]{0,10}";
    let domain = prop_oneof![
        Just("gmail.com".to_owned()),
        Just("GoogleMail.com".to_owned()),
        Just("bücher.de".to_owned()),
        "[a-zA-Z][a-zA-Z0-9-]{0,10}[a-zA-Z0-9]\\.(com|co\\.uk|io|DE|org)",
    ];
    let wrap = prop_oneof![
        Just(("", "")),
        Just(("  ", " ")),
        Just(("mailto:", "?subject=hi")),
        Just(("Jane <", ">"))
    ];
    (prop_oneof![local, utf8_local], domain, wrap)
        .prop_map(|(l, d, (pre, post))| format!("{pre}{l}@{d}{post}"))
}

fn flip_ascii_case(s: &str, seed: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if (seed >> (i % 64)) & 1 == 1 {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn email_parse_is_idempotent(s in email_like()) {
        if let Ok(e) = Email::parse(&s) {
            let again = Email::parse(e.as_str());
            prop_assert_eq!(again, Ok(e.clone()));
        }
    }

    #[test]
    fn dedupe_key_is_idempotent_and_case_insensitive(s in email_like(), seed in any::<u64>()) {
        let Ok(e) = Email::parse(&s) else { return Ok(()) };
        let key = e.dedupe_key();
        let k2 = Email::parse(&key).map(|k| k.dedupe_key());
        prop_assert_eq!(k2, Ok(key.clone()));
        let flipped = Email::parse(&flip_ascii_case(&s, seed)).map(|f| f.dedupe_key());
        prop_assert_eq!(flipped, Ok(key.clone()));
        let mut buf = String::from("stale");
        e.dedupe_key_into(&mut buf);
        prop_assert_eq!(buf, key);
    }
}

// ---------------------------------------------------------------------------
// Domains, LinkedIn, companies
// ---------------------------------------------------------------------------

fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![Just(""), Just("http://"), Just("HTTPS://"), Just("//")];
    let sub = prop_oneof![Just(""), Just("www."), Just("WWW."), Just("shop.eu.")];
    let name = "[a-zA-Z0-9][a-zA-Z0-9-]{0,12}[a-zA-Z0-9]";
    let tld = prop_oneof![
        Just("com"),
        Just("co.uk"),
        Just("com.au"),
        Just("de"),
        Just("github.io"),
        Just("zzz")
    ];
    let tail = prop_oneof![
        Just(""),
        Just("/"),
        Just(":8080/about?x=1"),
        Just("."),
        Just("#top")
    ];
    (scheme, sub, name, tld, tail).prop_map(|(a, b, c, d, e)| format!("{a}{b}{c}.{d}{e}"))
}

fn linkedin_like() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        Just("linkedin.com"),
        Just("https://www.linkedin.com"),
        Just("http://uk.LinkedIn.com")
    ];
    let section = prop_oneof![
        Just("in"),
        Just("IN"),
        Just("company"),
        Just("school"),
        Just("sales/lead"),
        Just("pub")
    ];
    let slug = prop_oneof![
        "[a-zA-Z0-9-]{1,20}",
        "[a-z]{1,5}%[0-9A-F]{2}[a-z]{0,5}",
        "[a-zäöüÄÖÜ]{1,8}"
    ];
    let tail = prop_oneof![Just(""), Just("/"), Just("/about/"), Just("?utm_source=x")];
    (host, section, slug, tail).prop_map(|(h, s, sl, t)| format!("{h}/{s}/{sl}{t}"))
}

fn company_like() -> impl Strategy<Value = String> {
    let word = "[A-Za-zÉéü&]{1,8}";
    let suffix = prop_oneof![
        Just(""),
        Just(", Inc."),
        Just(" LLC"),
        Just(" L.L.C."),
        Just(" GmbH & Co. KG"),
        Just(" Pty Ltd"),
        Just(" S.A."),
        Just(" Sp. z o.o."),
        Just(" Company"),
    ];
    (prop::bool::ANY, prop::collection::vec(word, 1..4), suffix).prop_map(|(the, words, suf)| {
        format!(
            "{}{}{}",
            if the { "The " } else { "" },
            words.join(" "),
            suf
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn domain_parse_is_idempotent(s in url_like()) {
        if let Ok(d) = Domain::parse(&s) {
            prop_assert_eq!(Domain::parse(d.as_str()), Ok(d.clone()));
            // Case does not matter.
            prop_assert_eq!(Domain::parse(&s.to_ascii_uppercase()), Ok(d));
        }
    }

    #[test]
    fn linkedin_parse_is_idempotent(s in linkedin_like()) {
        if let Ok(u) = LinkedinUrl::parse(&s) {
            prop_assert_eq!(LinkedinUrl::parse(u.as_str()), Ok(u.clone()));
            prop_assert!(!u.as_str().ends_with('/'));
        }
    }

    #[test]
    fn company_key_is_stable(s in company_like()) {
        let k = company_name_key(&s);
        prop_assert_eq!(company_name_key(&k), k.clone());
        prop_assert_eq!(company_name_key(&s.to_uppercase()), k.clone());
        prop_assert_eq!(company_name_key(&s.to_lowercase()), k.clone());
        prop_assert_eq!(company_name_key(&tidy_company_name(&s)), k);
    }
}

// ---------------------------------------------------------------------------
// Phones: fast path == full path
// ---------------------------------------------------------------------------

/// Area codes: real ones (US, Canada, Caribbean incl. the two with
/// thousands-block patterns, toll-free, premium, personal), unassigned ones,
/// and random digits.
fn area_code() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "415", "212", "646", "917", "310", "512", "416", "604", "514", "787", "939", "246",
            "876", "658", "268", "441", "684", "800", "888", "877", "900", "500", "533", "555",
            "999", "911", "200", "211",
        ])
        .prop_map(str::to_owned),
        "[2-9][0-9]{2}",
        "[0-9]{3}",
    ]
}

fn exchange() -> impl Strategy<Value = String> {
    prop_oneof![Just("555".to_owned()), "[2-9][0-9]{2}", "[0-9]{3}"]
}

fn nanp_shaped() -> impl Strategy<Value = (String, Country)> {
    let prefix = prop::sample::select(vec![
        "", "", "", "+1", "+1 ", "1", "1-", "1 ", "+1-", "+1.", "+ 1 ", "+1(", "(+1) ", "+",
        "+44 ", "01",
    ]);
    let ext = prop::sample::select(vec![
        "",
        "",
        "",
        " x123",
        "x7",
        " ext. 45",
        " EXT:9",
        "ext1234567",
        " extension 12",
        " #0042",
        " x",
        " x12345678",
        " ext. ",
        ";ext=5",
        " ,123",
        "/x2",
    ]);
    let layout = 0usize..8;
    let lead = prop::sample::select(vec!["", "", "'", " ", "tel: "]);
    let region = prop::sample::select(vec![
        Country::US,
        Country::US,
        Country::CA,
        Country::GB,
        Country::DE,
        Country::AU,
        Country::parse("MX").unwrap_or(Country::US),
        Country::parse("JM").unwrap_or(Country::US),
        Country::parse("IN").unwrap_or(Country::US),
    ]);
    (
        lead,
        prefix,
        area_code(),
        exchange(),
        "[0-9]{4}",
        layout,
        ext,
        region,
        prop::bool::weighted(0.05),
    )
        .prop_map(|(lead, pre, a, e, l, layout, ext, region, drop_digit)| {
            let l = if drop_digit { l[..3].to_owned() } else { l };
            let body = match layout {
                0 => format!("({a}) {e}-{l}"),
                1 => format!("{a}-{e}-{l}"),
                2 => format!("{a}.{e}.{l}"),
                3 => format!("{a}{e}{l}"),
                4 => format!("{a} {e} {l}"),
                5 => format!("({a}){e}-{l}"),
                6 => format!("{a}-{e}{l}"),
                _ => format!("{a}{e}-{l}"),
            };
            (format!("{lead}{pre}{body}{ext}"), region)
        })
}

fn same_outcome(a: &Result<Phone, PhoneError>, b: &Result<Phone, PhoneError>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => {
            x.e164() == y.e164() && x.extension() == y.extension() && x.raw() == y.raw()
        }
        (Err(x), Err(y)) => x == y,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6000))]

    #[test]
    fn phone_fast_path_agrees_with_full_parser((s, region) in nanp_shaped()) {
        let full = Phone::parse_full(&s, region);
        if let Some(fast) = Phone::parse_fast(&s, region) {
            prop_assert!(same_outcome(&fast, &full), "{s:?} in {region}: fast {fast:?} vs full {full:?}");
        }
        let parsed = Phone::parse(&s, region);
        prop_assert!(same_outcome(&parsed, &full), "{s:?} in {region}: parse {parsed:?} vs full {full:?}");
        if let Ok(p) = parsed {
            let back = Phone::from_e164(&p.to_string());
            prop_assert_eq!(back, Ok(p));
        }
    }
}

/// Every area code, with exchanges across the range and two line numbers
/// each: the fast path's answer must equal the full parser's, and most
/// well-formed numbers must actually take the fast path.
#[test]
fn phone_fast_path_agrees_for_every_area_code() {
    let mut fast_taken = 0usize;
    let mut total = 0usize;
    for npa in 200..1000u32 {
        for (k, nxx) in [200u32, 555, 647, 911, 100].into_iter().enumerate() {
            let line = (npa * 7 + nxx * 13 + k as u32 * 1111) % 10_000;
            for s in [
                format!("({npa}) {nxx:03}-{line:04}"),
                format!("+1{npa}{nxx:03}{line:04} x9"),
            ] {
                total += 1;
                let full = Phone::parse_full(&s, Country::US);
                if let Some(fast) = Phone::parse_fast(&s, Country::US) {
                    fast_taken += 1;
                    assert!(
                        same_outcome(&fast, &full),
                        "{s}: fast {fast:?} vs full {full:?}"
                    );
                }
            }
        }
    }
    // Only area codes 246 and 876 (thousands-block allocations) fall back.
    assert!(
        fast_taken * 100 >= total * 99,
        "fast path took {fast_taken} of {total}"
    );
}

// ---------------------------------------------------------------------------
// Identity keys
// ---------------------------------------------------------------------------

proptest! {
    /// The import fingerprints a lead's keys in a reused buffer; that must
    /// give exactly the fingerprints of the keys as strings, whatever the
    /// buffer held before.
    #[test]
    fn key_hashes_in_a_reused_buffer_equal_the_keys_hashed(
        email in prop::option::of(email_like()),
        linkedin in prop::option::of(linkedin_like()),
        first in prop::option::of(messy()),
        last in prop::option::of(messy()),
        site in prop::option::of(url_like()),
        leftover in messy(),
    ) {
        let origin = leadgen_core::SourceRef {
            at: 0,
            record: leadgen_core::RecordId::new(1, 2),
        };
        let mut lead = leadgen_core::Lead::empty("csv_upload", origin);
        lead.email = email.and_then(|e| Email::parse(&e).ok());
        lead.linkedin = linkedin.and_then(|l| LinkedinUrl::parse(&l).ok());
        lead.first_name = first;
        lead.last_name = last;
        lead.company_domain = site.and_then(|s| Domain::parse(&s).ok());
        let mut buf = leftover;
        let fast = KeyHashes::of(&lead, &mut buf);
        prop_assert_eq!(fast, LeadKeys::of(&lead).hashes());
    }
}
