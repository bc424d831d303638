//! A loopback DNS server (UDP and TCP on one port) answering from a zone the test sets up:
//! MX, A, null MX, NXDOMAIN, SERVFAIL, or no answer at all (timeouts).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket as StdUdp};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX};
use hickory_proto::rr::{Name, RData, Record, RecordType};

#[derive(Debug, Clone, Default)]
struct Entry {
    mx: Vec<(u16, String)>,
    a: Vec<Ipv4Addr>,
    aaaa: Vec<std::net::Ipv6Addr>,
    null_mx: bool,
    nxdomain: bool,
    servfail: bool,
    hang: bool,
}

#[derive(Default)]
struct Zone {
    names: HashMap<String, Entry>,
    ttl: u32,
    /// Answer UDP queries with an empty, truncated (TC) message, so the
    /// client must ask again over TCP.
    truncate_udp: bool,
}

/// The server; stops when dropped.
pub struct FakeDns {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    queries: Arc<AtomicUsize>,
    rt: Option<tokio::runtime::Runtime>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl FakeDns {
    /// Starts on 127.0.0.1 on a free port, UDP and TCP. Unknown names get
    /// NXDOMAIN.
    pub fn start() -> FakeDns {
        let (std_sock, std_tcp) = (0..50)
            .find_map(|_| {
                let udp = StdUdp::bind("127.0.0.1:0").ok()?;
                let tcp = std::net::TcpListener::bind(udp.local_addr().ok()?).ok()?;
                Some((udp, tcp))
            })
            .expect("bind the fake DNS sockets");
        std_sock.set_nonblocking(true).expect("non-blocking socket");
        std_tcp
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = std_sock.local_addr().expect("fake DNS address");
        let zone = Arc::new(Mutex::new(Zone {
            names: HashMap::new(),
            ttl: 300,
            truncate_udp: false,
        }));
        let queries = Arc::new(AtomicUsize::new(0));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("fake DNS runtime");
        let (z, q) = (zone.clone(), queries.clone());
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(std_tcp).expect("tokio listener");
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve_tcp(conn, z.clone(), q.clone()));
            }
        });
        let (z, q) = (zone.clone(), queries.clone());
        rt.spawn(async move {
            let sock = tokio::net::UdpSocket::from_std(std_sock).expect("tokio socket");
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                    continue;
                };
                q.fetch_add(1, Ordering::SeqCst);
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let reply = if z.lock().is_ok_and(|z| z.truncate_udp) {
                    answer(&z, &req).map(|mut m| {
                        m.answers_mut().clear();
                        m.set_truncated(true);
                        m
                    })
                } else {
                    answer(&z, &req)
                };
                if let Some(reply) = reply
                    && let Ok(wire) = reply.to_vec()
                {
                    let _ = sock.send_to(&wire, peer).await;
                }
            }
        });
        FakeDns {
            addr,
            zone,
            queries,
            rt: Some(rt),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queries received so far.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    fn edit(&self, name: &str, f: impl FnOnce(&mut Entry)) {
        let mut z = self.zone.lock().expect("zone lock");
        f(z.names.entry(key(name)).or_default());
    }

    /// From now on, UDP answers are truncated (TC) and only TCP answers.
    pub fn truncate_udp(&self) {
        self.zone.lock().expect("zone lock").truncate_udp = true;
    }

    /// TTL of every answer from now on.
    pub fn set_ttl(&self, ttl: u32) {
        self.zone.lock().expect("zone lock").ttl = ttl;
    }

    /// MX records: (preference, host).
    pub fn mx(&self, domain: &str, hosts: &[(u16, &str)]) {
        let hosts = hosts.iter().map(|(p, h)| (*p, key(h))).collect();
        self.edit(domain, |e| e.mx = hosts);
    }

    pub fn a(&self, name: &str, ip: Ipv4Addr) {
        self.edit(name, |e| e.a.push(ip));
    }

    pub fn aaaa(&self, name: &str, ip: std::net::Ipv6Addr) {
        self.edit(name, |e| e.aaaa.push(ip));
    }

    /// RFC 7505: `MX 0 .`
    pub fn null_mx(&self, domain: &str) {
        self.edit(domain, |e| e.null_mx = true);
    }

    pub fn nxdomain(&self, domain: &str) {
        self.edit(domain, |e| e.nxdomain = true);
    }

    pub fn servfail(&self, domain: &str) {
        self.edit(domain, |e| e.servfail = true);
    }

    /// Never answer queries for this name.
    pub fn hang(&self, domain: &str) {
        self.edit(domain, |e| e.hang = true);
    }

    /// A domain whose single MX host `mx.<domain>` has address `ip`.
    pub fn mail_domain(&self, domain: &str, ip: Ipv4Addr) {
        let mx = format!("mx.{domain}");
        self.mx(domain, &[(10, &mx)]);
        self.a(&mx, ip);
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

async fn serve_tcp(
    mut conn: tokio::net::TcpStream,
    zone: Arc<Mutex<Zone>>,
    queries: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let mut len = [0u8; 2];
        conn.read_exact(&mut len).await?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        conn.read_exact(&mut buf).await?;
        queries.fetch_add(1, Ordering::SeqCst);
        let Ok(req) = Message::from_vec(&buf) else {
            return Ok(());
        };
        let Some(wire) = answer(&zone, &req).and_then(|m| m.to_vec().ok()) else {
            continue;
        };
        let mut out = (wire.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&wire);
        conn.write_all(&out).await?;
    }
}

fn answer(zone: &Mutex<Zone>, req: &Message) -> Option<Message> {
    let q = req.queries().first()?.clone();
    let (entry, ttl) = {
        let z = zone.lock().ok()?;
        (z.names.get(&key(&q.name().to_ascii())).cloned(), z.ttl)
    };
    let mut m = Message::new();
    m.set_id(req.id())
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(req.recursion_desired())
        .set_recursion_available(true)
        .add_query(q.clone());
    let Some(e) = entry else {
        m.set_response_code(ResponseCode::NXDomain);
        return Some(m);
    };
    if e.hang {
        return None;
    }
    if e.nxdomain {
        m.set_response_code(ResponseCode::NXDomain);
        return Some(m);
    }
    if e.servfail {
        m.set_response_code(ResponseCode::ServFail);
        return Some(m);
    }
    let name = q.name().clone();
    match q.query_type() {
        RecordType::MX if e.null_mx => {
            m.add_answer(Record::from_rdata(
                name,
                ttl,
                RData::MX(MX::new(0, Name::root())),
            ));
        }
        RecordType::MX => {
            for (pref, host) in &e.mx {
                let exchange = Name::from_ascii(format!("{host}.")).ok()?;
                m.add_answer(Record::from_rdata(
                    name.clone(),
                    ttl,
                    RData::MX(MX::new(*pref, exchange)),
                ));
            }
        }
        RecordType::A => {
            for ip in &e.a {
                m.add_answer(Record::from_rdata(name.clone(), ttl, RData::A(A(*ip))));
            }
        }
        RecordType::AAAA => {
            for ip in &e.aaaa {
                m.add_answer(Record::from_rdata(
                    name.clone(),
                    ttl,
                    RData::AAAA(AAAA(*ip)),
                ));
            }
        }
        _ => {}
    }
    Some(m)
}
