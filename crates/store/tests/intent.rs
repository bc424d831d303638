//! Intent signals on both backends: kept once, read back by time, matched
//! to leads by email and company domain, levels written to leads, the
//! breakdown, leads ready for upload, active queries, workspaces apart.

use std::collections::HashMap;

use leadgen_core::domain::Domain;
use leadgen_core::email::Email;
use leadgen_core::intent::{IntentSignal, Strength, SubjectKind};
use leadgen_core::lead::{IntentLevel, LeadStatus};
use leadgen_core::{Lead, LeadId, RecordId, SourceRef, WorkspaceId};
use leadgen_store::{
    BatchCounts, BatchMeta, RecordChunkWriter, Store, StoredVerification, testing,
};

const WS: WorkspaceId = 1;
const OTHER_WS: WorkspaceId = 2;
const NOW: i64 = 1_750_000_000_000;
const DAY: i64 = 86_400_000;

fn signal(subject: SubjectKind, key: &str, topic: &str, score: u8, at: i64) -> IntentSignal {
    IntentSignal {
        subject,
        key: key.into(),
        topic: topic.into(),
        score,
        strength: Strength::of_score(score),
        signal_type: "surge".into(),
        source: "test".into(),
        observed_at: at,
    }
}

/// Stores leads `(email, company domain, score, status)`; their ids in order.
fn leads(s: &dyn Store, ws: WorkspaceId, rows: &[(&str, &str, u8, LeadStatus)]) -> Vec<LeadId> {
    let meta = BatchMeta {
        kind: "csv".into(),
        name: "leads.csv".into(),
        source: "csv_upload".into(),
        content_hash: format!("leads-{ws}"),
        headers: vec!["email".into()],
    };
    let mut tx = s.begin_ingest(ws, &meta, NOW).unwrap();
    let batch = tx.batch().clone();
    let first = tx.reserve_lead_ids(rows.len() as u64).unwrap();
    let mut w = RecordChunkWriter::default();
    let mut out = Vec::new();
    for (i, (email, domain, score, status)) in rows.iter().enumerate() {
        let line = i as u64 + 2;
        let origin = SourceRef {
            at: batch.started_at,
            record: RecordId::new(batch.id, line),
        };
        let mut l = Lead::empty("csv_upload", origin);
        l.id = first + i as i64;
        l.email = (!email.is_empty()).then(|| Email::parse(email).unwrap());
        l.company_domain = (!domain.is_empty()).then(|| Domain::parse(domain).unwrap());
        l.score = *score;
        l.status = *status;
        w.push(line, [email.as_bytes()].into_iter());
        out.push(l);
    }
    tx.store_records(&w.finish().unwrap()).unwrap();
    tx.insert_leads(&out).unwrap();
    let counts = BatchCounts {
        rows_read: out.len() as u64,
        inserted: out.len() as u64,
        merged: 0,
        rejected: 0,
    };
    tx.commit(counts, NOW).unwrap();
    out.iter().map(|l| l.id).collect()
}

fn signals_are_kept_once_and_read_back_by_time(s: &dyn Store) {
    let batch = vec![
        signal(SubjectKind::Company, "acme.com", "crm", 90, NOW - 3 * DAY),
        signal(SubjectKind::Lead, "jane@acme.com", "crm", 50, NOW - DAY),
        signal(SubjectKind::Company, "acme.com", "erp", 20, NOW - 20 * DAY),
    ];
    assert_eq!(s.add_intent_signals(WS, &batch, NOW).unwrap(), 3);
    assert_eq!(
        s.add_intent_signals(WS, &batch, NOW + 1).unwrap(),
        0,
        "the same signals again"
    );
    let recent = s.intent_signals_since(WS, NOW - 7 * DAY).unwrap();
    assert_eq!(
        recent,
        batch[..2].to_vec(),
        "oldest first, the old one left out"
    );
    assert_eq!(s.intent_signals_since(OTHER_WS, 0).unwrap(), vec![]);
}

