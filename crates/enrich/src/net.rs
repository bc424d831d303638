//! An HTTP fetcher that cannot be pointed at the inside of the network.
//!
//! A company's website is outside input: a listing can name
//! `http://169.254.169.254/` or a domain whose DNS answer is `10.0.0.5`.
//! The fetcher therefore resolves names itself ([`HostResolver`]), refuses
//! any answer holding a non-public address, and hands reqwest only the
//! addresses it checked (a `reqwest::dns::Resolve` hook), so the connection
//! goes where the check looked — no second lookup an attacker's DNS could
//! answer differently. Redirects are followed by hand, each hop checked the
//! same way. Loopback and private networks are reachable only with
//! [`FetchOptions::allow_private_network`], which tests and local demos set.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

/// Looks up a host name's addresses. Replaceable so tests can make a name
/// resolve anywhere without touching the system's DNS.
pub trait HostResolver: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;
}

/// The operating system's resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A fixed table of names, for tests: every other name does not exist.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    entries: Vec<(String, Vec<IpAddr>)>,
    /// Answer for names not in the table (`None`: not found).
    fallback: Option<IpAddr>,
}

impl StaticResolver {
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    pub fn with(mut self, host: &str, ip: IpAddr) -> StaticResolver {
        self.entries.push((host.to_ascii_lowercase(), vec![ip]));
        self
    }

    /// Every name not listed resolves to `ip`.
    pub fn everything_to(mut self, ip: IpAddr) -> StaticResolver {
        self.fallback = Some(ip);
        self
    }
}

impl HostResolver for StaticResolver {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
        let host = host.to_ascii_lowercase();
        let found = self
            .entries
            .iter()
            .find(|(h, _)| *h == host)
            .map(|(_, ips)| ips.clone())
            .or_else(|| self.fallback.map(|ip| vec![ip]));
        Box::pin(async move {
            found.ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("{host}: no such host"))
            })
        })
    }
}

/// Whether `ip` is an address on the public internet. Everything a
/// request could use to reach the machine itself, its LAN, a cloud metadata
/// service or a carrier's NAT is not.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let private = a == 0                                   // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))            // CGNAT 100.64/10
        || (a == 169 && b == 254)                          // link-local, metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0)                  // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)                  // documentation
        || (a == 198 && (b == 18 || b == 19))              // benchmarking
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224; // multicast, reserved, broadcast
    !private
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Addresses that carry an IPv4 address are as public as that address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        // NAT64 well-known prefix 64:ff9b::/96
        return is_public_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        // 6to4 embeds the IPv4 address in the next 32 bits.
        return is_public_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    let private = ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0, 0, 0, 0, 0, 0]                   // IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00                       // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80                       // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0                       // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00                       // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8)              // documentation
        || s[0] == 0x0100 && s[1..4] == [0, 0, 0]; // discard-only 100::/64
    !private
}

/// Why a URL was not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: refused: {reason}")]
    Refused { url: String, reason: String },
    #[error("{url}: not a web address ({reason})")]
    BadUrl { url: String, reason: String },
    #[error("{url}: more than {max} redirects")]
    TooManyRedirects { url: String, max: usize },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: timed out")]
    Timeout { url: String },
}

impl FetchError {
    /// Refusals are about where a URL points, not about the network.
    pub fn is_refusal(&self) -> bool {
        matches!(self, FetchError::Refused { .. })
    }
}

/// Limits and identity of the fetcher.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Reach loopback and private networks (tests, local demos only).
    pub allow_private_network: bool,
    /// Non-public addresses reachable even without
    /// `allow_private_network` (an internal proxy, a test server).
    pub allowed_addresses: Vec<IpAddr>,
    pub max_redirects: usize,
    /// Bytes read of a body; the rest is dropped and the page marked
    /// truncated.
    pub max_bytes: usize,
    /// One request, redirects included.
    pub timeout: Duration,
    /// Where a site owner reads what the crawler is: appears in the user agent.
    pub bot_url: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            allow_private_network: false,
            allowed_addresses: Vec::new(),
            max_redirects: 5,
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(10),
            bot_url: "https://github.com/leadgen/leadgen#crawler".into(),
        }
    }
}

impl FetchOptions {
    pub fn user_agent(&self) -> String {
        format!("leadgen/{} (+{})", env!("CARGO_PKG_VERSION"), self.bot_url)
    }
}

/// A fetched response (any status).
#[derive(Debug, Clone)]
pub struct Page {
    /// Where the body came from, after redirects.
    pub url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    /// The body, lossily decoded as UTF-8, at most `max_bytes`.
    pub body: String,
    /// Bytes received (at most `max_bytes`).
    pub bytes: usize,
    pub truncated: bool,
    /// Time to the last byte, redirects included.
    pub elapsed: Duration,
    /// Headers a fingerprint may use (`server`, `x-powered-by`,
    /// `set-cookie`, …), names lower case.
    pub headers: Vec<(String, String)>,
    /// Every URL before `url`, in order.
    pub redirects: Vec<Url>,
}

impl Page {
    pub fn is_html(&self) -> bool {
        match &self.content_type {
            Some(ct) => ct.contains("html"),
            None => self.body.trim_start().starts_with('<'),
        }
    }
}

/// The resolver reqwest uses: looks names up through a [`HostResolver`]
/// and refuses any answer with an address that is not public.
struct GuardedResolver {
    inner: Arc<dyn HostResolver>,
    allow_private: bool,
    allowed: Arc<[IpAddr]>,
}

