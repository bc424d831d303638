//! The email-pattern finder against loopback DNS and SMTP fakes.

use leadgen_enrich::finder::find_email;
use leadgen_enrich::pattern::{KnownAddress, Pattern, infer};
use leadgen_verify::testkit::{Behavior, FakeDns, SmtpFarm, loopback, options};
use leadgen_verify::{Status, Verifier};

fn known(first: &str, last: &str, local: &str) -> KnownAddress {
    KnownAddress {
        first: first.into(),
        last: last.into(),
        local: local.into(),
    }
}

#[tokio::test]
async fn the_inferred_pattern_is_probed_first_and_accepted() {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![(
        loopback(0),
        Behavior::known_users(&["jdoe@acme.test", "mlopez@acme.test", "maria@acme.test"]),
    )]);
    dns.mail_domain("acme.test", loopback(0));
    let v = Verifier::new(options(&dns, farm.port)).unwrap();
    let inf = infer(&[known("Jane", "Doe", "jdoe")]);
    let g = find_email(&v, &inf, "Maria", "Lopez", "acme.test", 5)
        .await
        .unwrap();
    assert_eq!(g.email, "mlopez@acme.test");
    assert_eq!(g.pattern, Pattern::FLast);
    assert_eq!(g.status, Status::Valid);
    assert_eq!(g.tried.len(), 1, "{:?}", g.tried);
    assert!(g.confidence >= 0.9);
}

#[tokio::test]
async fn without_evidence_candidates_are_probed_until_one_is_accepted() {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![(
        loopback(0),
        Behavior::known_users(&["mlopez@acme.test"]),
    )]);
    dns.mail_domain("acme.test", loopback(0));
    let v = Verifier::new(options(&dns, farm.port)).unwrap();
    let g = find_email(&v, &infer(&[]), "Maria", "Lopez", "acme.test", 5)
        .await
        .unwrap();
    assert_eq!(g.email, "mlopez@acme.test");
    let tried: Vec<&str> = g.tried.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(
        tried,
        [
            "maria.lopez@acme.test",
            "maria@acme.test",
            "mlopez@acme.test"
        ]
    );
    assert_eq!(g.tried[0].1, Status::Invalid);
}

#[tokio::test]
async fn a_catch_all_domain_stops_probing_and_lowers_confidence() {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![(loopback(0), Behavior::accept_all())]);
    dns.mail_domain("anything.test", loopback(0));
    let v = Verifier::new(options(&dns, farm.port)).unwrap();
    let inf = infer(&[known("Jane", "Doe", "jane.doe"), known("Bo", "Li", "bo.li")]);
    let g = find_email(&v, &inf, "Maria", "Lopez", "anything.test", 5)
        .await
        .unwrap();
    assert_eq!(g.email, "maria.lopez@anything.test");
    assert_eq!(g.status, Status::CatchAll);
    assert_eq!(g.tried.len(), 1);
    assert!(
        g.confidence <= 0.6 && g.confidence > 0.3,
        "{}",
        g.confidence
    );
}

#[tokio::test]
async fn nothing_is_kept_when_every_candidate_is_refused() {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![(
        loopback(0),
        Behavior::known_users(&["someone@acme.test"]),
    )]);
    dns.mail_domain("acme.test", loopback(0));
    let v = Verifier::new(options(&dns, farm.port)).unwrap();
    assert!(
        find_email(&v, &infer(&[]), "Maria", "Lopez", "acme.test", 4)
            .await
            .is_none()
    );
}
