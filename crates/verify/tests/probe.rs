//! The verifier end to end against loopback DNS and SMTP fakes.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use leadgen_verify::dns::{Dns, DnsError, MailHosts};
use leadgen_verify::testkit::smtp::Stats;
use leadgen_verify::testkit::{Behavior, FakeDns, OnConnect, SmtpFarm, loopback, options};
use leadgen_verify::{
    ResolverConfig, Status, Verification, Verifier, VerifyOptions, verify_ordered,
};

fn n(a: &std::sync::atomic::AtomicUsize) -> usize {
    Stats::get(a)
}

/// One domain `acme.test` whose MX `mx.acme.test` is one fake server.
fn one_server(b: Behavior) -> (FakeDns, SmtpFarm) {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![(loopback(0), b)]);
    dns.mail_domain("acme.test", loopback(0));
    (dns, farm)
}

fn verifier(dns: &FakeDns, farm: &SmtpFarm) -> Verifier {
    Verifier::new(options(dns, farm.port)).unwrap()
}

async fn check(dns: &FakeDns, farm: &SmtpFarm, email: &str) -> Verification {
    verifier(dns, farm).verify(email).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mx_hosts_come_in_preference_order_with_implicit_mx_null_mx_and_nxdomain() {
    let dns = FakeDns::start();
    dns.mx("acme.test", &[(20, "mx2.acme.test"), (10, "mx1.acme.test")]);
    dns.a("noMx.test", Ipv4Addr::new(127, 0, 0, 5));
    dns.null_mx("nomail.test");
    dns.nxdomain("gone.test");
    dns.mx("empty.test", &[]);
    dns.servfail("broken.test");
    dns.hang("slow.test");
    let r = Dns::new(
        &ResolverConfig::Server(dns.addr()),
        Duration::from_millis(300),
    )
    .unwrap();
    assert_eq!(
        r.mail_hosts("acme.test").await.unwrap(),
        MailHosts::Hosts {
            hosts: vec!["mx1.acme.test".into(), "mx2.acme.test".into()],
            implicit: false
        }
    );
    assert_eq!(
        r.mail_hosts("nomx.test").await.unwrap(),
        MailHosts::Hosts {
            hosts: vec!["nomx.test".into()],
            implicit: true
        }
    );
    assert_eq!(
        r.mail_hosts("nomail.test").await.unwrap(),
        MailHosts::NullMx
    );
    assert_eq!(
        r.mail_hosts("gone.test").await.unwrap(),
        MailHosts::NoSuchDomain
    );
    assert_eq!(
        r.mail_hosts("unlisted.test").await.unwrap(),
        MailHosts::NoSuchDomain
    );
    assert_eq!(
        r.mail_hosts("empty.test").await.unwrap(),
        MailHosts::NoMailServer
    );
    assert!(matches!(
        r.mail_hosts("broken.test").await,
        Err(DnsError::ServerFailure { .. })
    ));
    assert!(matches!(
        r.mail_hosts("slow.test").await,
        Err(DnsError::Timeout { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_answers_are_reused_until_their_ttl_runs_out() {
    let dns = FakeDns::start();
    dns.set_ttl(1);
    dns.mx("acme.test", &[(10, "mx.acme.test")]);
    let r = Dns::new(
        &ResolverConfig::Server(dns.addr()),
        Duration::from_millis(500),
    )
    .unwrap();
    r.mail_hosts("acme.test").await.unwrap();
    r.mail_hosts("acme.test").await.unwrap();
    assert_eq!(dns.queries(), 1, "the second look-up came from the cache");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    r.mail_hosts("acme.test").await.unwrap();
    assert_eq!(dns.queries(), 2, "an expired answer is asked again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_mailbox_is_valid_and_the_catch_all_probe_uses_its_own_session() {
    let (dns, farm) = one_server(Behavior::known_users(&["jane@acme.test"]));
    let v = check(&dns, &farm, "Jane@ACME.test").await;
    assert_eq!(v.status, Status::Valid, "{v:?}");
    assert_eq!(v.score, 95);
    assert_eq!(v.normalized.as_deref(), Some("Jane@acme.test"));
    assert_eq!(v.mx_hosts, vec!["mx.acme.test".to_owned()]);
    assert_eq!(v.provider.as_deref(), Some("other"));
    let smtp = v.smtp.unwrap();
    assert_eq!((smtp.code, smtp.catch_all), (Some(250), Some(false)));
    let st = farm.stats(0);
    assert_eq!(
        n(&st.connections),
        2,
        "one session for the address, one for the probe"
    );
    assert_eq!(n(&st.max_rcpts_per_session), 1);
    assert_eq!(n(&st.data_commands), 0, "never DATA");
    let rcpts = st.rcpts();
    assert_eq!(rcpts[0], "jane@acme.test");
    assert!(rcpts[1].ends_with("@acme.test") && rcpts[1] != "jane@acme.test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_is_invalid() {
    let (dns, farm) = one_server(Behavior::known_users(&["jane@acme.test"]));
    let v = check(&dns, &farm, "bob@acme.test").await;
    assert_eq!(v.status, Status::Invalid);
    assert_eq!(v.score, 0);
    assert_eq!(v.reason.as_deref(), Some("mailbox_not_found"));
    let smtp = v.smtp.unwrap();
    assert_eq!(smtp.code, Some(550));
    assert_eq!(smtp.enhanced_code.as_deref(), Some("5.1.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_all_domain_is_reported_and_probed_once() {
    let (dns, farm) = one_server(Behavior::accept_all());
    let v = Arc::new(verifier(&dns, &farm));
    for who in ["a", "b", "c"] {
        let r = v.verify(&format!("{who}@acme.test")).await;
        assert_eq!(r.status, Status::CatchAll, "{r:?}");
        assert_eq!(r.score, 50);
        assert_eq!(r.smtp.as_ref().unwrap().catch_all, Some(true));
    }
    assert_eq!(
        farm.stats(0).rcpts().len(),
        4,
        "three addresses and one random probe"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_says_no_such_user_in_its_own_words() {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![(loopback(0), Behavior::google(&["jane@acme.test"]))]);
    dns.mx(
        "acme.test",
        &[(1, "aspmx.l.google.com"), (5, "alt1.aspmx.l.google.com")],
    );
    dns.a("aspmx.l.google.com", loopback(0));
    let v = check(&dns, &farm, "nobody@acme.test").await;
    assert_eq!(v.status, Status::Invalid);
    assert_eq!(v.provider.as_deref(), Some("google_workspace"));
    let smtp = v.smtp.unwrap();
    assert_eq!(smtp.enhanced_code.as_deref(), Some("5.1.1"));
    assert!(smtp.message.unwrap().contains("does not exist"));
    let ok = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(ok.status, Status::Valid);
}

fn microsoft(b: Behavior) -> (FakeDns, SmtpFarm) {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![(loopback(0), b)]);
    let mx = "acme-test.mail.protection.outlook.com";
    dns.mx("acme.test", &[(0, mx)]);
    dns.a(mx, loopback(0));
    (dns, farm)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_365_rejecting_the_random_address_is_not_catch_all() {
    let (dns, farm) = microsoft(Behavior::microsoft(&["jane@acme.test"]));
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Valid, "{v:?}");
    assert_eq!(v.provider.as_deref(), Some("microsoft_365"));
    assert_eq!(v.smtp.unwrap().catch_all, Some(false));
    // Two RCPTs in one session would have drawn "multiple regions".
    assert_eq!(n(&farm.stats(0).max_rcpts_per_session), 1);
    let bad = check(&dns, &farm, "nobody@acme.test").await;
    assert_eq!(bad.status, Status::Invalid);
    assert_eq!(bad.smtp.unwrap().enhanced_code.as_deref(), Some("5.1.10"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_microsoft_365_tenant_accepting_everyone_is_unknown_not_catch_all() {
    let (dns, farm) = microsoft(Behavior::microsoft_accept_all());
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Unknown, "{v:?}");
    assert_eq!(v.reason.as_deref(), Some("accepts_any_recipient"));
    assert_eq!(v.smtp.unwrap().catch_all, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_address_is_risky_when_it_exists_and_invalid_when_it_does_not() {
    let (dns, farm) = one_server(Behavior::known_users(&["sales@acme.test"]));
    let v = check(&dns, &farm, "sales@acme.test").await;
    assert_eq!((v.status, v.score, v.is_role), (Status::Risky, 60, true));
    let gone = check(&dns, &farm, "info@acme.test").await;
    assert_eq!(gone.status, Status::Invalid);
    assert!(gone.is_role);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greylisting_is_retried_once_after_the_delay() {
    let (dns, farm) = one_server(Behavior::greylist_then(&["jane@acme.test"]));
    let started = std::time::Instant::now();
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Valid, "{v:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "waited the greylist delay"
    );
    let asked: Vec<String> = farm
        .stats(0)
        .rcpts()
        .into_iter()
        .filter(|r| r == "jane@acme.test")
        .collect();
    assert_eq!(asked.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greylisting_that_never_ends_is_unknown_not_invalid() {
    let (dns, farm) = one_server(Behavior::always_greylist());
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Unknown);
    assert_eq!(v.reason.as_deref(), Some("greylisted"));
    assert_eq!(v.smtp.unwrap().code, Some(450));
    assert_eq!(farm.stats(0).rcpts().len(), 2, "one retry, no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_block_is_unknown_not_invalid() {
    let (dns, farm) = one_server(Behavior::policy_block());
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Unknown);
    assert_eq!(v.reason.as_deref(), Some("smtp_blocked"));
    assert_eq!(v.smtp.unwrap().code, Some(554));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_or_dead_first_mx_hands_over_to_the_next() {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![
        (
            loopback(0),
            Behavior::accept_all().on_connect(OnConnect::Busy),
        ),
        (loopback(1), Behavior::known_users(&["jane@acme.test"])),
    ]);
    dns.mx(
        "acme.test",
        &[(10, "busy.acme.test"), (20, "good.acme.test")],
    );
    dns.a("busy.acme.test", loopback(0));
    dns.a("good.acme.test", loopback(1));
    // Nothing listens on the dead host's address.
    dns.mx(
        "beta.test",
        &[(5, "dead.beta.test"), (10, "good.acme.test")],
    );
    dns.a("dead.beta.test", loopback(40));
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Valid, "{v:?}");
    assert_eq!(v.smtp.unwrap().host.as_deref(), Some("good.acme.test"));
    assert!(n(&farm.stats(0).connections) >= 1, "the first MX was tried");
    let w = check(&dns, &farm, "nobody@beta.test").await;
    assert_eq!(w.status, Status::Invalid, "{w:?}");
    assert_eq!(w.mx_hosts, vec!["dead.beta.test", "good.acme.test"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_421_everywhere_is_unknown() {
    let (dns, farm) = one_server(Behavior::accept_all().on_connect(OnConnect::Busy));
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Unknown);
    assert_eq!(v.reason.as_deref(), Some("smtp_unavailable"));
    assert_eq!(v.smtp.unwrap().code, Some(421));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_server_times_out_and_a_dropped_connection_is_unknown() {
    let (dns, farm) = one_server(Behavior::accept_all().on_connect(OnConnect::Hang));
    let mut o = options(&dns, farm.port);
    o.step_timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let v = Verifier::new(o).unwrap().verify("jane@acme.test").await;
    assert_eq!(v.status, Status::Unknown);
    assert_eq!(v.reason.as_deref(), Some("smtp_timeout"));
    assert!(started.elapsed() < Duration::from_secs(3));

    let (dns, farm) = one_server(Behavior::accept_all().on_connect(OnConnect::Drop));
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Unknown);
    assert_eq!(v.reason.as_deref(), Some("smtp_disconnected"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_is_used_when_offered() {
    let (dns, farm) = one_server(Behavior::known_users(&["jane@acme.test"]).starttls());
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Valid, "{v:?}");
    assert!(v.smtp.unwrap().tls);
    assert_eq!(n(&farm.stats(0).tls_sessions), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_required_refuses_a_server_without_starttls() {
    let (dns, farm) = one_server(Behavior::known_users(&["jane@acme.test"]));
    let mut o = options(&dns, farm.port);
    o.tls = leadgen_verify::TlsMode::Required;
    let v = Verifier::new(o).unwrap().verify("jane@acme.test").await;
    assert_eq!(v.status, Status::Unknown);
    assert_eq!(v.reason.as_deref(), Some("tls_failed"));
    assert_eq!(farm.stats(0).rcpts().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_ehlo_is_spoken_to_with_helo() {
    let (dns, farm) = one_server(Behavior::known_users(&["jane@acme.test"]).refuse_ehlo());
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Valid);
    assert!(n(&farm.stats(0).helo_commands) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_verdicts_null_mx_nxdomain_timeout_and_implicit_mx() {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![(
        loopback(0),
        Behavior::known_users(&["jane@plain.test"]),
    )]);
    dns.null_mx("nomail.test");
    dns.nxdomain("gone.test");
    dns.hang("slow.test");
    dns.a("plain.test", loopback(0));
    let v = verifier(&dns, &farm);
    let r = v.verify("jane@nomail.test").await;
    assert_eq!(
        (r.status, r.reason.as_deref()),
        (Status::Invalid, Some("null_mx"))
    );
    let r = v.verify("jane@gone.test").await;
    assert_eq!(
        (r.status, r.reason.as_deref()),
        (Status::Invalid, Some("no_such_domain"))
    );
    let r = v.verify("jane@slow.test").await;
    assert_eq!(
        (r.status, r.reason.as_deref()),
        (Status::Unknown, Some("dns_timeout"))
    );
    assert!(r.smtp.is_none());
    let r = v.verify("jane@plain.test").await;
    assert_eq!(r.status, Status::Valid, "implicit MX: {r:?}");
    assert_eq!(r.mx_hosts, vec!["plain.test"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_literal_domain_is_probed_directly() {
    let farm = SmtpFarm::start(vec![(loopback(0), Behavior::accept_all())]);
    let dns = FakeDns::start();
    let v = check(&dns, &farm, &format!("jane@[{}]", loopback(0))).await;
    assert_eq!(v.status, Status::CatchAll, "{v:?}");
    assert_eq!(dns.queries(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disposable_domains_are_risky() {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![(loopback(0), Behavior::accept_all())]);
    dns.mail_domain("mailinator.com", loopback(0));
    let v = check(&dns, &farm, "someone@mailinator.com").await;
    assert_eq!(
        (v.status, v.score, v.is_disposable),
        (Status::Risky, 15, true)
    );
    assert_eq!(v.reason.as_deref(), Some("disposable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_only_asks_no_server() {
    let (dns, farm) = one_server(Behavior::accept_all());
    let mut o = options(&dns, farm.port);
    o.syntax_only = true;
    let v = Verifier::new(o).unwrap();
    let r = v.verify("jane@outlok.com").await;
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(r.suggestion.as_deref(), Some("jane@outlook.com"));
    let bad = v.verify("jane..doe@acme.test").await;
    assert_eq!(
        (bad.status, bad.reason.as_deref()),
        (Status::Invalid, Some("consecutive_dots"))
    );
    assert_eq!(dns.queries(), 0);
    assert_eq!(n(&farm.stats(0).connections), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_to_one_host_never_exceed_the_cap() {
    let known: Vec<String> = (0..40).map(|i| format!("u{i}@acme.test")).collect();
    let refs: Vec<&str> = known.iter().map(String::as_str).collect();
    let (dns, farm) = one_server(Behavior::known_users(&refs).latency(Duration::from_millis(20)));
    let mut o = options(&dns, farm.port);
    o.per_host_concurrency = 3;
    o.concurrency = 40;
    let v = Arc::new(Verifier::new(o).unwrap());
    let mut seen = 0;
    verify_ordered(v.clone(), known.clone(), 40, |r| {
        assert_eq!(r.status, Status::Valid, "{r:?}");
        seen += 1;
    })
    .await;
    assert_eq!(seen, 40);
    let max = n(&farm.stats(0).max_open);
    assert!(max <= 3, "the server saw {max} connections at once");
    assert!(
        max >= 2,
        "the test must actually run sessions in parallel (saw {max})"
    );
    assert!(v.max_sessions_per_host() <= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_come_out_in_input_order() {
    // Slow server for acme.test, instant answers for bad syntax.
    let (dns, farm) = one_server(
        Behavior::known_users(&["a@acme.test", "c@acme.test"]).latency(Duration::from_millis(30)),
    );
    let v = Arc::new(verifier(&dns, &farm));
    let inputs: Vec<String> = [
        "a@acme.test",
        "bad",
        "c@acme.test",
        "x..y@acme.test",
        "d@acme.test",
    ]
    .map(String::from)
    .to_vec();
    let mut out = Vec::new();
    verify_ordered(v, inputs.clone(), 8, |r| out.push(r)).await;
    let emails: Vec<&str> = out.iter().map(|r| r.email.as_str()).collect();
    assert_eq!(
        emails,
        inputs.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let statuses: Vec<Status> = out.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![
            Status::Valid,
            Status::Invalid,
            Status::Valid,
            Status::Invalid,
            Status::Invalid
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_host_rate_limit_spaces_sessions_out() {
    let (dns, farm) = one_server(Behavior::accept_all());
    let mut o = options(&dns, farm.port);
    o.per_host_rate = Some(10.0);
    let v = Arc::new(Verifier::new(o).unwrap());
    let started = std::time::Instant::now();
    let inputs: Vec<String> = (0..5).map(|i| format!("u{i}@acme.test")).collect();
    verify_ordered(v, inputs, 5, |_| {}).await;
    // 6 sessions (5 + the catch-all probe) at 10/s: at least 0.5 s.
    assert!(
        started.elapsed() >= Duration::from_millis(480),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn bad_options_are_refused() {
    let o = VerifyOptions {
        per_host_concurrency: 0,
        syntax_only: true,
        ..VerifyOptions::default()
    };
    assert!(Verifier::new(o).is_err());
}

/// A minimal SOCKS5 proxy (RFC 1928 CONNECT with RFC 1929 user/password)
/// that counts the connections it relays.
async fn socks5_proxy(
    user: &'static str,
    pass: &'static str,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let relayed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = relayed.clone();
    async fn one(
        mut c: tokio::net::TcpStream,
        user: &str,
        pass: &str,
        count: Arc<std::sync::atomic::AtomicUsize>,
    ) -> std::io::Result<()> {
        let mut head = [0u8; 2];
        c.read_exact(&mut head).await?;
        let mut methods = vec![0u8; head[1] as usize];
        c.read_exact(&mut methods).await?;
        if !methods.contains(&2) {
            c.write_all(&[5, 0xff]).await?;
            return Ok(());
        }
        c.write_all(&[5, 2]).await?;
        let mut v = [0u8; 2];
        c.read_exact(&mut v).await?;
        let mut u = vec![0u8; v[1] as usize];
        c.read_exact(&mut u).await?;
        let mut pl = [0u8; 1];
        c.read_exact(&mut pl).await?;
        let mut p = vec![0u8; pl[0] as usize];
        c.read_exact(&mut p).await?;
        let ok = u == user.as_bytes() && p == pass.as_bytes();
        c.write_all(&[1, if ok { 0 } else { 1 }]).await?;
        if !ok {
            return Ok(());
        }
        let mut req = [0u8; 4];
        c.read_exact(&mut req).await?;
        assert_eq!(&req[..2], &[5, 1], "a CONNECT request");
        assert_eq!(req[3], 1, "an IPv4 target");
        let mut ip = [0u8; 4];
        c.read_exact(&mut ip).await?;
        let mut port = [0u8; 2];
        c.read_exact(&mut port).await?;
        let mut up =
            tokio::net::TcpStream::connect((Ipv4Addr::from(ip), u16::from_be_bytes(port))).await?;
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        c.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        tokio::io::copy_bidirectional(&mut c, &mut up).await?;
        Ok(())
    }
    tokio::spawn(async move {
        while let Ok((c, _)) = listener.accept().await {
            tokio::spawn(one(c, user, pass, count.clone()));
        }
    });
    (addr, relayed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sessions_go_through_a_socks5_proxy() {
    let (dns, farm) = one_server(Behavior::known_users(&["jane@acme.test"]));
    let (proxy, relayed) = socks5_proxy("me", "secret").await;
    let mut o = options(&dns, farm.port);
    o.socks5 = Some(leadgen_verify::Socks5 {
        proxy,
        auth: Some(("me".into(), "secret".into())),
    });
    let v = Verifier::new(o.clone())
        .unwrap()
        .verify("jane@acme.test")
        .await;
    assert_eq!(v.status, Status::Valid, "{v:?}");
    assert_eq!(relayed.load(std::sync::atomic::Ordering::SeqCst), 2);

    o.socks5 = Some(leadgen_verify::Socks5 {
        proxy,
        auth: Some(("me".into(), "wrong".into())),
    });
    let v = Verifier::new(o).unwrap().verify("jane@acme.test").await;
    assert_eq!(v.status, Status::Unknown);
    assert_eq!(v.reason.as_deref(), Some("smtp_unreachable"));
    assert_eq!(relayed.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_udp_answer_is_asked_again_over_tcp() {
    let dns = FakeDns::start();
    dns.mx("acme.test", &[(10, "mx.acme.test")]);
    dns.truncate_udp();
    let r = Dns::new(
        &ResolverConfig::Server(dns.addr()),
        Duration::from_millis(500),
    )
    .unwrap();
    assert_eq!(
        r.mail_hosts("acme.test").await.unwrap(),
        MailHosts::Hosts {
            hosts: vec!["mx.acme.test".into()],
            implicit: false
        }
    );
    assert_eq!(dns.queries(), 2, "one UDP query, one TCP query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multiple_regions_reply_is_asked_again_in_a_fresh_session() {
    let regions = "452 4.5.3 Too many recipients; recipients belong to multiple regions";
    let mut once = Behavior::known_users(&[]);
    once.rcpt = Arc::new(move |r| {
        if r.seen_before == 0 {
            regions.to_owned()
        } else if r.address == "jane@acme.test" {
            "250 2.1.5 Recipient OK".to_owned()
        } else {
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
                .to_owned()
        }
    });
    let (dns, farm) = one_server(once);
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Valid, "{v:?}");
    let st = farm.stats(0);
    assert_eq!(
        n(&st.max_rcpts_per_session),
        1,
        "each retry is a new session"
    );
    assert_eq!(
        n(&st.connections),
        4,
        "address twice, catch-all probe twice"
    );

    let mut always = Behavior::accept_all();
    always.rcpt = Arc::new(move |_| regions.to_owned());
    let (dns, farm) = one_server(always);
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Unknown);
    assert_eq!(v.reason.as_deref(), Some("multiple_regions"));
    assert_eq!(farm.stats(0).rcpts().len(), 2, "one retry, no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_starttls_handshake_is_retried_in_plain_text() {
    let (dns, farm) = one_server(Behavior::known_users(&["jane@acme.test"]).broken_starttls());
    let v = check(&dns, &farm, "jane@acme.test").await;
    assert_eq!(v.status, Status::Valid, "{v:?}");
    assert!(!v.smtp.as_ref().unwrap().tls, "{v:?}");
    // Each of the two probes: one broken TLS attempt, one plain session.
    assert_eq!(n(&farm.stats(0).connections), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_only_hosts_and_cached_negative_answers() {
    let dns = FakeDns::start();
    dns.aaaa("v6only.test", "2001:db8::25".parse().unwrap());
    dns.nxdomain("gone.test");
    let r = Dns::new(
        &ResolverConfig::Server(dns.addr()),
        Duration::from_millis(500),
    )
    .unwrap();
    assert_eq!(
        r.mail_hosts("v6only.test").await.unwrap(),
        MailHosts::Hosts {
            hosts: vec!["v6only.test".into()],
            implicit: true
        },
        "no MX and no A: the AAAA record makes an implicit MX"
    );
    assert_eq!(
        r.addresses("v6only.test").await.unwrap(),
        vec!["2001:db8::25".parse::<std::net::IpAddr>().unwrap()]
    );
    let before = dns.queries();
    assert_eq!(
        r.mail_hosts("gone.test").await.unwrap(),
        MailHosts::NoSuchDomain
    );
    assert_eq!(
        r.mail_hosts("gone.test").await.unwrap(),
        MailHosts::NoSuchDomain
    );
    assert_eq!(dns.queries(), before + 1, "NXDOMAIN is cached too");
}
