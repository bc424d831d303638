//! Property tests: no input panics the parser, and what it accepts is
//! stable (the canonical form parses to itself).

use leadgen_verify::{data, syntax};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        let r = syntax::parse(&s);
        if let Ok(a) = &r {
            prop_assert!(a.as_str().len() <= 254);
            prop_assert!(a.local().len() <= 64);
            // Core's parser (what the store keeps) agrees on the spelling.
            let core = leadgen_core::email::Email::parse(a.as_str());
            let core = core.map(|e| e.as_str().to_owned()).ok();
            prop_assert_eq!(core.as_deref(), Some(a.as_str()));
            let _ = data::suggest_domain(a.domain());
            let _ = data::is_role(a.local());
        }
    }

    #[test]
    fn email_shaped_strings_are_stable(
        local in "[a-zA-Z0-9.+_'\"é -]{0,70}",
        domain in "[a-zA-Z0-9.ü,_-]{0,70}",
        wrap in 0..3u8,
    ) {
        let raw = match wrap {
            0 => format!("{local}@{domain}"),
            1 => format!("mailto:{local}@{domain}"),
            _ => format!("Someone <{local}@{domain}>"),
        };
        if let Ok(a) = syntax::parse(&raw) {
            let again = syntax::parse(a.as_str());
            prop_assert!(again.is_ok(), "{raw:?} → {:?} does not parse again", a.as_str());
            let again = again.unwrap();
            prop_assert_eq!(again.as_str(), a.as_str());
        }
    }
}
