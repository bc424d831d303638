//! One SMTP probe session: connect (directly or through SOCKS5), banner,
//! EHLO (HELO when EHLO is refused), STARTTLS when offered, `MAIL FROM`,
//! one `RCPT TO`, `QUIT`. Never `DATA`: nothing is ever sent.
//!
//! A session asks about exactly one recipient. The catch-all probe runs in
//! a session of its own: Microsoft 365 answers a second `RCPT` in one
//! session with "recipients belong to multiple regions", which says nothing
//! about either address.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// STARTTLS policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Never upgrade.
    Off,
    /// Upgrade when the server offers STARTTLS; if the handshake fails, probe
    /// again in plain text (RFC 7435 opportunistic security).
    Opportunistic,
    /// Refuse to probe a server that does not offer STARTTLS.
    Required,
}

/// A SOCKS5 proxy for the TCP connection (port 25 is blocked on most
/// cloud hosts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks5 {
    pub proxy: SocketAddr,
    pub auth: Option<(String, String)>,
}

/// What a session needs besides the host.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub port: u16,
    pub helo: String,
    pub from: String,
    pub tls: TlsMode,
    pub connect_timeout: Duration,
    pub step_timeout: Duration,
    pub socks5: Option<Socks5>,
}

/// A server reply: code, enhanced status code (RFC 3463) and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<String>,
    pub message: String,
}

/// The step a session was at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Connect,
    Banner,
    Ehlo,
    StartTls,
    MailFrom,
    Rcpt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Connect(String),
    Timeout,
    Disconnected,
    Reply(Reply),
    Tls(String),
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The server answered the `RCPT TO`.
    Rcpt(Reply),
    /// It stopped earlier.
    Failed { stage: Stage, failure: Failure },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub end: SessionEnd,
    pub tls: bool,
}

/// What a `RCPT TO` reply means for the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 250/251.
    Accepted,
    /// 5xx saying the mailbox does not exist (5.1.1, 5.1.10, "user unknown").
    NoSuchUser,
    /// 5xx for policy (blocklists, spam, reputation, 5.7.x): says nothing
    /// about the mailbox.
    Blocked,
    /// 4xx other than 421: greylisting or a full queue; try later.
    TryLater,
    /// Microsoft's "recipients belong to multiple regions": ask again in a
    /// fresh session.
    MultipleRegions,
    /// 421: the host is going away; try the next MX.
    Unavailable,
    /// Anything else (252, 552 mailbox full, odd codes).
    Unclear,
}

const USER_UNKNOWN: &[&str] = &[
    "user unknown",
    "unknown user",
    "no such user",
    "no such mailbox",
    "does not exist",
    "doesn't exist",
    "not exist",
    "recipient not found",
    "recipientnotfound",
    "unknown recipient",
    "recipient unknown",
    "invalid recipient",
    "invalid mailbox",
    "mailbox not found",
    "mailbox unavailable",
    "mailbox is unavailable",
    "address unknown",
    "no mailbox",
    "not a valid mailbox",
    "account is disabled",
    "account has been disabled",
    "user not found",
    "undeliverable address",
];

const POLICY: &[&str] = &[
    "block",
    "blacklist",
    "black list",
    "denylist",
    "spam",
    "spamhaus",
    "reputation",
    "policy",
    "rbl",
    "dnsbl",
    "banned",
    "access denied",
    "not allowed",
    "relay",
    "client host",
    "rejected due to",
    "refused",
    "prohibited",
    "too many",
    "rate limit",
    "abuse",
];

/// Reads a `RCPT TO` reply.
pub fn classify(r: &Reply) -> Verdict {
    let text = r.message.to_ascii_lowercase();
    if text.contains("multiple regions") {
        return Verdict::MultipleRegions;
    }
    match r.code {
        250 | 251 => return Verdict::Accepted,
        421 => return Verdict::Unavailable,
        400..=499 => return Verdict::TryLater,
        500..=599 => {}
        _ => return Verdict::Unclear,
    }
    let enhanced = r.enhanced.as_deref().unwrap_or("");
    if enhanced.starts_with("5.7.") {
        return Verdict::Blocked;
    }
    if matches!(
        enhanced,
        "5.1.1" | "5.1.0" | "5.1.10" | "5.1.6" | "5.1.3" | "5.2.1"
    ) {
        return Verdict::NoSuchUser;
    }
    if POLICY.iter().any(|p| text.contains(p)) {
        return Verdict::Blocked;
    }
    if matches!(r.code, 550 | 551 | 553 | 554) && USER_UNKNOWN.iter().any(|p| text.contains(p)) {
        return Verdict::NoSuchUser;
    }
    Verdict::Unclear
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Conn = BufReader<Box<dyn Io>>;

/// Replies longer than this many lines or bytes per line are cut off (a
/// hostile server cannot make us buffer without bound).
const MAX_LINES: usize = 64;
const MAX_LINE: u64 = 2048;

/// Runs one session against `ip` (the address of MX host `host`) asking
/// about `rcpt`.
pub async fn probe(opts: &SessionOptions, host: &str, ip: IpAddr, rcpt: &str) -> Session {
    let mut tls = false;
    let end = run(opts, host, ip, rcpt, &mut tls).await;
    Session { end, tls }
}

macro_rules! step {
    ($stage:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(failure) => {
                return SessionEnd::Failed {
                    stage: $stage,
                    failure,
                }
            }
        }
    };
}

