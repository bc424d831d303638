//! Loopback SMTP servers with scripted behaviour: accept all (catch-all),
//! reject unknown users (plain, Google and Microsoft 365 wording),
//! greylist, answer 421, hang, drop the connection, offer STARTTLS. Each
//! counts connections (and the most open at once), recipients and any
//! `DATA` command.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The `RCPT TO` being answered.
#[derive(Debug, Clone)]
pub struct Rcpt<'a> {
    /// The address, lower case, without angle brackets.
    pub address: &'a str,
    /// Times this address was asked before (any session).
    pub seen_before: usize,
    /// RCPTs in this session so far, this one included.
    pub in_session: usize,
}

pub type RcptPolicy = Arc<dyn Fn(&Rcpt<'_>) -> String + Send + Sync>;

/// What happens on connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConnect {
    /// A normal `220` banner.
    Serve,
    /// Accept the connection and say nothing, forever.
    Hang,
    /// Accept and close at once.
    Drop,
    /// `421` banner, then close.
    Busy,
}

/// A server's script.
#[derive(Clone)]
pub struct Behavior {
    pub on_connect: OnConnect,
    pub rcpt: RcptPolicy,
    /// Refuse EHLO with 502 (the client must fall back to HELO).
    pub refuse_ehlo: bool,
    /// Offer STARTTLS with a self-signed certificate.
    pub starttls: bool,
    /// Offer STARTTLS, answer 220, then hang up instead of the handshake.
    pub broken_tls: bool,
    /// Each reply waits this long.
    pub latency: Duration,
    /// Host name in the banner and EHLO reply.
    pub name: String,
}

const GOOGLE_NO_SUCH_USER: &str = "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n550-5.1.1 double-checking the recipient's email address for typos or\r\n550-5.1.1 unnecessary spaces. Learn more at\r\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1b2c3 - gsmtp";
const MICROSOFT_NOT_FOUND: &str =
    "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup";
const MICROSOFT_REGIONS: &str =
    "452 4.5.3 Too many recipients; recipients belong to multiple regions (AS-123456)";

impl Behavior {
    fn with(rcpt: RcptPolicy) -> Behavior {
        Behavior {
            on_connect: OnConnect::Serve,
            rcpt,
            refuse_ehlo: false,
            starttls: false,
            broken_tls: false,
            latency: Duration::ZERO,
            name: "mx.fake.test".into(),
        }
    }

    /// Accepts every recipient (a catch-all domain).
    pub fn accept_all() -> Behavior {
        Behavior::with(Arc::new(|_| "250 2.1.5 Ok".into()))
    }

    /// Accepts `known` (lower case), rejects others as Postfix does.
    pub fn known_users(known: &[&str]) -> Behavior {
        let known = lower_set(known);
        Behavior::with(Arc::new(move |r| {
            if known.contains(r.address) {
                "250 2.1.5 Ok".into()
            } else {
                format!(
                    "550 5.1.1 <{}>: Recipient address rejected: User unknown in virtual mailbox table",
                    r.address
                )
            }
        }))
    }

    /// Gmail / Google Workspace wording (multi-line 550 5.1.1).
    pub fn google(known: &[&str]) -> Behavior {
        let known = lower_set(known);
        let mut b = Behavior::with(Arc::new(move |r| {
            if known.contains(r.address) {
                "250 2.1.5 OK a1b2c3 - gsmtp".into()
            } else {
                GOOGLE_NO_SUCH_USER.into()
            }
        }));
        b.name = "mx.google.com".into();
        b
    }

    /// Microsoft 365 (Exchange Online Protection) with directory-based edge
    /// blocking: unknown users get 550 5.1.10; a second RCPT in one session
    /// gets "recipients belong to multiple regions".
    pub fn microsoft(known: &[&str]) -> Behavior {
        let known = lower_set(known);
        let mut b = Behavior::with(Arc::new(move |r| {
            if r.in_session > 1 {
                MICROSOFT_REGIONS.into()
            } else if known.contains(r.address) {
                "250 2.1.5 Recipient OK".into()
            } else {
                MICROSOFT_NOT_FOUND.into()
            }
        }));
        b.name = "acme-test.mail.protection.outlook.com".into();
        b
    }

    /// A Microsoft 365 tenant without edge blocking: every RCPT accepted
    /// (unknown users bounce later).
    pub fn microsoft_accept_all() -> Behavior {
        let mut b = Behavior::with(Arc::new(|r| {
            if r.in_session > 1 {
                MICROSOFT_REGIONS.into()
            } else {
                "250 2.1.5 Recipient OK".into()
            }
        }));
        b.name = "acme-test.mail.protection.outlook.com".into();
        b
    }