fn signals_set_lead_levels_and_the_breakdown(s: &dyn Store) {
    use LeadStatus::*;
    let ids = leads(
        s,
        WS,
        &[
            ("jane@acme.com", "acme.com", 80, Raw),
            ("bob@acme.com", "acme.com", 50, Raw),
            ("eve@globex.com", "globex.com", 90, Raw),
            ("", "initech.com", 70, Raw),
        ],
    );
    leads(s, OTHER_WS, &[("jane@acme.com", "acme.com", 80, Raw)]);
    let mut batch: Vec<IntentSignal> = (0..3)
        .map(|i| signal(SubjectKind::Company, "acme.com", "crm", 80, NOW - i * DAY))
        .collect();
    batch.push(signal(SubjectKind::Lead, "eve@globex.com", "crm", 75, NOW));
    batch.push(signal(SubjectKind::Company, "initech.com", "crm", 10, NOW));
    s.add_intent_signals(WS, &batch, NOW).unwrap();
    let mut strengths = s.lead_signal_strengths(WS, NOW - 30 * DAY).unwrap();
    strengths.sort_unstable_by_key(|(id, _)| *id);
    assert_eq!(
        strengths,
        vec![
            (ids[0], Strength::High),
            (ids[0], Strength::High),
            (ids[0], Strength::High),
            (ids[1], Strength::High),
            (ids[1], Strength::High),
            (ids[1], Strength::High),
            (ids[2], Strength::High),
        ],
        "low signals are not counted"
    );
    let levels: HashMap<LeadId, IntentLevel> = [
        (ids[0], IntentLevel::Hot),
        (ids[1], IntentLevel::Hot),
        (ids[2], IntentLevel::Warm),
    ]
    .into();
    assert_eq!(s.set_lead_intents(WS, &levels, NOW).unwrap(), 3);
    assert_eq!(
        s.set_lead_intents(WS, &levels, NOW).unwrap(),
        0,
        "nothing changed"
    );
    assert_eq!(
        s.get_lead(WS, ids[2]).unwrap().unwrap().intent,
        IntentLevel::Warm
    );
    let mut by = s.leads_by_intent(WS).unwrap();
    by.sort_unstable_by_key(|(l, _)| l.as_str());
    assert_eq!(
        by,
        vec![
            (IntentLevel::Cold, 1),
            (IntentLevel::Hot, 2),
            (IntentLevel::Warm, 1)
        ]
    );
    assert_eq!(
        s.leads_by_intent(OTHER_WS).unwrap(),
        vec![(IntentLevel::Cold, 1)]
    );
    // A lead no longer matched goes back to cold.
    let fewer: HashMap<LeadId, IntentLevel> = [(ids[0], IntentLevel::Hot)].into();
    assert_eq!(s.set_lead_intents(WS, &fewer, NOW).unwrap(), 2);
    assert_eq!(
        s.get_lead(WS, ids[1]).unwrap().unwrap().intent,
        IntentLevel::Cold
    );
}

fn ready_leads_are_hot_or_warm_reachable_and_not_pushed(s: &dyn Store) {
    use LeadStatus::*;
    let ids = leads(
        s,
        WS,
        &[
            ("a@acme.com", "acme.com", 40, Raw),
            ("b@acme.com", "acme.com", 90, Validated),
            ("c@acme.com", "acme.com", 95, PushedToInstantly),
            ("d@acme.com", "acme.com", 60, Invalid),
            ("", "acme.com", 99, Raw),
            ("f@acme.com", "acme.com", 70, Raw),
            ("g@acme.com", "acme.com", 80, Raw),
            ("h@acme.com", "acme.com", 85, Raw),
        ],
    );
    let mut levels: HashMap<LeadId, IntentLevel> =
        ids.iter().map(|id| (*id, IntentLevel::Warm)).collect();
    levels.insert(ids[0], IntentLevel::Hot);
    levels.insert(ids[6], IntentLevel::Cold);
    s.set_lead_intents(WS, &levels, NOW).unwrap();
    let v = |lead, status: &str| StoredVerification {
        lead,
        email: "x@acme.com".into(),
        status: status.into(),
        score: 0,
        result: "{}".into(),
        checked_at: NOW,
    };
    s.record_verification(WS, &v(ids[7], "invalid"), None, NOW)
        .unwrap();
    s.record_verification(WS, &v(ids[1], "valid"), None, NOW)
        .unwrap();
    assert_eq!(
        s.leads_ready_for_upload(WS, 0, false, 100).unwrap(),
        vec![ids[0], ids[1], ids[5]],
        "hot first, then by score; pushed, invalid, emailless, cold and bounced-on-check left out"
    );
    assert_eq!(
        s.leads_ready_for_upload(WS, 50, false, 100).unwrap(),
        vec![ids[1], ids[5]]
    );
    assert_eq!(
        s.leads_ready_for_upload(WS, 0, true, 100).unwrap(),
        vec![ids[1]]
    );
    assert_eq!(
        s.leads_ready_for_upload(WS, 0, false, 1).unwrap(),
        vec![ids[0]]
    );
    assert!(
        s.leads_ready_for_upload(OTHER_WS, 0, false, 100)
            .unwrap()
            .is_empty()
    );
}

fn active_queries_are_saved_per_topic(s: &dyn Store) {
    s.save_intent_query(WS, "crm", r#"{"limit":10}"#, NOW)
        .unwrap();
    s.save_intent_query(WS, "erp", r#"{"limit":5}"#, NOW)
        .unwrap();
    s.save_intent_query(WS, "crm", r#"{"limit":20}"#, NOW + 1)
        .unwrap();
    assert_eq!(
        s.intent_queries(WS).unwrap(),
        vec![
            ("crm".to_owned(), r#"{"limit":20}"#.to_owned()),
            ("erp".to_owned(), r#"{"limit":5}"#.to_owned())
        ]
    );
    assert!(s.intent_queries(OTHER_WS).unwrap().is_empty());
    assert!(s.delete_intent_query(WS, "erp").unwrap());
    assert!(!s.delete_intent_query(WS, "erp").unwrap());
    assert_eq!(s.intent_queries(WS).unwrap().len(), 1);
}

macro_rules! both {
    ($($t:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $t() { let (_d, s) = leadgen_store::testing::sqlite_store(); super::$t(&s); } )*
        }
        mod postgres {
            $( #[test] fn $t() { let Some(s) = leadgen_store::testing::pg_store() else { return }; super::$t(&s); } )*
        }
    };
}

both!(
    signals_are_kept_once_and_read_back_by_time,
    signals_set_lead_levels_and_the_breakdown,
    ready_leads_are_hot_or_warm_reachable_and_not_pushed,
    active_queries_are_saved_per_topic,
);

#[test]
fn postgres_is_tested_here_when_installed() {
    if testing::pg_available() {
        assert!(testing::pg_store().is_some());
    }
}