async fn run(
    opts: &SessionOptions,
    host: &str,
    ip: IpAddr,
    rcpt: &str,
    tls_used: &mut bool,
) -> SessionEnd {
    let addr = SocketAddr::new(ip, opts.port);
    let stream = step!(Stage::Connect, connect(opts, addr).await);
    let mut conn: Conn = BufReader::new(stream);
    let t = opts.step_timeout;

    let banner = step!(Stage::Banner, read_reply(&mut conn, t).await);
    if banner.code != 220 {
        return SessionEnd::Failed {
            stage: Stage::Banner,
            failure: Failure::Reply(banner),
        };
    }
    let mut ehlo = step!(Stage::Ehlo, hello(&mut conn, opts, t).await);

    let offers_tls = ehlo
        .message
        .to_ascii_uppercase()
        .split_whitespace()
        .any(|w| w == "STARTTLS");
    if opts.tls == TlsMode::Required && !offers_tls {
        return SessionEnd::Failed {
            stage: Stage::StartTls,
            failure: Failure::Tls("the server does not offer STARTTLS".into()),
        };
    }
    if opts.tls != TlsMode::Off && offers_tls {
        let r = step!(Stage::StartTls, command(&mut conn, "STARTTLS", t).await);
        if r.code == 220 {
            let plain = conn.into_inner();
            let upgraded = step!(Stage::StartTls, starttls(plain, host, ip, t).await);
            conn = BufReader::new(upgraded);
            *tls_used = true;
            ehlo = step!(Stage::Ehlo, hello(&mut conn, opts, t).await);
        } else if opts.tls == TlsMode::Required {
            return SessionEnd::Failed {
                stage: Stage::StartTls,
                failure: Failure::Reply(r),
            };
        }
    }
    let _ = ehlo;

    let from = format!("MAIL FROM:<{}>", opts.from);
    let r = step!(Stage::MailFrom, command(&mut conn, &from, t).await);
    if r.code != 250 {
        return SessionEnd::Failed {
            stage: Stage::MailFrom,
            failure: Failure::Reply(r),
        };
    }
    let r = step!(
        Stage::Rcpt,
        command(&mut conn, &format!("RCPT TO:<{rcpt}>"), t).await
    );
    // Be polite, but do not wait long for the goodbye.
    let _ = command(&mut conn, "QUIT", t.min(Duration::from_secs(2))).await;
    SessionEnd::Rcpt(r)
}

/// EHLO, or HELO when the server refuses EHLO with a 5xx.
async fn hello(conn: &mut Conn, opts: &SessionOptions, t: Duration) -> Result<Reply, Failure> {
    let r = command(conn, &format!("EHLO {}", opts.helo), t).await?;
    if r.code == 250 {
        return Ok(r);
    }
    if (500..600).contains(&r.code) {
        let h = command(conn, &format!("HELO {}", opts.helo), t).await?;
        if h.code == 250 {
            return Ok(h);
        }
        return Err(Failure::Reply(h));
    }
    Err(Failure::Reply(r))
}

async fn command(conn: &mut Conn, line: &str, t: Duration) -> Result<Reply, Failure> {
    let mut out = Vec::with_capacity(line.len() + 2);
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
    let w = conn.get_mut();
    match tokio::time::timeout(t, async {
        w.write_all(&out).await?;
        w.flush().await
    })
    .await
    {
        Err(_) => return Err(Failure::Timeout),
        Ok(Err(_)) => return Err(Failure::Disconnected),
        Ok(Ok(())) => {}
    }
    read_reply(conn, t).await
}

async fn read_reply(conn: &mut Conn, t: Duration) -> Result<Reply, Failure> {
    match tokio::time::timeout(t, read_reply_inner(conn)).await {
        Err(_) => Err(Failure::Timeout),
        Ok(Err(_)) => Err(Failure::Disconnected),
        Ok(Ok(r)) => Ok(r),
    }
}

