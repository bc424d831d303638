//! The enrichment waterfall's free steps: an SSRF-safe fetcher ([`net`]),
//! robots.txt ([`robots`]), page extraction ([`extract`]), technology
//! fingerprints from a data file ([`tech`]), the website crawler
//! ([`crawl`]), and the email-pattern finder ([`pattern`], [`finder`]).

pub mod crawl;
pub mod extract;
pub mod finder;
pub mod llm;
pub mod net;
pub mod pattern;
pub mod provider;
pub mod robots;
pub mod tech;
pub mod waterfall;

#[cfg(feature = "testkit")]
pub mod testkit;
