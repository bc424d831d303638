//! The verifier: syntax, classification, DNS, SMTP and catch-all, put
//! together under concurrency caps, with per-domain caches.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OnceCell, Semaphore};

use crate::dns::{Dns, DnsError, MailHosts, ResolverConfig};
use crate::provider::{self, Provider};
use crate::result::{SmtpResult, Status, Verification};
use crate::smtp::{
    self, Failure, Reply, SessionEnd, SessionOptions, Socks5, Stage, TlsMode, Verdict,
};
use crate::{data, syntax};

/// Everything that can be configured. `Default` is the production setup:
/// the system resolver, port 25, opportunistic STARTTLS.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub resolver: ResolverConfig,
    pub smtp_port: u16,
    /// The name sent with EHLO/HELO. Use a name whose A record points at
    /// the probing machine: many servers check it.
    pub helo: String,
    /// The reverse path of `MAIL FROM`; empty is the null sender `<>`.
    pub from: String,
    pub tls: TlsMode,
    pub socks5: Option<Socks5>,
    /// Addresses verified at once (network part).
    pub concurrency: usize,
    /// SMTP sessions open at once to one MX host.
    pub per_host_concurrency: usize,
    /// New SMTP sessions per second to one MX host (`None`: no limit).
    pub per_host_rate: Option<f64>,
    pub dns_timeout: Duration,
    pub connect_timeout: Duration,
    /// Each SMTP reply must arrive within this.
    pub step_timeout: Duration,
    /// One address, DNS and SMTP and retries included, within this.
    pub total_timeout: Duration,
    /// Wait before the one retry after a 4xx (greylisting).
    pub greylist_delay: Duration,
    /// Probe a random address to detect catch-all domains.
    pub catch_all_check: bool,
    /// Syntax and classification only; no network at all.
    pub syntax_only: bool,
}

