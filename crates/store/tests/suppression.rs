//! The suppression list and audit log on both backends.

use leadgen_store::suppression::email_hash;
use leadgen_store::{AuditEntry, Store, Suppression, SuppressionKind, SuppressionReason};

const WS: i64 = 1;
const OTHER_WS: i64 = 2;

macro_rules! both {
    ($($t:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $t() { let (_dir, s) = leadgen_store::testing::sqlite_store(); super::$t(&s); } )*
        }
        mod postgres {
            $( #[test] fn $t() { let Some(s) = leadgen_store::testing::pg_store() else { return }; super::$t(&s); } )*
        }
    };
}

both!(
    an_email_is_suppressed_by_its_key_in_any_spelling,
    a_domain_suppresses_every_address_in_it,
    an_erasure_keeps_only_the_hash_and_still_suppresses,
    the_bulk_check_returns_exactly_the_suppressed_inputs,
    entries_are_added_once_and_listed_newest_first,
    audit_entries_are_kept_per_workspace,
);

fn an_email_is_suppressed_by_its_key_in_any_spelling(s: &dyn Store) {
    let e = Suppression::for_email(
        "Jane.Doe@Example.com",
        SuppressionKind::Email,
        SuppressionReason::Unsubscribed,
        "test",
        1,
    );
    assert_eq!(e.value, "jane.doe@example.com");
    assert!(s.suppress(WS, &e).unwrap());
    for spelling in [
        "jane.doe@example.com",
        "JANE.DOE+news@example.com",
        " jane.doe@EXAMPLE.com ",
    ] {
        assert_eq!(
            s.suppressed_reason(WS, spelling).unwrap(),
            Some(SuppressionReason::Unsubscribed),
            "{spelling}"
        );
    }
    assert_eq!(s.suppressed_reason(WS, "john@example.com").unwrap(), None);
    assert_eq!(
        s.suppressed_reason(OTHER_WS, "jane.doe@example.com")
            .unwrap(),
        None
    );
    // Garbage is checked, not an error.
    assert_eq!(s.suppressed_reason(WS, "not an address").unwrap(), None);
}

fn a_domain_suppresses_every_address_in_it(s: &dyn Store) {
    let d = Suppression::for_domain(
        "@Competitor.io",
        SuppressionReason::DoNotContactDomain,
        "cli",
        1,
    );
    assert_eq!(d.value, "competitor.io");
    s.suppress(WS, &d).unwrap();
    assert_eq!(
        s.suppressed_reason(WS, "anyone@competitor.io").unwrap(),
        Some(SuppressionReason::DoNotContactDomain)
    );
    assert_eq!(
        s.suppressed_reason(WS, "anyone@sub.competitor.io.example")
            .unwrap(),
        None
    );
}

fn an_erasure_keeps_only_the_hash_and_still_suppresses(s: &dyn Store) {
    let e = Suppression::for_email(
        "erased@example.org",
        SuppressionKind::EmailHash,
        SuppressionReason::GdprErasure,
        "gdpr",
        1,
    );
    assert_eq!(e.value, email_hash("erased@example.org"));
    assert_eq!(e.value.len(), 64);
    s.suppress(WS, &e).unwrap();
    assert_eq!(
        s.suppressed_reason(WS, "Erased@example.org").unwrap(),
        Some(SuppressionReason::GdprErasure)
    );
    let listed = s.list_suppressions(WS, 10).unwrap();
    assert!(listed.iter().all(|x| !x.value.contains("erased")));
}

fn the_bulk_check_returns_exactly_the_suppressed_inputs(s: &dyn Store) {
    for i in (0..1000).step_by(7) {
        let e = Suppression::for_email(
            &format!("p{i}@x.com"),
            SuppressionKind::Email,
            SuppressionReason::HardBounce,
            "test",
            1,
        );
        s.suppress(WS, &e).unwrap();
    }
    s.suppress(
        WS,
        &Suppression::for_domain("blocked.com", SuppressionReason::Manual, "t", 1),
    )
    .unwrap();
    let mut emails: Vec<String> = (0..1000).map(|i| format!("P{i}@x.com")).collect();
    emails.push("who@blocked.com".into());
    emails.push("".into());
    let got = s.filter_suppressed(WS, &emails).unwrap();
    let mut want: std::collections::HashSet<String> = (0..1000)
        .step_by(7)
        .map(|i| format!("P{i}@x.com"))
        .collect();
    want.insert("who@blocked.com".into());
    assert_eq!(got, want);
    assert!(s.filter_suppressed(OTHER_WS, &emails).unwrap().is_empty());
}