async fn read_reply_inner(conn: &mut Conn) -> io::Result<Reply> {
    let mut code = 0u16;
    let mut enhanced: Option<String> = None;
    let mut parts: Vec<String> = Vec::new();
    let mut line = Vec::with_capacity(128);
    for _ in 0..MAX_LINES {
        line.clear();
        let n = (&mut *conn)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if line.last() != Some(&b'\n') {
            // Overlong line: drop the rest of it.
            let mut sink = Vec::new();
            (&mut *conn)
                .take(1 << 16)
                .read_until(b'\n', &mut sink)
                .await?;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let digits = text.get(..3).and_then(|d| d.parse::<u16>().ok());
        let Some(c) = digits.filter(|c| (200..600).contains(c)) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not an SMTP reply",
            ));
        };
        code = c;
        let more = text.as_bytes().get(3) == Some(&b'-');
        let mut rest = text.get(4..).unwrap_or("").trim();
        if let Some((first, after)) = split_enhanced(rest) {
            if enhanced.is_none() {
                enhanced = Some(first.to_owned());
            }
            rest = after;
        }
        if !rest.is_empty() {
            parts.push(rest.to_owned());
        }
        if !more {
            return Ok(Reply {
                code,
                enhanced,
                message: parts.join(" "),
            });
        }
    }
    Ok(Reply {
        code,
        enhanced,
        message: parts.join(" "),
    })
}

/// `5.1.1 text` → (`5.1.1`, `text`).
fn split_enhanced(s: &str) -> Option<(&str, &str)> {
    let (first, rest) = s.split_once(' ').unwrap_or((s, ""));
    let mut it = first.split('.');
    let class = it.next()?;
    let ok = matches!(class, "2" | "4" | "5")
        && it.next()?.parse::<u16>().is_ok()
        && it.next()?.parse::<u16>().is_ok()
        && it.next().is_none();
    ok.then_some((first, rest.trim_start()))
}

async fn connect(opts: &SessionOptions, addr: SocketAddr) -> Result<Box<dyn Io>, Failure> {
    let fut = async {
        match &opts.socks5 {
            None => TcpStream::connect(addr)
                .await
                .map_err(|e| Failure::Connect(e.to_string())),
            Some(s) => socks5_connect(s, addr).await,
        }
    };
    match tokio::time::timeout(opts.connect_timeout, fut).await {
        Err(_) => Err(Failure::Timeout),
        Ok(Err(e)) => Err(e),
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(Box::new(s))
        }
    }
}

/// RFC 1928 CONNECT, with no authentication or RFC 1929 user/password.
async fn socks5_connect(s: &Socks5, target: SocketAddr) -> Result<TcpStream, Failure> {
    let err = |m: &str| Failure::Connect(format!("SOCKS5 proxy {}: {m}", s.proxy));
    let io = |e: io::Error| Failure::Connect(format!("SOCKS5 proxy {}: {e}", s.proxy));
    let mut c = TcpStream::connect(s.proxy).await.map_err(io)?;
    let methods: &[u8] = if s.auth.is_some() {
        &[5, 2, 0, 2]
    } else {
        &[5, 1, 0]
    };
    c.write_all(methods).await.map_err(io)?;
    let mut pick = [0u8; 2];
    c.read_exact(&mut pick).await.map_err(io)?;
    match (pick, &s.auth) {
        ([5, 0], _) => {}
        ([5, 2], Some((user, pass))) => {
            let (u, p) = (user.as_bytes(), pass.as_bytes());
            if u.len() > 255 || p.len() > 255 {
                return Err(err("user name or password longer than 255 bytes"));
            }
            let mut m = vec![1, u.len() as u8];
            m.extend_from_slice(u);
            m.push(p.len() as u8);
            m.extend_from_slice(p);
            c.write_all(&m).await.map_err(io)?;
            let mut ok = [0u8; 2];
            c.read_exact(&mut ok).await.map_err(io)?;
            if ok[1] != 0 {
                return Err(err("user name or password refused"));
            }
        }
        _ => return Err(err("no acceptable authentication method")),
    }
    let mut req = vec![5, 1, 0];
    match target.ip() {
        IpAddr::V4(v4) => {
            req.push(1);
            req.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            req.push(4);
            req.extend_from_slice(&v6.octets());
        }
    }
    req.extend_from_slice(&target.port().to_be_bytes());
    c.write_all(&req).await.map_err(io)?;
    let mut head = [0u8; 4];
    c.read_exact(&mut head).await.map_err(io)?;
    if head[0] != 5 {
        return Err(err("not a SOCKS5 reply"));
    }
    if head[1] != 0 {
        return Err(err(&format!("CONNECT refused (reply {})", head[1])));
    }
    let skip = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut l = [0u8; 1];
            c.read_exact(&mut l).await.map_err(io)?;
            l[0] as usize + 2
        }
        _ => return Err(err("bad address type in reply")),
    };
    let mut rest = vec![0u8; skip];
    c.read_exact(&mut rest).await.map_err(io)?;
    Ok(c)
}

