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
