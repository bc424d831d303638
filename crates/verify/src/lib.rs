//! Email verification: syntax, classification, DNS, SMTP probe, catch-all,
//! and a status with a score.
//!
//! ```text
//! raw ─▶ syntax::parse ─▶ data (disposable, free, role, typo) ─▶ dns (MX → A/AAAA, null MX)
//!     ─▶ smtp session: EHLO, STARTTLS?, MAIL FROM, RCPT TO <address>, QUIT   (MX hosts in order)
//!     ─▶ accepted? another session: RCPT TO <random>@domain (catch-all, cached per domain)
//!     ─▶ status + score
//! ```
//!
//! # Status and score
//!
//! The rule is applied in this order; the first match wins.
//!
//! | found | status | score | reason |
//! |---|---|---|---|
//! | bad syntax | `invalid` | 0 | the syntax reason (`missing_at`, `consecutive_dots`, …) |
//! | NXDOMAIN, null MX (RFC 7505), no MX and no A/AAAA, or the server says the mailbox does not exist (5.1.1, 5.1.10, "user unknown", …) | `invalid` | 0 | `no_such_domain`, `null_mx`, `no_mail_server`, `mailbox_not_found` |
//! | a disposable domain (not proven invalid) | `risky` | 15 | `disposable` |
//! | syntax only (no network asked) | `unknown` | 40 | null |
//! | DNS timeout or SERVFAIL | `unknown` | 20 | `dns_timeout`, `dns_failure` |
//! | no SMTP answer, greylisted twice, blocked by policy, 421 everywhere, Microsoft "multiple regions" twice, odd replies | `unknown` | 30 | `smtp_timeout`, `smtp_unreachable`, `greylisted`, `smtp_blocked`, … |
//! | accepted, but Microsoft 365 also accepted a random address | `unknown` | 35 | `accepts_any_recipient` |
//! | accepted, and the domain accepts any address | `catch_all` | 50 (role address: 40) | `catch_all` |
//! | accepted role address (info@, sales@, …) | `risky` | 60 | `role_account` |
//! | accepted, random address rejected | `valid` | 95 | null |
//! | accepted, catch-all probe undecided | `valid` | 80 | null |
//!
//! Uncertainty is never rounded up: a policy block, greylisting or timeout
//! says nothing about the mailbox, so it is `unknown`, not `invalid`. A role
//! address the server rejects is `invalid` like any other.
//!
//! # Decisions
//!
//! * MX hosts are tried in preference order; a host that cannot be reached,
//!   times out, hangs up or answers 421 hands over to the next.
//! * The catch-all probe runs in its own SMTP session (Microsoft answers a
//!   second `RCPT` in one session with "recipients belong to multiple
//!   regions"). On Microsoft 365 a random address accepted at `RCPT` does
//!   not make the domain catch-all (tenants without directory-based edge
//!   blocking accept everything and bounce later): the result is `unknown`.
//! * A 4xx at `RCPT` (greylisting) is retried once after `greylist_delay`,
//!   then reported `unknown`.
//! * STARTTLS is used when offered (opportunistic by default) and accepts
//!   any certificate: MX certificates often do not match, and nothing
//!   secret is sent. `TlsMode::Required` refuses servers without STARTTLS.
//! * Caps: a global limit of addresses in flight, a semaphore per MX host,
//!   and an optional per-host session rate.

pub mod data;
pub mod dns;
pub mod provider;
pub mod result;
pub mod smtp;
pub mod syntax;
pub mod verifier;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use dns::ResolverConfig;
pub use provider::Provider;
pub use result::{SmtpResult, Status, Verification};
pub use smtp::{Socks5, TlsMode};
pub use verifier::{Verifier, VerifyError, VerifyOptions, verify_ordered};
