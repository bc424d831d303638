//! Bytes as one address through the verifier's syntax check and the
//! classification look-ups. Besides not panicking: an accepted address is
//! within the RFC length limits, its canonical form parses back to itself,
//! the fast path agrees with core's parser on what it accepts, and a
//! suggested correction is itself a valid address.

#![no_main]

use leadgen_core::email::Email;
use leadgen_verify::{data, syntax};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match syntax::parse(s) {
        Ok(a) => {
            assert!(a.as_str().len() <= 254, "{s:?}");
            assert!(a.local().len() <= 64, "{s:?}");
            let again = syntax::parse(a.as_str()).expect("canonical form parses");
            assert_eq!(again.as_str(), a.as_str());
            // Core accepts everything the verifier accepts, with the same
            // canonical spelling.
            let core = Email::parse(a.as_str()).expect("core parses it too");
            assert_eq!(core.as_str(), a.as_str());
            let _ = data::is_disposable(a.domain());
            let _ = data::is_free(a.domain());
            let _ = data::is_role(a.local());
            if let Some(d) = data::suggest_domain(a.domain()) {
                assert!(syntax::parse(&format!("{}@{d}", a.local())).is_ok(), "{d:?}");
            }
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            if let Some(fix) = e.suggestion {
                assert!(syntax::parse(&fix).is_ok(), "{s:?} → {fix:?}");
            }
        }
    }
});
