//! A small stub resolver for what verification needs: MX (with the RFC 5321
//! implicit-MX fallback to A/AAAA and RFC 7505 null MX) and host addresses.
//!
//! Why our own and not a full resolver library: we need the response code
//! itself (NXDOMAIN is "invalid domain", SERVFAIL and timeouts are
//! "unknown"), a cache that keeps answers exactly as long as their TTL, and a
//! server that tests can replace with a loopback fake. Messages are encoded
//! and decoded by `hickory-proto`; queries go over UDP, and over TCP when an
//! answer comes back truncated.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::OnceCell;

/// Which DNS server to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolverConfig {
    /// The `nameserver` lines of `/etc/resolv.conf`.
    System,
    /// One server, `ip:port` (tests use a loopback fake).
    Server(SocketAddr),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("DNS query for {name} ({rtype}) timed out")]
    Timeout { name: String, rtype: String },
    #[error("DNS server answered {rcode} for {name} ({rtype})")]
    ServerFailure {
        name: String,
        rtype: String,
        rcode: String,
    },
    #[error("DNS: {0}")]
    Other(String),
    #[error("no DNS server configured (no nameserver line in /etc/resolv.conf)")]
    NoServer,
}

/// Where a domain's mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailHosts {
    /// Hosts in preference order (lowest preference value first). `implicit`
    /// when the domain has no MX and its own A/AAAA record stands in.
    Hosts { hosts: Vec<String>, implicit: bool },
    /// RFC 7505: the domain declares that it accepts no mail.
    NullMx,
    /// The domain exists but has neither MX nor address records.
    NoMailServer,
    /// NXDOMAIN: no such domain.
    NoSuchDomain,
}

#[derive(Debug, Clone)]
struct Answer {
    rcode: ResponseCode,
    records: Vec<(u32, RData)>,
}

type Cell = Arc<OnceCell<(Answer, Instant)>>;

/// Answers for negative results without an SOA are kept this long.
const NEGATIVE_TTL: u32 = 60;
/// Never keep anything longer than this, whatever the TTL says.
const MAX_TTL: u32 = 86_400;
const CACHE_LIMIT: usize = 200_000;

/// The resolver: servers, timeout, and a per-(name, type) cache honouring
/// TTLs. Concurrent look-ups of one name share one query.
pub struct Dns {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    attempts: u32,
    cache: Mutex<HashMap<(String, RecordType), Cell>>,
    queries_sent: std::sync::atomic::AtomicU64,
}

impl Dns {
    pub fn new(config: &ResolverConfig, timeout: Duration) -> Result<Dns, DnsError> {
        let servers = match config {
            ResolverConfig::Server(a) => vec![*a],
            ResolverConfig::System => system_servers(),
        };
        if servers.is_empty() {
            return Err(DnsError::NoServer);
        }
        Ok(Dns {
            servers,
            timeout,
            attempts: 2,
            cache: Mutex::new(HashMap::new()),
            queries_sent: 0.into(),
        })
    }

