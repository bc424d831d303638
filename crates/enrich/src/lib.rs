//! The enrichment waterfall's free steps: an SSRF-safe fetcher ([`net`]),
//! robots.txt ([`robots`]), page extraction ([`extract`]), technology
//! fingerprints from a data file ([`tech`]) and the website crawler
//! ([`crawl`]).

pub mod crawl;
pub mod extract;
pub mod net;
pub mod robots;
pub mod tech;

#[cfg(feature = "testkit")]
pub mod testkit;
