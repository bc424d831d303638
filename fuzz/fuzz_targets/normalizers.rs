//! Bytes as one cell through every normalizer. Besides not panicking, each
//! canonical form must parse back to itself and keys must be their own key:
//! dedupe compares canonical forms, so a form that drifts on re-parse would
//! split one person into two on the next import.

#![no_main]

use leadgen_core::domain::{Domain, host_of};
use leadgen_core::email::Email;
use leadgen_core::geo::{Country, us_state_code};
use leadgen_core::linkedin::LinkedinUrl;
use leadgen_core::names::{
    company_name_key, person_name_key, split_full_name, tidy_company_name, tidy_name_part,
};
use leadgen_core::phone::Phone;
use libfuzzer_sys::fuzz_target;

const REGIONS: [Country; 6] = [
    Country::US,
    Country::CA,
    Country::GB,
    Country::DE,
    Country::FR,
    Country::AU,
];

fuzz_target!(|data: &[u8]| {
    // The first byte picks the default phone region; the rest is the cell.
    let Some((&region, rest)) = data.split_first() else {
        return;
    };
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    let region = REGIONS[usize::from(region) % REGIONS.len()];

    if let Ok(e) = Email::parse(s) {
        assert_eq!(Email::parse(e.as_str()).as_ref(), Ok(&e));
        let key = e.dedupe_key();
        assert_eq!(Email::parse(&key).map(|k| k.dedupe_key()), Ok(key));
    }
    if let Ok(d) = Domain::parse(s) {
        assert_eq!(Domain::parse(d.as_str()).as_ref(), Ok(&d));
    }
    let _ = host_of(s);
    if let Ok(u) = LinkedinUrl::parse(s) {
        assert_eq!(LinkedinUrl::parse(u.as_str()).as_ref(), Ok(&u));
    }
    if let Ok(c) = Country::parse(s) {
        assert_eq!(Country::parse(c.as_str()), Ok(c));
    }
    let _ = us_state_code(s);

    let full = Phone::parse_full(s, region);
    if let Some(fast) = Phone::parse_fast(s, region) {
        assert_eq!(
            fast, full,
            "fast path and full parser disagree on {s:?} in {region}"
        );
    }
    if let Ok(p) = Phone::parse(s, region) {
        assert_eq!(Phone::from_e164(&p.to_string()).as_ref(), Ok(&p));
    }

    if let Some(name) = split_full_name(s) {
        let _ = person_name_key(&name.first, &name.last);
    }
    let _ = tidy_name_part(s);
    let _ = tidy_company_name(s);
    let key = company_name_key(s);
    assert_eq!(company_name_key(&key), key, "a company key is its own key");
});