async fn starttls(
    plain: Box<dyn Io>,
    host: &str,
    ip: IpAddr,
    t: Duration,
) -> Result<Box<dyn Io>, Failure> {
    let name = ServerName::try_from(host.to_owned()).unwrap_or(ServerName::IpAddress(ip.into()));
    let connector = tokio_rustls::TlsConnector::from(TLS_CONFIG.clone());
    match tokio::time::timeout(t, connector.connect(name, plain)).await {
        Err(_) => Err(Failure::Timeout),
        Ok(Err(e)) => Err(Failure::Tls(e.to_string())),
        Ok(Ok(s)) => Ok(Box::new(s)),
    }
}

/// TLS for probing accepts any certificate. MX certificates often do not
/// match the host name (shared hosting, self-signed, expired); refusing them
/// would make verification fail where mail delivery succeeds (MTAs deliver
/// opportunistically too, RFC 7435). Nothing secret crosses the connection.
/// Signatures are still checked, so the handshake itself is sound.
static TLS_CONFIG: LazyLock<Arc<rustls::ClientConfig>> = LazyLock::new(|| {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider.clone())))
                .with_no_client_auth()
        });
    match config {
        Ok(c) => Arc::new(c),
        // The ring provider always supports the default versions.
        Err(e) => unreachable!("TLS configuration: {e}"),
    }
});

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, enhanced: Option<&str>, message: &str) -> Reply {
        Reply {
            code,
            enhanced: enhanced.map(str::to_owned),
            message: message.to_owned(),
        }
    }

    #[test]
    fn rcpt_replies_are_read_as_real_servers_mean_them() {
        let table = [
            (reply(250, Some("2.1.5"), "OK"), Verdict::Accepted),
            (
                reply(251, None, "User not local; will forward"),
                Verdict::Accepted,
            ),
            (
                reply(
                    550,
                    Some("5.1.1"),
                    "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. Learn more at https://support.google.com/mail/?p=NoSuchUser",
                ),
                Verdict::NoSuchUser,
            ),
            (
                reply(
                    550,
                    Some("5.1.10"),
                    "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
                ),
                Verdict::NoSuchUser,
            ),
            (reply(550, None, "No such user here"), Verdict::NoSuchUser),
            (
                reply(553, Some("5.7.1"), "Relaying denied"),
                Verdict::Blocked,
            ),
            (
                reply(553, None, "sorry, no mailbox here by that name"),
                Verdict::NoSuchUser,
            ),
            (reply(551, None, "User unknown"), Verdict::NoSuchUser),
            (
                reply(
                    550,
                    Some("5.7.1"),
                    "Service unavailable, Client host [192.0.2.1] blocked using Spamhaus",
                ),
                Verdict::Blocked,
            ),
            (
                reply(
                    554,
                    None,
                    "rejected because 192.0.2.1 is in a black list at zen.spamhaus.org",
                ),
                Verdict::Blocked,
            ),
            (
                reply(550, None, "Message rejected due to local policy"),
                Verdict::Blocked,
            ),
            (
                reply(450, Some("4.2.0"), "Greylisted, please try again later"),
                Verdict::TryLater,
            ),
            (
                reply(451, None, "Temporary local problem"),
                Verdict::TryLater,
            ),
            (
                reply(452, Some("4.5.3"), "Too many recipients"),
                Verdict::TryLater,
            ),
            (
                reply(421, None, "Service not available, closing channel"),
                Verdict::Unavailable,
            ),
            (
                reply(
                    452,
                    Some("4.5.3"),
                    "Too many recipients; recipients belong to multiple regions",
                ),
                Verdict::MultipleRegions,
            ),
            (reply(552, Some("5.2.2"), "Mailbox full"), Verdict::Unclear),
            (reply(252, None, "Cannot VRFY user"), Verdict::Unclear),
        ];
        for (r, want) in table {
            assert_eq!(classify(&r), want, "{r:?}");
        }
    }

    #[test]
    fn enhanced_codes_are_split_from_the_text() {
        assert_eq!(
            split_enhanced("5.1.1 The email"),
            Some(("5.1.1", "The email"))
        );
        assert_eq!(
            split_enhanced("5.1.10 RESOLVER"),
            Some(("5.1.10", "RESOLVER"))
        );
        assert_eq!(split_enhanced("OK"), None);
        assert_eq!(split_enhanced("1.2.3 x"), None);
    }
}