impl Default for VerifyOptions {
    fn default() -> VerifyOptions {
        VerifyOptions {
            resolver: ResolverConfig::System,
            smtp_port: 25,
            helo: "localhost".into(),
            from: String::new(),
            tls: TlsMode::Opportunistic,
            socks5: None,
            concurrency: 100,
            per_host_concurrency: 5,
            per_host_rate: None,
            dns_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            step_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(120),
            greylist_delay: Duration::from_secs(60),
            catch_all_check: true,
            syntax_only: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Dns(#[from] DnsError),
    #[error("{0}")]
    Options(String),
}

/// Catch-all answers are kept this long per domain.
const CATCH_ALL_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CatchAll {
    Yes,
    No,
    /// Microsoft 365 accepted the random address at RCPT: its frontend does
    /// that for tenants without directory-based edge blocking and bounces
    /// later, so neither address's fate is known.
    MicrosoftAcceptsAll,
}

struct HostGate {
    sessions: Arc<Semaphore>,
    next_start: Mutex<Instant>,
    active: AtomicUsize,
    max_active: AtomicUsize,
}

type CatchAllCell = Arc<OnceCell<(CatchAll, Instant)>>;

/// Verifies addresses. Share one (`Arc`) across tasks: the caches and caps
/// are per verifier.
pub struct Verifier {
    opts: VerifyOptions,
    session: SessionOptions,
    dns: Option<Dns>,
    global: Semaphore,
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
    catch_all: Mutex<HashMap<String, CatchAllCell>>,
}

/// What the network said about one address.
#[derive(Debug)]
enum Outcome {
    NotChecked,
    Invalid(&'static str),
    Unknown(&'static str),
    Accepted(Option<CatchAll>),
}

struct ProbeResult {
    verdict: Option<Verdict>,
    /// The reply that decided, or the last failure's reply.
    reply: Option<Reply>,
    host: Option<String>,
    tls: bool,
    /// Why nothing was decided, when nothing was.
    failure: Option<&'static str>,
}

impl Verifier {
    pub fn new(opts: VerifyOptions) -> Result<Verifier, VerifyError> {
        if opts.concurrency == 0 || opts.per_host_concurrency == 0 {
            return Err(VerifyError::Options(
                "concurrency and per-host concurrency must be at least 1".into(),
            ));
        }
        if opts
            .per_host_rate
            .is_some_and(|r| !(r > 0.0 && r.is_finite()))
        {
            return Err(VerifyError::Options(
                "the per-host rate must be a positive number of sessions per second".into(),
            ));
        }
        let dns = if opts.syntax_only {
            None
        } else {
            Some(Dns::new(&opts.resolver, opts.dns_timeout)?)
        };
        data::warm_up();
        Ok(Verifier {
            session: SessionOptions {
                port: opts.smtp_port,
                helo: opts.helo.clone(),
                from: opts.from.clone(),
                tls: opts.tls,
                connect_timeout: opts.connect_timeout,
                step_timeout: opts.step_timeout,
                socks5: opts.socks5.clone(),
            },
            global: Semaphore::new(opts.concurrency),
            dns,
            hosts: Mutex::new(HashMap::new()),
            catch_all: Mutex::new(HashMap::new()),
            opts,
        })
    }

    pub fn options(&self) -> &VerifyOptions {
        &self.opts
    }

    /// The most SMTP sessions that were open at once to any one host.
    pub fn max_sessions_per_host(&self) -> usize {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .values()
            .map(|g| g.max_active.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }

    /// Verifies one address as found in a list. Never fails: problems are
    /// part of the result (`status`, `reason`).
    pub async fn verify(&self, raw: &str) -> Verification {
        let (mut v, addr) = self.syntax(raw);
        let Some(addr) = addr else {
            return v;
        };
        let outcome = if self.opts.syntax_only {
            Outcome::NotChecked
        } else {
            let _permit = self.global.acquire().await;
            let work = self.deliverability(addr.as_str(), addr.domain(), &mut v);
            match tokio::time::timeout(self.opts.total_timeout, work).await {
                Ok(o) => o,
                Err(_) => Outcome::Unknown("timeout"),
            }
        };
        decide(&mut v, outcome);
        v
    }

    /// Syntax and classification only, without the network and without a
    /// runtime, whatever the options say.
    pub fn check_syntax(&self, raw: &str) -> Verification {
        let (mut v, addr) = self.syntax(raw);
        if addr.is_some() {
            decide(&mut v, Outcome::NotChecked);
        }
        v
    }

    /// The result so far and, when the syntax is valid, the address.
    fn syntax<'a>(&self, raw: &'a str) -> (Verification, Option<syntax::Address<'a>>) {
        let mut v = Verification::new(raw);
        let addr = match syntax::parse(raw) {
            Ok(a) => a,
            Err(e) => {
                v.reason = Some(e.reason.code().to_owned());
                v.message = Some(e.message);
                v.suggestion = e.suggestion;
                v.status = Status::Invalid;
                v.score = 0;
                return (v, None);
            }
        };
        v.syntax_valid = true;
        let (local, domain) = (addr.local(), addr.domain());
        v.is_disposable = data::is_disposable(domain);
        v.is_free = data::is_free(domain);
        v.is_role = data::is_role(local);
        v.suggestion = data::suggest_domain(domain).map(|d| format!("{local}@{d}"));
        v.normalized = Some(addr.as_str().to_owned());
        (v, Some(addr))
    }

    async fn deliverability(&self, addr: &str, domain: &str, v: &mut Verification) -> Outcome {
        let Some(dns) = &self.dns else {
            return Outcome::NotChecked;
        };
        let hosts = if let Some(ip) = ip_literal(domain) {
            vec![ip.to_string()]
        } else {
            match dns.mail_hosts(domain).await {
                Err(DnsError::Timeout { .. }) => return Outcome::Unknown("dns_timeout"),
                Err(e) => {
                    tracing::debug!(domain, error = %e, "MX lookup failed");
                    return Outcome::Unknown("dns_failure");
                }
                Ok(MailHosts::NoSuchDomain) => return Outcome::Invalid("no_such_domain"),
                Ok(MailHosts::NullMx) => return Outcome::Invalid("null_mx"),
                Ok(MailHosts::NoMailServer) => return Outcome::Invalid("no_mail_server"),
                Ok(MailHosts::Hosts { hosts, .. }) => hosts,
            }
        };
        let prov = provider::detect(&hosts);
        v.mx_hosts = hosts.clone();
        v.provider = Some(prov.as_str().to_owned());

        let real = self.probe_hosts(&hosts, addr).await;
        let mut smtp = SmtpResult {
            code: real.reply.as_ref().map(|r| r.code),
            enhanced_code: real.reply.as_ref().and_then(|r| r.enhanced.clone()),
            message: real.reply.as_ref().map(|r| r.message.clone()),
            catch_all: None,
            host: real.host.clone(),
            tls: real.tls,
        };
        let outcome = match real.verdict {
            None => Outcome::Unknown(real.failure.unwrap_or("smtp_unreachable")),
            Some(Verdict::Accepted) => {
                let ca = if self.opts.catch_all_check {
                    self.catch_all(domain, &hosts, prov).await
                } else {
                    None
                };
                smtp.catch_all = match ca {
                    Some(CatchAll::Yes) => Some(true),
                    Some(CatchAll::No) => Some(false),
                    _ => None,
                };
                Outcome::Accepted(ca)
            }
            Some(Verdict::NoSuchUser) => {
                smtp.catch_all = Some(false);
                Outcome::Invalid("mailbox_not_found")
            }
            Some(Verdict::Blocked) => Outcome::Unknown("smtp_blocked"),
            Some(Verdict::TryLater) => Outcome::Unknown("greylisted"),
            Some(Verdict::MultipleRegions) => Outcome::Unknown("multiple_regions"),
            Some(Verdict::Unavailable) => Outcome::Unknown("smtp_unavailable"),
            Some(Verdict::Unclear) => Outcome::Unknown("smtp_unclear"),
        };
        v.smtp = Some(smtp);
        outcome
    }

    /// Is `domain` catch-all? Asked once per domain (concurrent callers
    /// share the probe) and remembered for an hour; an undecided probe is
    /// not remembered.
    async fn catch_all(&self, domain: &str, hosts: &[String], prov: Provider) -> Option<CatchAll> {
        let cell = {
            let mut map = self.catch_all.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let stale = map
                .get(domain)
                .is_some_and(|c| c.get().is_some_and(|(_, exp)| *exp <= now));
            if stale {
                map.remove(domain);
            }
            map.entry(domain.to_owned()).or_default().clone()
        };
        let got = cell
            .get_or_try_init(|| async {
                let probe = format!("{}@{domain}", random_local());
                let r = self.probe_hosts(hosts, &probe).await;
                let answer = match r.verdict {
                    Some(Verdict::Accepted) if prov == Provider::Microsoft365 => {
                        CatchAll::MicrosoftAcceptsAll
                    }
                    Some(Verdict::Accepted) => CatchAll::Yes,
                    Some(Verdict::NoSuchUser) => CatchAll::No,
                    _ => return Err(()),
                };
                Ok((answer, Instant::now() + CATCH_ALL_TTL))
            })
            .await;
        got.ok().map(|(a, _)| *a)
    }

    /// Asks the hosts in preference order about `rcpt`, moving to the next
    /// host when one cannot be reached, times out, hangs up or answers 421.
    /// A 4xx (greylisting) is retried once on the same host after
    /// `greylist_delay`; Microsoft's "multiple regions" once at once, in a
    /// fresh session.
    async fn probe_hosts(&self, hosts: &[String], rcpt: &str) -> ProbeResult {
        let mut last = ProbeResult {
            verdict: None,
            reply: None,
            host: None,
            tls: false,
            failure: Some("smtp_unreachable"),
        };
        let Some(dns) = &self.dns else {
            return last;
        };
        for host in hosts {
            let ip = match dns.addresses(host).await {
                Ok(ips) => match ips.first() {
                    Some(ip) => *ip,
                    None => continue,
                },
                Err(e) => {
                    tracing::debug!(host, error = %e, "MX host address lookup failed");
                    continue;
                }
            };
            let mut retried = false;
            loop {
                let s = self.session(host, ip, rcpt).await;
                last.host = Some(host.clone());
                last.tls = s.tls;
                match s.end {
                    SessionEnd::Rcpt(reply) => {
                        let verdict = smtp::classify(&reply);
                        last.reply = Some(reply);
                        last.failure = None;
                        match verdict {
                            Verdict::Unavailable => {
                                last.verdict = Some(verdict);
                                break;
                            }
                            Verdict::TryLater if !retried => {
                                retried = true;
                                tokio::time::sleep(self.opts.greylist_delay).await;
                                continue;
                            }
                            Verdict::MultipleRegions if !retried => {
                                retried = true;
                                continue;
                            }
                            _ => {
                                last.verdict = Some(verdict);
                                return last;
                            }
                        }
                    }
                    SessionEnd::Failed { stage, failure } => {
                        last.verdict = None;
                        match failure {
                            Failure::Reply(r) if r.code == 421 => {
                                last.failure = Some("smtp_unavailable");
                                last.reply = Some(r);
                                break;
                            }
                            Failure::Reply(r) => {
                                // A refusal before RCPT (banner, HELO, MAIL
                                // FROM) is about us, not the mailbox.
                                let temp = (400..500).contains(&r.code);
                                if temp && !retried && stage != Stage::Connect {
                                    retried = true;
                                    tokio::time::sleep(self.opts.greylist_delay).await;
                                    continue;
                                }
                                last.failure =
                                    Some(if temp { "greylisted" } else { "smtp_blocked" });
                                last.reply = Some(r);
                                return last;
                            }
                            Failure::Timeout => last.failure = Some("smtp_timeout"),
                            Failure::Disconnected => last.failure = Some("smtp_disconnected"),
                            Failure::Connect(e) => {
                                tracing::debug!(host, error = %e, "SMTP connect failed");
                                last.failure = Some("smtp_unreachable");
                            }
                            Failure::Tls(e) => {
                                tracing::debug!(host, error = %e, "STARTTLS failed");
                                last.failure = Some("tls_failed");
                            }
                        }
                        break;
                    }
                }
            }
        }
        last
    }

    /// One session under the host's caps. An opportunistic STARTTLS whose
    /// handshake fails is repeated in plain text.
    async fn session(&self, host: &str, ip: IpAddr, rcpt: &str) -> smtp::Session {
        let gate = self.gate(host);
        let _permit = gate.sessions.clone().acquire_owned().await;
        if let Some(rate) = self.opts.per_host_rate {
            let start = {
                let mut next = gate.next_start.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let start = (*next).max(now);
                *next = start + Duration::from_secs_f64(1.0 / rate);
                start
            };
            tokio::time::sleep_until(start.into()).await;
        }
        let active = gate.active.fetch_add(1, Ordering::SeqCst) + 1;
        gate.max_active.fetch_max(active, Ordering::SeqCst);
        let mut s = smtp::probe(&self.session, host, ip, rcpt).await;
        if self.session.tls == TlsMode::Opportunistic
            && matches!(
                s.end,
                SessionEnd::Failed {
                    stage: Stage::StartTls,
                    failure: Failure::Tls(_)
                } | SessionEnd::Failed {
                    stage: Stage::StartTls,
                    failure: Failure::Disconnected
                }
            )
        {
            let plain = SessionOptions {
                tls: TlsMode::Off,
                ..self.session.clone()
            };
            s = smtp::probe(&plain, host, ip, rcpt).await;
        }
        gate.active.fetch_sub(1, Ordering::SeqCst);
        s
    }

    fn gate(&self, host: &str) -> Arc<HostGate> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .entry(host.to_owned())
            .or_insert_with(|| {
                Arc::new(HostGate {
                    sessions: Arc::new(Semaphore::new(self.opts.per_host_concurrency)),
                    next_start: Mutex::new(Instant::now()),
                    active: AtomicUsize::new(0),
                    max_active: AtomicUsize::new(0),
                })
            })
            .clone()
    }
}

/// Status, score and reason from what was found. The rule is documented in
/// the crate docs (lib.rs); keep the two in step.
fn decide(v: &mut Verification, outcome: Outcome) {
    let (status, score, reason): (Status, u8, Option<&str>) = match outcome {
        Outcome::Invalid(r) => (Status::Invalid, 0, Some(r)),
        _ if v.is_disposable => (Status::Risky, 15, Some("disposable")),
        Outcome::NotChecked => (Status::Unknown, 40, None),
        Outcome::Unknown(r @ ("dns_timeout" | "dns_failure")) => (Status::Unknown, 20, Some(r)),
        Outcome::Unknown(r) => (Status::Unknown, 30, Some(r)),
        Outcome::Accepted(Some(CatchAll::MicrosoftAcceptsAll)) => {
            (Status::Unknown, 35, Some("accepts_any_recipient"))
        }
        Outcome::Accepted(Some(CatchAll::Yes)) if v.is_role => {
            (Status::CatchAll, 40, Some("catch_all"))
        }
        Outcome::Accepted(Some(CatchAll::Yes)) => (Status::CatchAll, 50, Some("catch_all")),
        Outcome::Accepted(_) if v.is_role => (Status::Risky, 60, Some("role_account")),
        Outcome::Accepted(Some(CatchAll::No)) => (Status::Valid, 95, None),
        // Accepted, but whether the domain accepts anything is unknown.
        Outcome::Accepted(None) => (Status::Valid, 80, None),
    };
    v.status = status;
    v.score = score;
    v.reason = reason.map(str::to_owned);
}

/// `[192.0.2.1]` / `[IPv6:2001:db8::1]` → the address.
fn ip_literal(domain: &str) -> Option<IpAddr> {
    let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
    let inner = inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
        .unwrap_or(inner);
    inner.parse().ok()
}

/// A local part nobody has: 20 random letters and digits.
fn random_local() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = crate::dns::random_u64();
    let mut s = String::with_capacity(20);
    for i in 0..20 {
        if i == 10 {
            x = crate::dns::random_u64();
        }
        s.push(CHARS[(x % CHARS.len() as u64) as usize] as char);
        x /= CHARS.len() as u64;
    }
    s
}

/// Verifies `inputs` with up to `window` addresses in flight and hands each
/// result to `sink` in input order. Memory is bounded by `window`.
pub async fn verify_ordered<I, F>(verifier: Arc<Verifier>, inputs: I, window: usize, mut sink: F)
where
    I: IntoIterator<Item = String>,
    F: FnMut(Verification),
{
    let mut pending: VecDeque<(String, tokio::task::JoinHandle<Verification>)> = VecDeque::new();
    let mut inputs = inputs.into_iter();
    loop {
        while pending.len() < window.max(1) {
            let Some(raw) = inputs.next() else { break };
            let v = verifier.clone();
            let input = raw.clone();
            pending.push_back((input, tokio::spawn(async move { v.verify(&raw).await })));
        }
        let Some((raw, head)) = pending.pop_front() else {
            return;
        };
        match head.await {
            Ok(v) => sink(v),
            Err(e) => {
                // A panicking verification must not lose its slot in the
                // output: report it as unknown.
                let mut v = Verification::new(&raw);
                v.reason = Some("internal_error".into());
                v.message = Some(e.to_string());
                sink(v)
            }
        }
    }
}