    /// Greylists each address's first RCPT (451 4.7.1), then answers as
    /// `known_users`.
    pub fn greylist_then(known: &[&str]) -> Behavior {
        let inner = Behavior::known_users(known).rcpt;
        Behavior::with(Arc::new(move |r| {
            if r.seen_before == 0 {
                "451 4.7.1 Greylisted, please try again later".into()
            } else {
                inner(r)
            }
        }))
    }

    /// 4xx to every RCPT, always.
    pub fn always_greylist() -> Behavior {
        Behavior::with(Arc::new(|_| {
            "450 4.2.0 Recipient address rejected: Greylisted".into()
        }))
    }

    /// A policy block (blocklisted client): says nothing about the mailbox.
    pub fn policy_block() -> Behavior {
        Behavior::with(Arc::new(|_| {
            "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"
                .into()
        }))
    }

    pub fn on_connect(mut self, c: OnConnect) -> Behavior {
        self.on_connect = c;
        self
    }

    pub fn latency(mut self, d: Duration) -> Behavior {
        self.latency = d;
        self
    }

    pub fn starttls(mut self) -> Behavior {
        self.starttls = true;
        self
    }

    /// Offers STARTTLS but drops the connection when asked to start it.
    pub fn broken_starttls(mut self) -> Behavior {
        self.starttls = true;
        self.broken_tls = true;
        self
    }

    pub fn refuse_ehlo(mut self) -> Behavior {
        self.refuse_ehlo = true;
        self
    }
}

fn lower_set(known: &[&str]) -> std::collections::HashSet<String> {
    known.iter().map(|k| k.to_ascii_lowercase()).collect()
}

/// What a server saw.
#[derive(Default)]
pub struct Stats {
    pub connections: AtomicUsize,
    pub open: AtomicUsize,
    pub max_open: AtomicUsize,
    pub data_commands: AtomicUsize,
    pub tls_sessions: AtomicUsize,
    pub helo_commands: AtomicUsize,
    /// Most RCPTs seen in one session.
    pub max_rcpts_per_session: AtomicUsize,
    pub rcpts: Mutex<Vec<String>>,
    seen: Mutex<HashMap<String, usize>>,
}

impl Stats {
    pub fn rcpts(&self) -> Vec<String> {
        self.rcpts.lock().map(|r| r.clone()).unwrap_or_default()
    }
    pub fn get(a: &AtomicUsize) -> usize {
        a.load(Ordering::SeqCst)
    }
}

/// One listening server.
pub struct Server {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
}

/// Several fake SMTP servers on one port, each on its own loopback address
/// (127.0.0.2, 127.0.0.3, … all reach `lo` on Linux), served by one
/// background runtime. Stops when dropped.
pub struct SmtpFarm {
    pub port: u16,
    pub servers: Vec<Server>,
    rt: Option<tokio::runtime::Runtime>,
}