/// The error the guard gives reqwest, found again in reqwest's error chain.
#[derive(Debug)]
struct PrivateAddress(String);

impl std::fmt::Display for PrivateAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PrivateAddress {}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let lookup = self.inner.lookup(&host);
        let allow_private = self.allow_private;
        let allowed = self.allowed.clone();
        Box::pin(async move {
            let ips = lookup.await?;
            if ips.is_empty() {
                return Err(format!("{host}: no addresses").into());
            }
            if !allow_private
                && let Some(bad) = ips
                    .iter()
                    .find(|ip| !is_public(**ip) && !allowed.contains(ip))
            {
                return Err(Box::new(PrivateAddress(format!(
                    "{host} resolves to {bad}, which is not a public address"
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: Vec<SocketAddr> = ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The SSRF-safe fetcher; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    opts: Arc<FetchOptions>,
}

impl Fetcher {
    pub fn new(opts: FetchOptions) -> Result<Fetcher, FetchError> {
        Self::with_resolver(opts, Arc::new(SystemResolver))
    }

    pub fn with_resolver(
        opts: FetchOptions,
        resolver: Arc<dyn HostResolver>,
    ) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                inner: resolver,
                allow_private: opts.allow_private_network,
                allowed: opts.allowed_addresses.clone().into(),
            }))
            .no_proxy()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(5)))
            .user_agent(opts.user_agent())
            .pool_max_idle_per_host(2)
            .build()
            .map_err(|e| FetchError::Transport {
                url: String::new(),
                message: format!("building the HTTP client: {e}"),
            })?;
        Ok(Fetcher {
            client,
            opts: Arc::new(opts),
        })
    }

    pub fn options(&self) -> &FetchOptions {
        &self.opts
    }

    /// Checks what can be checked without DNS: scheme and IP literals.
    pub fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::BadUrl {
                url: url.to_string(),
                reason: format!("scheme {}", url.scheme()),
            });
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(d)) => {
                // "localhost" never needs DNS to be loopback.
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                (d == "localhost" || d.ends_with(".localhost"))
                    .then_some(IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
            None => {
                return Err(FetchError::BadUrl {
                    url: url.to_string(),
                    reason: "no host".into(),
                });
            }
        };
        match ip {
            Some(ip)
                if !self.opts.allow_private_network
                    && !is_public(ip)
                    && !self.opts.allowed_addresses.contains(&ip) =>
            {
                Err(FetchError::Refused {
                    url: url.to_string(),
                    reason: format!("{ip} is not a public address"),
                })
            }
            _ => Ok(()),
        }
    }

    /// GETs `url`, following up to `max_redirects` redirects, each checked.
    pub async fn get(&self, url: &Url) -> Result<Page, FetchError> {
        let started = Instant::now();
        let mut current = url.clone();
        let mut redirects = Vec::new();
        loop {
            self.check_url(&current)?;
            let resp = self
                .client
                .get(current.clone())
                .send()
                .await
                .map_err(|e| send_error(&current, &e))?;
            let status = resp.status().as_u16();
            if (300..400).contains(&status)
                && let Some(loc) = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
            {
                let next = current.join(loc).map_err(|e| FetchError::BadUrl {
                    url: loc.to_owned(),
                    reason: e.to_string(),
                })?;
                if redirects.len() >= self.opts.max_redirects {
                    return Err(FetchError::TooManyRedirects {
                        url: url.to_string(),
                        max: self.opts.max_redirects,
                    });
                }
                redirects.push(std::mem::replace(&mut current, next));
                continue;
            }
            return self.read(current, resp, redirects, started).await;
        }
    }

    async fn read(
        &self,
        url: Url,
        mut resp: reqwest::Response,
        redirects: Vec<Url>,
        started: Instant,
    ) -> Result<Page, FetchError> {
        let status = resp.status().as_u16();
        let keep = [
            "server",
            "x-powered-by",
            "set-cookie",
            "x-generator",
            "x-shopify-stage",
        ];
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.to_ascii_lowercase());
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.opts.max_bytes - body.len();
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(send_error(&url, &e)),
            }
        }
        Ok(Page {
            bytes: body.len(),
            body: String::from_utf8_lossy(&body).into_owned(),
            url,
            status,
            content_type,
            truncated,
            elapsed: started.elapsed(),
            headers,
            redirects,
        })
    }
}

fn send_error(url: &Url, e: &reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(p) = s.downcast_ref::<PrivateAddress>() {
            return FetchError::Refused {
                url: url.to_string(),
                reason: p.0.clone(),
            };
        }
        source = s.source();
    }
    if e.is_timeout() {
        return FetchError::Timeout {
            url: url.to_string(),
        };
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    FetchError::Transport {
        url: url.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn inside_addresses_are_not_public() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(s)), "{s} must not count as public");
        }
    }

    #[test]
    fn internet_addresses_are_public() {
        for s in [
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(s)), "{s} is public");
        }
    }

    #[test]
    fn ip_literals_and_localhost_are_refused_before_any_request() {
        let f = Fetcher::new(FetchOptions::default()).unwrap();
        for u in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost/",
            "http://[::ffff:192.168.0.1]/",
        ] {
            let err = f.check_url(&Url::parse(u).unwrap()).unwrap_err();
            assert!(err.is_refusal(), "{u}: {err}");
        }
        assert!(matches!(
            f.check_url(&Url::parse("file:///etc/passwd").unwrap()),
            Err(FetchError::BadUrl { .. })
        ));
        assert!(
            f.check_url(&Url::parse("https://example.com/").unwrap())
                .is_ok()
        );
    }
}