    /// Queries that went to a server (not answered from the cache).
    pub fn queries_sent(&self) -> u64 {
        self.queries_sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The mail hosts of `domain` (ASCII, punycode).
    pub async fn mail_hosts(&self, domain: &str) -> Result<MailHosts, DnsError> {
        let mx = self.lookup(domain, RecordType::MX).await?;
        if mx.rcode == ResponseCode::NXDomain {
            return Ok(MailHosts::NoSuchDomain);
        }
        let mut found: Vec<(u16, String)> = mx
            .records
            .iter()
            .filter_map(|(_, r)| match r {
                RData::MX(m) => Some((m.preference(), host_name(m.exchange()))),
                _ => None,
            })
            .collect();
        if found.len() == 1 && found[0].1.is_empty() {
            return Ok(MailHosts::NullMx);
        }
        // A "." among other MX records is a misconfiguration; skip it.
        found.retain(|(_, h)| !h.is_empty());
        if !found.is_empty() {
            found.sort_by_key(|(p, _)| *p);
            let mut hosts: Vec<String> = Vec::with_capacity(found.len());
            for (_, h) in found {
                if !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
            return Ok(MailHosts::Hosts {
                hosts,
                implicit: false,
            });
        }
        // RFC 5321 §5.1: no MX, so the domain itself is the mail host.
        if !self.addresses(domain).await?.is_empty() {
            return Ok(MailHosts::Hosts {
                hosts: vec![domain.trim_end_matches('.').to_ascii_lowercase()],
                implicit: true,
            });
        }
        Ok(MailHosts::NoMailServer)
    }

    /// IPv4 addresses of `host`, else its IPv6 addresses.
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let a = self.lookup(host, RecordType::A).await?;
        let v4: Vec<IpAddr> = a
            .records
            .iter()
            .filter_map(|(_, r)| match r {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                _ => None,
            })
            .collect();
        if !v4.is_empty() || a.rcode == ResponseCode::NXDomain {
            return Ok(v4);
        }
        let aaaa = self.lookup(host, RecordType::AAAA).await?;
        Ok(aaaa
            .records
            .iter()
            .filter_map(|(_, r)| match r {
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect())
    }

    async fn lookup(&self, name: &str, rtype: RecordType) -> Result<Answer, DnsError> {
        let key = (name.trim_end_matches('.').to_ascii_lowercase(), rtype);
        let cell = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let fresh = cache
                .get(&key)
                .filter(|c| c.get().is_none_or(|(_, exp)| *exp > now))
                .cloned();
            match fresh {
                Some(c) => c,
                None => {
                    if cache.len() >= CACHE_LIMIT {
                        cache.retain(|_, c| c.get().is_some_and(|(_, exp)| *exp > now));
                        if cache.len() >= CACHE_LIMIT {
                            cache.clear();
                        }
                    }
                    let c: Cell = Arc::default();
                    cache.insert(key.clone(), c.clone());
                    c
                }
            }
        };
        let (answer, _) = cell
            .get_or_try_init(|| async {
                let answer = self.query(&key.0, rtype).await?;
                let ttl = ttl_of(&answer);
                Ok::<_, DnsError>((answer, Instant::now() + Duration::from_secs(ttl.into())))
            })
            .await?;
        Ok(answer.clone())
    }

    async fn query(&self, name: &str, rtype: RecordType) -> Result<Answer, DnsError> {
        let qname = Name::from_ascii(format!("{name}."))
            .map_err(|e| DnsError::Other(format!("bad name {name:?}: {e}")))?;
        let mut last = DnsError::Timeout {
            name: name.to_owned(),
            rtype: rtype.to_string(),
        };
        for attempt in 0..self.attempts {
            for server in &self.servers {
                self.queries_sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match self.query_server(*server, &qname, rtype).await {
                    Ok(msg) => {
                        let rcode = msg.response_code();
                        if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
                            last = DnsError::ServerFailure {
                                name: name.to_owned(),
                                rtype: rtype.to_string(),
                                rcode: rcode.to_string(),
                            };
                            continue;
                        }
                        return Ok(to_answer(&msg, rtype));
                    }
                    Err(e) => {
                        tracing::debug!(%server, attempt, error = %e, "DNS query failed");
                        last = e;
                    }
                }
            }
        }
        Err(last)
    }

    async fn query_server(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
    ) -> Result<Message, DnsError> {
        let id: u16 = random_u16();
        let mut msg = Message::new();
        msg.set_id(id)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .add_query(Query::query(name.clone(), rtype));
        let wire = msg
            .to_vec()
            .map_err(|e| DnsError::Other(format!("encoding a query: {e}")))?;
        let timeout_err = || DnsError::Timeout {
            name: name.to_ascii(),
            rtype: rtype.to_string(),
        };
        let udp = async {
            let bind: SocketAddr = if server.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let sock = UdpSocket::bind(bind).await.map_err(io_err)?;
            sock.connect(server).await.map_err(io_err)?;
            sock.send(&wire).await.map_err(io_err)?;
            let mut buf = vec![0u8; 4096];
            loop {
                let n = sock.recv(&mut buf).await.map_err(io_err)?;
                // Ignore stray or spoofed datagrams: wrong id or question.
                if let Ok(reply) = Message::from_vec(&buf[..n])
                    && reply.id() == id
                    && reply.message_type() == MessageType::Response
                    && reply.queries().first().is_some_and(|q| q.name() == name)
                {
                    return Ok::<_, DnsError>(reply);
                }
            }
        };
        let reply = tokio::time::timeout(self.timeout, udp)
            .await
            .map_err(|_| timeout_err())??;
        if !reply.truncated() {
            return Ok(reply);
        }
        tokio::time::timeout(self.timeout, query_tcp(server, &wire, id))
            .await
            .map_err(|_| timeout_err())?
    }
}

async fn query_tcp(server: SocketAddr, wire: &[u8], id: u16) -> Result<Message, DnsError> {
    let mut s = TcpStream::connect(server).await.map_err(io_err)?;
    let len = u16::try_from(wire.len()).map_err(|_| DnsError::Other("query too long".into()))?;
    let mut out = Vec::with_capacity(wire.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(wire);
    s.write_all(&out).await.map_err(io_err)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.map_err(io_err)?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.map_err(io_err)?;
    let reply = Message::from_vec(&buf).map_err(|e| DnsError::Other(e.to_string()))?;
    if reply.id() != id {
        return Err(DnsError::Other("TCP answer with another id".into()));
    }
    Ok(reply)
}

fn io_err(e: std::io::Error) -> DnsError {
    DnsError::Other(e.to_string())
}

fn to_answer(msg: &Message, rtype: RecordType) -> Answer {
    let mut records: Vec<(u32, RData)> = msg
        .answers()
        .iter()
        .filter(|r| r.record_type() == rtype)
        .map(|r| (r.ttl(), r.data().clone()))
        .collect();
    // Negative answers: cache for the SOA's minimum (RFC 2308).
    if records.is_empty()
        && let Some(soa) = msg.name_servers().iter().find_map(|r| match r.data() {
            RData::SOA(soa) => Some((r.ttl().min(soa.minimum()), r.data().clone())),
            _ => None,
        })
    {
        records.push(soa);
    }
    Answer {
        rcode: msg.response_code(),
        records,
    }
}

fn ttl_of(a: &Answer) -> u32 {
    a.records
        .iter()
        .map(|(ttl, _)| *ttl)
        .min()
        .unwrap_or(NEGATIVE_TTL)
        .min(MAX_TTL)
}

/// `mx1.acme.com.` → `mx1.acme.com`; the root → "".
fn host_name(n: &Name) -> String {
    if n.is_root() {
        return String::new();
    }
    let s = n.to_ascii();
    s.trim_end_matches('.').to_ascii_lowercase()
}

fn system_servers() -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    parse_resolv_conf(&text)
}

/// `nameserver` lines of a resolv.conf, port 53.
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next()? == "nameserver").then_some(())?;
            let ip: IpAddr = parts.next()?.split('%').next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

/// Random enough for query ids and probe addresses, without a dependency:
/// std's randomly keyed hasher over a counter and the time.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

fn random_u16() -> u16 {
    (random_u64() >> 17) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers_are_read() {
        let text = "# comment\nsearch example.com\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\nnameserver bad\n";
        let got = parse_resolv_conf(text);
        assert_eq!(
            got,
            vec![
                "10.0.0.2:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
    }
}
