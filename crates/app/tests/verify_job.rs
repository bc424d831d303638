//! `validate_email` end to end: a real worker on SQLite, the verifier
//! pointed at loopback DNS and SMTP fakes.

use std::sync::Arc;

use leadgen_app::verify_job;
use leadgen_core::email::Email;
use leadgen_core::job::{JobStatus, NewJob, types};
use leadgen_core::lead::LeadStatus;
use leadgen_core::{Lead, LeadId, RecordId, SourceRef};
use leadgen_jobs::{Registry, SystemClock, WorkerOptions, run_worker};
use leadgen_store::{BatchCounts, BatchMeta, JobFilter, RecordChunkWriter, Store, testing};
use leadgen_verify::Verifier;
use leadgen_verify::testkit::{Behavior, FakeDns, SmtpFarm, loopback, options};

const WS: i64 = 1;
const NOW: i64 = 1_790_000_000_000;

/// Stores one lead per address (or none) and returns their ids.
fn leads(store: &dyn Store, emails: &[Option<&str>]) -> Vec<LeadId> {
    let meta = BatchMeta {
        kind: "csv".into(),
        name: "v.csv".into(),
        source: "csv_upload".into(),
        content_hash: "verify-job".into(),
        headers: vec!["email".into()],
    };
    let mut tx = store.begin_ingest(WS, &meta, NOW).unwrap();
    let batch = tx.batch().clone();
    let first = tx.reserve_lead_ids(emails.len() as u64).unwrap();
    let mut w = RecordChunkWriter::default();
    let mut out = Vec::new();
    for (i, e) in emails.iter().enumerate() {
        let line = i as u64 + 2;
        let origin = SourceRef {
            at: batch.started_at,
            record: RecordId::new(batch.id, line),
        };
        let mut l = Lead::empty("csv_upload", origin);
        l.id = first + i as i64;
        l.email = e.map(|e| Email::parse(e).unwrap());
        w.push(line, [e.unwrap_or("").as_bytes()].into_iter());
        out.push(l);
    }
    tx.store_records(&w.finish().unwrap()).unwrap();
    tx.insert_leads(&out).unwrap();
    tx.commit(
        BatchCounts {
            rows_read: out.len() as u64,
            inserted: out.len() as u64,
            merged: 0,
            rejected: 0,
        },
        NOW + 1,
    )
    .unwrap();
    out.iter().map(|l| l.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_email_stores_the_result_and_moves_the_lead_by_the_threshold() {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![
        (
            loopback(0),
            Behavior::known_users(&["jane@acme.test", "info@acme.test"]),
        ),
        (loopback(1), Behavior::always_greylist()),
    ]);
    dns.mail_domain("acme.test", loopback(0));
    dns.mail_domain("slow.test", loopback(1));
    let verifier = Arc::new(Verifier::new(options(&dns, farm.port)).unwrap());

    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let ids = leads(
        &*store,
        &[
            Some("jane@acme.test"),
            Some("bob@acme.test"),
            Some("info@acme.test"),
            Some("jane@slow.test"),
            None,
        ],
    );
    let jobs: Vec<NewJob> = ids
        .iter()
        .map(|id| {
            NewJob::new(
                WS,
                types::VALIDATE_EMAIL,
                &format!(r#"{{"lead_id": {id}}}"#),
            )
        })
        .chain([NewJob::new(
            WS,
            types::VALIDATE_EMAIL,
            r#"{"lead_id": 999999}"#,
        )])
        .collect();
    store.enqueue(&jobs, NOW).unwrap();

    let mut reg = Registry::new();
    reg.register(verify_job::spec_with(verifier, 70));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut o = WorkerOptions::new("verify-test");
    o.until_idle = true;
    o.concurrency = 4;
    let report = run_worker(store.clone(), Arc::new(reg), Arc::new(SystemClock), o, rx)
        .await
        .unwrap();
    assert_eq!(report.completed, 4, "{report:?}");

    let check = |id: LeadId| {
        let v = store.verification(WS, id).unwrap().unwrap();
        let lead = store.get_lead(WS, id).unwrap().unwrap();
        let json: serde_json::Value = serde_json::from_str(&v.result).unwrap();
        (v, lead.status, json)
    };
    let (v, status, json) = check(ids[0]);
    assert_eq!(
        (v.status.as_str(), v.score, status),
        ("valid", 95, LeadStatus::Validated)
    );
    assert_eq!(json["smtp"]["code"], 250);
    assert_eq!(json["mx_hosts"][0], "mx.acme.test");
    let (v, status, _) = check(ids[1]);
    assert_eq!(
        (v.status.as_str(), status),
        ("invalid", LeadStatus::Invalid)
    );
    // A role address that exists is risky (60), under the threshold.
    let (v, status, _) = check(ids[2]);
    assert_eq!(
        (v.status.as_str(), v.score, status),
        ("risky", 60, LeadStatus::Invalid)
    );
    // Unknown (greylisted for good): stored, status untouched.
    let (v, status, json) = check(ids[3]);
    assert_eq!(v.status.as_str(), "unknown");
    assert_eq!(json["reason"], "greylisted");
    assert_eq!(status, LeadStatus::Raw);

    // No email and no such lead: permanent failures, nothing stored.
    assert!(store.verification(WS, ids[4]).unwrap().is_none());
    let failed: Vec<_> = store
        .list_jobs(WS, &JobFilter::default())
        .unwrap()
        .into_iter()
        .filter(|j| j.status == JobStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|j| j.attempts == 1), "not retried");
    assert!(
        failed
            .iter()
            .any(|j| j.errors[0].message.contains("no email"))
    );
    assert!(
        failed
            .iter()
            .any(|j| j.errors[0].message.contains("not in workspace"))
    );
    assert!(
        leadgen_app::queue::registry()
            .types()
            .contains(&types::VALIDATE_EMAIL.to_owned())
    );
}
