//! End-to-end throughput: many fake domains, each with its own MX host on
//! its own loopback address, every reply delayed by `latency`; measures
//! addresses per second, peak memory and the most sessions open at once to
//! one host.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Behavior, FakeDns, SmtpFarm, loopback, options};
use crate::{Status, Verifier, verify_ordered};

#[derive(Debug, Clone)]
pub struct BenchSpec {
    pub addresses: usize,
    pub domains: usize,
    pub latency: Duration,
    pub concurrency: usize,
    pub per_host_concurrency: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub addresses: usize,
    pub domains: usize,
    pub latency_ms: u64,
    pub concurrency: usize,
    pub per_host_concurrency: usize,
    pub elapsed_ms: u64,
    pub addresses_per_s: f64,
    /// The verifier's count of sessions open at once to one host.
    pub max_sessions_per_host: usize,
    /// The fake servers' count of connections open at once (any server).
    pub max_connections_seen_by_a_server: usize,
    /// Peak resident memory of the process (VmHWM), KiB.
    pub peak_rss_kib: Option<u64>,
    pub valid: usize,
    pub invalid: usize,
    pub other: usize,
    pub dns_queries: usize,
}

/// Runs the benchmark (its own runtimes; call from synchronous code).
pub fn run(spec: &BenchSpec) -> std::io::Result<BenchReport> {
    let domains = spec.domains.max(1);
    let dns = FakeDns::start();
    let mut servers = Vec::with_capacity(domains);
    // Users u<k> exist where k % 5 != 0.
    let known: Vec<String> = (0..spec.addresses)
        .filter(|k| k % 5 != 0)
        .map(|k| format!("u{k}@d{}.bench.test", k % domains))
        .collect();
    let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
    let behavior = Behavior::known_users(&known_refs).latency(spec.latency);
    for d in 0..domains {
        let ip = loopback(d);
        dns.mail_domain(&format!("d{d}.bench.test"), ip);
        servers.push((ip, behavior.clone()));
    }
    let farm = SmtpFarm::start(servers);
    let mut opts = options(&dns, farm.port);
    opts.concurrency = spec.concurrency.max(1);
    opts.per_host_concurrency = spec.per_host_concurrency.max(1);
    opts.step_timeout = Duration::from_secs(10) + spec.latency * 4;
    opts.total_timeout = Duration::from_secs(120);
    let verifier = Arc::new(Verifier::new(opts).map_err(|e| std::io::Error::other(e.to_string()))?);
    let inputs = (0..spec.addresses).map(move |k| format!("u{k}@d{}.bench.test", k % domains));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let (mut valid, mut invalid, mut other) = (0, 0, 0);
    let window = spec.concurrency.max(1) * 2;
    rt.block_on(verify_ordered(
        verifier.clone(),
        inputs,
        window,
        |v| match v.status {
            Status::Valid => valid += 1,
            Status::Invalid => invalid += 1,
            _ => other += 1,
        },
    ));
    let elapsed = started.elapsed();
    let max_seen = farm
        .servers
        .iter()
        .map(|s| smtp_max(&s.stats))
        .max()
        .unwrap_or(0);
    rt.shutdown_background();
    Ok(BenchReport {
        addresses: spec.addresses,
        domains,
        latency_ms: spec.latency.as_millis() as u64,
        concurrency: spec.concurrency,
        per_host_concurrency: spec.per_host_concurrency,
        elapsed_ms: elapsed.as_millis() as u64,
        addresses_per_s: spec.addresses as f64 / elapsed.as_secs_f64().max(1e-9),
        max_sessions_per_host: verifier.max_sessions_per_host(),
        max_connections_seen_by_a_server: max_seen,
        peak_rss_kib: peak_rss_kib(),
        valid,
        invalid,
        other,
        dns_queries: dns.queries(),
    })
}

fn smtp_max(s: &super::smtp::Stats) -> usize {
    s.max_open.load(std::sync::atomic::Ordering::SeqCst)
}

/// VmHWM from /proc/self/status, KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