fn entries_are_added_once_and_listed_newest_first(s: &dyn Store) {
    let a = Suppression::for_email(
        "a@x.com",
        SuppressionKind::Email,
        SuppressionReason::Complaint,
        "t",
        10,
    );
    let b = Suppression::for_email(
        "b@x.com",
        SuppressionKind::Email,
        SuppressionReason::Manual,
        "t",
        20,
    );
    assert!(s.suppress(WS, &a).unwrap());
    assert!(s.suppress(WS, &b).unwrap());
    let again = Suppression {
        reason: SuppressionReason::Unsubscribed,
        created_at: 30,
        ..a.clone()
    };
    assert!(!s.suppress(WS, &again).unwrap());
    assert_eq!(
        s.list_suppressions(WS, 10).unwrap(),
        vec![b.clone(), a.clone()]
    );
    assert_eq!(s.list_suppressions(WS, 1).unwrap(), vec![b]);
}

fn audit_entries_are_kept_per_workspace(s: &dyn Store) {
    let e = |at: i64, action: &str| AuditEntry {
        at,
        actor: "cli".into(),
        action: action.into(),
        subject: "h".into(),
        detail: "{}".into(),
    };
    s.audit(WS, &e(1, "gdpr_export")).unwrap();
    s.audit(WS, &e(2, "gdpr_erase")).unwrap();
    s.audit(OTHER_WS, &e(3, "x")).unwrap();
    assert_eq!(
        s.audit_entries(WS, 10).unwrap(),
        vec![e(2, "gdpr_erase"), e(1, "gdpr_export")]
    );
}

#[test]
fn reasons_round_trip() {
    for r in SuppressionReason::ALL {
        assert_eq!(SuppressionReason::parse(r.as_str()), Some(r));
    }
    assert_eq!(SuppressionReason::parse("nope"), None);
}

mod person {
    use leadgen_store::{Store, testing};

    macro_rules! both {
        ($($t:ident),* $(,)?) => {
            mod sqlite {
                $( #[test] fn $t() { let (_dir, s) = leadgen_store::testing::sqlite_store(); super::$t(&s); } )*
            }
            mod postgres {
                $( #[test] fn $t() { let Some(s) = leadgen_store::testing::pg_store() else { return }; super::$t(&s); } )*
            }
        };
    }

    both!(a_person_is_found_by_email_and_erased_with_every_row);

    fn a_person_is_found_by_email_and_erased_with_every_row(s: &dyn Store) {
        let leads = testing::insert_leads(s, 1, "h", |b| {
            vec![
                testing::lead_with_email(b, 2, "jane@example.com"),
                testing::lead_with_email(b, 3, "john@example.com"),
            ]
        })
        .unwrap();
        let jane = leads[0].id;
        assert_eq!(
            s.lead_ids_by_email(1, "Jane+x@Example.com").unwrap(),
            vec![jane]
        );
        assert!(
            s.lead_ids_by_email(2, "jane@example.com")
                .unwrap()
                .is_empty()
        );
        assert!(
            s.lead_ids_by_email(1, "nobody@example.com")
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.erase_leads(1, &[jane]).unwrap(), 1);
        assert!(s.get_lead(1, jane).unwrap().is_none());
        // Her identity keys are gone from the store, not merely hidden.
        let mut tx = s
            .begin_ingest(1, &testing::meta("after-erasure"), 1)
            .unwrap();
        let owners: std::collections::BTreeSet<_> = tx
            .load_keys()
            .unwrap()
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        assert_eq!(owners, [leads[1].id].into());
        drop(tx);
        assert!(
            s.lead_ids_by_email(1, "jane@example.com")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            s.lead_ids_by_email(1, "john@example.com").unwrap(),
            vec![leads[1].id]
        );
    }
}
