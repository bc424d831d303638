//! GDPR export and erasure.

use leadgen_app::consent::{gdpr_erase, gdpr_export};
use leadgen_store::{AuditLog, Store, SuppressionStore, testing};

#[test]
fn export_shows_the_person_and_erasure_keeps_only_the_hash() {
    let (_dir, s) = testing::sqlite_store();
    let leads = testing::insert_leads(&s, 1, "h", |b| {
        vec![
            testing::lead_with_email(b, 2, "jane@example.com"),
            testing::lead_with_email(b, 3, "john@example.com"),
        ]
    })
    .unwrap();
    let doc = gdpr_export(&s, 1, "Jane@Example.com", "cli", 10).unwrap();
    assert_eq!(doc["leads"].as_array().unwrap().len(), 1);
    assert_eq!(doc["leads"][0]["lead"]["id"], leads[0].id);
    assert_eq!(doc["suppressed"], serde_json::Value::Null);

    let erased = gdpr_erase(&s, 1, "jane@example.com", "cli", 20).unwrap();
    assert_eq!(erased.leads_erased, vec![leads[0].id]);
    assert!(s.get_lead(1, leads[0].id).unwrap().is_none());
    assert!(s.get_lead(1, leads[1].id).unwrap().is_some());
    assert!(
        s.suppressed_reason(1, "JANE@example.com")
            .unwrap()
            .is_some()
    );
    // Nothing readable about her is left on the list or in the log.
    let listed = s.list_suppressions(1, 10).unwrap();
    assert!(listed.iter().all(|x| !x.value.contains("jane")));
    let log = s.audit_entries(1, 10).unwrap();
    assert_eq!(log[0].action, "gdpr_erase");
    assert_eq!(log[0].subject, erased.hash);
    assert!(
        log.iter()
            .all(|e| !e.subject.contains("jane") && !e.detail.contains("jane"))
    );
    // Exporting after the erasure finds nothing but the suppression.
    let after = gdpr_export(&s, 1, "jane@example.com", "cli", 30).unwrap();
    assert!(after["leads"].as_array().unwrap().is_empty());
    assert_eq!(after["suppressed"], "gdpr_erasure");
}

#[test]
fn an_export_for_sending_leaves_suppressed_leads_out() {
    use leadgen_app::export::{Format, export, export_for_sending};
    use leadgen_store::{LeadFilter, Suppression, SuppressionKind, SuppressionReason};
    let (_dir, s) = testing::sqlite_store();
    testing::insert_leads(&s, 1, "h", |b| {
        vec![
            testing::lead_with_email(b, 2, "keep@ok.com"),
            testing::lead_with_email(b, 3, "Gone+x@ok.com"),
            testing::lead_with_email(b, 4, "anyone@blocked.com"),
        ]
    })
    .unwrap();
    let gone = Suppression::for_email(
        "gone@ok.com",
        SuppressionKind::Email,
        SuppressionReason::Unsubscribed,
        "t",
        1,
    );
    s.suppress(1, &gone).unwrap();
    s.suppress(
        1,
        &Suppression::for_domain("blocked.com", SuppressionReason::DoNotContactDomain, "t", 1),
    )
    .unwrap();
    let mut out = Vec::new();
    let (n, left_out) = export_for_sending(
        &s,
        1,
        &LeadFilter::default(),
        Format::Jsonl,
        &mut out,
        &|_| {},
    )
    .unwrap();
    assert_eq!((n, left_out), (1, 2));
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains("keep@ok.com"));
    // A plain export (not for sending) has all three.
    let mut all = Vec::new();
    let heard = std::cell::Cell::new(0);
    assert_eq!(
        export(&s, 1, &LeadFilter::default(), Format::Csv, &mut all, &|n| {
            heard.set(n)
        })
        .unwrap(),
        3
    );
    assert_eq!(heard.get(), 3, "progress hears the final count");
}