impl SmtpFarm {
    /// Starts one server per (address, behaviour), all on one free port.
    pub fn start(specs: Vec<(Ipv4Addr, Behavior)>) -> SmtpFarm {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("fake SMTP runtime");
        let tls = Arc::new(std::sync::OnceLock::new());
        for _attempt in 0..20 {
            let mut listeners = Vec::new();
            let mut port = 0u16;
            let mut ok = true;
            for (ip, _) in &specs {
                match std::net::TcpListener::bind(SocketAddr::new(IpAddr::V4(*ip), port)) {
                    Ok(l) => {
                        if port == 0 {
                            port = l.local_addr().map(|a| a.port()).unwrap_or(0);
                        }
                        listeners.push(l);
                    }
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                continue;
            }
            let mut servers = Vec::new();
            for (l, (_, behavior)) in listeners.into_iter().zip(specs.iter()) {
                l.set_nonblocking(true).expect("non-blocking listener");
                let addr = l.local_addr().expect("listener address");
                let stats = Arc::new(Stats::default());
                let (st, b, tls) = (stats.clone(), behavior.clone(), tls.clone());
                rt.spawn(async move {
                    let listener = TcpListener::from_std(l).expect("tokio listener");
                    loop {
                        let Ok((sock, _)) = listener.accept().await else {
                            continue;
                        };
                        let (st, b, tls) = (st.clone(), b.clone(), tls.clone());
                        tokio::spawn(async move {
                            let _ = sock.set_nodelay(true);
                            serve(Box::new(sock), &b, &st, &tls).await;
                        });
                    }
                });
                servers.push(Server { addr, stats });
            }
            return SmtpFarm {
                port,
                servers,
                rt: Some(rt),
            };
        }
        panic!("could not bind the fake SMTP servers on one port");
    }

    /// One server on 127.0.0.1.
    pub fn single(b: Behavior) -> SmtpFarm {
        SmtpFarm::start(vec![(Ipv4Addr::LOCALHOST, b)])
    }

    pub fn stats(&self, i: usize) -> &Stats {
        &self.servers[i].stats
    }
}

impl Drop for SmtpFarm {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct OpenGuard<'a>(&'a Stats);
impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve(
    sock: Box<dyn Io>,
    b: &Behavior,
    st: &Stats,
    tls: &std::sync::OnceLock<tokio_rustls::TlsAcceptor>,
) {
    st.connections.fetch_add(1, Ordering::SeqCst);
    let open = st.open.fetch_add(1, Ordering::SeqCst) + 1;
    st.max_open.fetch_max(open, Ordering::SeqCst);
    let _guard = OpenGuard(st);
    let mut conn = BufReader::new(sock);
    match b.on_connect {
        OnConnect::Drop => return,
        OnConnect::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        OnConnect::Busy => {
            let _ = say(
                &mut conn,
                b,
                "421 4.3.2 Service not available, closing channel",
            )
            .await;
            return;
        }
        OnConnect::Serve => {}
    }
    if say(&mut conn, b, &format!("220 {} ESMTP fake", b.name))
        .await
        .is_err()
    {
        return;
    }
    let mut upgraded = false;
    let mut in_session = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        match conn.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            if b.refuse_ehlo {
                "502 5.5.2 Error: command not recognized".to_owned()
            } else if b.starttls && !upgraded {
                format!(
                    "250-{}\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME",
                    b.name
                )
            } else {
                format!("250-{}\r\n250-PIPELINING\r\n250 8BITMIME", b.name)
            }
        } else if upper.starts_with("HELO") {
            st.helo_commands.fetch_add(1, Ordering::SeqCst);
            format!("250 {}", b.name)
        } else if upper == "STARTTLS" && b.starttls && !upgraded {
            if say(&mut conn, b, "220 2.0.0 Ready to start TLS")
                .await
                .is_err()
                || b.broken_tls
            {
                return;
            }
            let acceptor = tls.get_or_init(acceptor).clone();
            let plain = conn.into_inner();
            let Ok(s) = acceptor.accept(plain).await else {
                return;
            };
            st.tls_sessions.fetch_add(1, Ordering::SeqCst);
            conn = BufReader::new(Box::new(s));
            upgraded = true;
            continue;
        } else if upper.starts_with("MAIL FROM:") {
            "250 2.1.0 Ok".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            in_session += 1;
            st.max_rcpts_per_session
                .fetch_max(in_session, Ordering::SeqCst);
            let address = cmd[8..]
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_ascii_lowercase();
            let seen_before = {
                let mut seen = st.seen.lock().expect("seen lock");
                let n = seen.entry(address.clone()).or_insert(0);
                *n += 1;
                *n - 1
            };
            if let Ok(mut r) = st.rcpts.lock() {
                r.push(address.clone());
            }
            (b.rcpt)(&Rcpt {
                address: &address,
                seen_before,
                in_session,
            })
        } else if upper == "DATA" {
            st.data_commands.fetch_add(1, Ordering::SeqCst);
            "554 5.5.1 Error: no valid recipients".to_owned()
        } else if upper == "QUIT" {
            let _ = say(&mut conn, b, "221 2.0.0 Bye").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 Ok".to_owned()
        } else {
            "502 5.5.2 Error: command not recognized".to_owned()
        };
        if say(&mut conn, b, &reply).await.is_err() {
            return;
        }
    }
}

async fn say(conn: &mut BufReader<Box<dyn Io>>, b: &Behavior, text: &str) -> std::io::Result<()> {
    if !b.latency.is_zero() {
        tokio::time::sleep(b.latency).await;
    }
    let w = conn.get_mut();
    w.write_all(text.as_bytes()).await?;
    w.write_all(b"\r\n").await?;
    w.flush().await
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    let cert = rcgen::generate_simple_self_signed(vec!["mx.fake.test".to_owned()])
        .expect("self-signed certificate");
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        cert.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .expect("server certificate");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}
