//! Loopback fakes for tests and benchmarks (feature `testkit`): a DNS
//! server answering from a scripted zone and SMTP servers with scripted
//! behaviour, plus the end-to-end throughput benchmark. One
//! implementation, used by this crate's tests, by `leadgen-app`'s job tests
//! and by the CLI (`leadgen verify bench`).

pub mod bench;
pub mod dns;
pub mod smtp;

use std::net::Ipv4Addr;
use std::time::Duration;

pub use dns::FakeDns;
pub use smtp::{Behavior, OnConnect, Rcpt, SmtpFarm};

use crate::{ResolverConfig, TlsMode, VerifyOptions};

/// The `n`-th loopback address after 127.0.0.1: 127.0.0.2, 127.0.0.3, …
/// (127.0.1.1 after 127.0.0.254).
pub fn loopback(n: usize) -> Ipv4Addr {
    let m = n + 1;
    Ipv4Addr::new(127, 0, (m / 254) as u8, (m % 254) as u8 + 1)
}

/// Options pointing at the fakes, with short timeouts for tests.
pub fn options(dns: &FakeDns, smtp_port: u16) -> VerifyOptions {
    VerifyOptions {
        resolver: ResolverConfig::Server(dns.addr()),
        smtp_port,
        helo: "probe.leadgen.test".into(),
        from: "probe@leadgen.test".into(),
        tls: TlsMode::Opportunistic,
        dns_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_secs(2),
        step_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(20),
        greylist_delay: Duration::from_millis(200),
        ..VerifyOptions::default()
    }
}
