//! Segments compiled to SQL select exactly the leads the reference
//! evaluation (`Segment::matches`) selects, on both backends.

use leadgen_core::ads::AdActivity;
use leadgen_core::company::Company;
use leadgen_core::domain::Domain;
use leadgen_core::lead::{IntentLevel, LeadStatus, Tier};
use leadgen_core::segment::{LeadFacts, Segment};
use leadgen_core::{Lead, RecordId, SourceRef};
use leadgen_store::{LeadEdit, LeadFilter, Store, StoredVerification, testing};

const WS: i64 = 1;

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
    segment_counts_match_the_reference,
    tag_conditions_follow_every_write
);

const INDUSTRIES: [Option<&str>; 4] = [Some("Dentist"), Some("dentist"), Some("Law"), None];
const STATES: [Option<&str>; 4] = [Some("NY"), Some("NJ"), Some("CA"), None];
const EMAIL_STATUS: [Option<&str>; 4] = [Some("valid"), Some("invalid"), Some("catch_all"), None];

/// 240 leads covering every combination of a few values, their
/// verification statuses and whether their company runs ads.
fn dataset(s: &dyn Store) -> Vec<(Lead, LeadFacts)> {
    let leads = testing::insert_leads(s, WS, "seg", |b| {
        (0..240u64)
            .map(|i| {
                let mut l = testing::lead_with_email(b, i + 2, &format!("p{i}@d{}.com", i % 5));
                l.provenance.origin = Some(SourceRef {
                    at: 1_767_225_600_000 + (i as i64 % 3) * 86_400_000,
                    record: RecordId::new(b.id, i + 2),
                });
                l.created_at = 1_767_225_600_000 + (i as i64 % 3) * 86_400_000;
                l.industry = INDUSTRIES[i as usize % 4].map(str::to_owned);
                l.state = STATES[(i as usize / 4) % 4].map(str::to_owned);
                l.score = ((i * 37) % 101) as u8;
                l.tier = [Tier::A, Tier::B, Tier::C][i as usize % 3];
                l.intent = [IntentLevel::Hot, IntentLevel::Cold][i as usize % 2];
                l.status = [LeadStatus::Validated, LeadStatus::Raw][(i as usize / 3) % 2];
                l.employee_count = (i % 7 != 0).then_some((i * 13 % 200) as u32);
                l.company_domain = Domain::parse(&format!("d{}.com", i % 5)).ok();
                if i % 4 == 1 {
                    l.tags = vec!["vip".into()];
                }
                l
            })
            .collect()
    })
    .unwrap();
    // Companies d0.com and d1.com run ads; d2.com ran some, none running.
    let mut companies = Vec::new();
    for (n, active) in [(0, 2), (1, 1), (2, 0)] {
        let mut c = Company::new(SourceRef {
            at: 1,
            record: RecordId::new(99, n + 2),
        });
        c.domain = Domain::parse(&format!("d{n}.com")).ok();
        c.meta_ads = Some(AdActivity {
            ad_count: 3,
            active_count: active,
            first_seen: None,
            last_seen: None,
            sample_creative: None,
            window_days: 30,
            checked_on: "2026-11-30".into(),
        });
        companies.push(c);
    }
    s.upsert_companies(WS, &companies, 1).unwrap();
    leads
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let status = EMAIL_STATUS[(i / 2) % 4];
            if let Some(st) = status {
                let v = StoredVerification {
                    lead: l.id,
                    email: "x".into(),
                    status: st.into(),
                    score: 50,
                    result: "{}".into(),
                    checked_at: 1,
                };
                s.record_verification(WS, &v, None, 1).unwrap();
            }
            let facts = LeadFacts {
                email_status: status.map(str::to_owned),
                running_ads: i % 5 < 2,
            };
            (l, facts)
        })
        .collect()
}

fn segment_counts_match_the_reference(s: &dyn Store) {
    let data = dataset(s);
    let segments = [
        r#"industry = "dentist" and state in ("NY","NJ","CT") and score >= 70 and email_status = "valid""#,
        r#"not industry = "dentist""#,
        r#"industry != "dentist""#,
        r#"state in ("ny") or tier = "A" and intent = "hot""#,
        r#"(state in ("ny") or tier = "A") and intent = "hot""#,
        r#"tags has "vip" and not email_status in ("invalid", "catch_all")"#,
        r#"not tags has "vip""#,
        "employee_count < 50 or not employee_count >= 50",
        "created_at >= 2026-01-02 and created_at < 2026-01-03",
        r#"status = "validated" and score > 20 and score <= 60"#,
        "running_ads = true",
        "running_ads != true and score > 50",
        r#"not (running_ads = false or email_status != "valid")"#,
        r#"source = "TEST" and company_domain = "D3.com""#,
        r#"email_status = "unknown""#,
    ];
    for text in segments {
        let seg = Segment::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let want: Vec<i64> = data
            .iter()
            .filter(|(l, f)| seg.matches(l, f))
            .map(|(l, _)| l.id)
            .collect();
        let filter = LeadFilter {
            segment: Some(seg),
            ..Default::default()
        };
        let mut got = Vec::new();
        s.export_leads(WS, &filter, &mut |l| {
            got.push(l.id);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, want, "{text}");
        assert_eq!(
            s.count_leads(WS, &filter).unwrap(),
            want.len() as u64,
            "{text}"
        );
        // Every segment above selects something and rejects something, so
        // none of these comparisons is vacuous.
        assert!(
            !want.is_empty() || text.contains("unknown"),
            "{text} selects nothing"
        );
        assert!(want.len() < data.len(), "{text} selects everything");
    }
}

/// The ids `tags has "<tag>"` selects, by the segment and by the leads
/// list's tag filter; both must agree.
fn tagged(s: &dyn Store, tag: &str) -> Vec<i64> {
    let ids = |filter: LeadFilter| {
        let mut got = Vec::new();
        s.export_leads(WS, &filter, &mut |l| {
            got.push(l.id);
            Ok(())
        })
        .unwrap();
        got
    };
    let by_segment = ids(LeadFilter {
        segment: Some(Segment::parse(&format!("tags has \"{tag}\"")).unwrap()),
        ..Default::default()
    });
    let by_filter = ids(LeadFilter {
        tags: vec![tag.into()],
        ..Default::default()
    });
    assert_eq!(by_segment, by_filter, "{tag}");
    by_segment
}

/// Tag conditions read an index of the leads' tags on SQLite (filled after
/// a load into an empty store, kept by triggers afterwards) and a GIN index
/// on PostgreSQL; every way a lead's tags change must show in them.
fn tag_conditions_follow_every_write(s: &dyn Store) {
    let with_tags = |b: &leadgen_store::Batch, from: u64, tags: &[&str]| {
        let mut l = testing::lead_with_email(b, from, &format!("t{from}@tags.example"));
        l.tags = tags.iter().map(|t| t.to_string()).collect();
        l
    };
    // A load into the empty store, then one into a store with leads.
    let first = testing::insert_leads(s, WS, "tags-1", |b| {
        vec![
            with_tags(b, 2, &["a", "b"]),
            with_tags(b, 3, &[]),
            with_tags(b, 4, &["b"]),
        ]
    })
    .unwrap();
    let second = testing::insert_leads(s, WS, "tags-2", |b| {
        vec![with_tags(b, 2, &["a"]), with_tags(b, 3, &["c", "a"])]
    })
    .unwrap();
    // Another workspace's lead with the same tag is never counted.
    testing::insert_leads(s, WS + 1, "tags-other", |b| vec![with_tags(b, 2, &["a"])]).unwrap();
    let (l1, l3) = (first[0].id, first[2].id);
    let (l4, l5) = (second[0].id, second[1].id);
    assert_eq!(tagged(s, "a"), vec![l1, l4, l5]);
    assert_eq!(tagged(s, "b"), vec![l1, l3]);
    assert_eq!(tagged(s, "c"), vec![l5]);

    // A merge rewrites a lead with new tags.
    let mut merged = first[2].clone();
    merged.tags = vec!["c".into()];
    let mut tx = s.begin_ingest(WS, &testing::meta("tags-3"), 5).unwrap();
    tx.update_leads(&[merged]).unwrap();
    tx.commit(Default::default(), 6).unwrap();
    assert_eq!(tagged(s, "b"), vec![l1]);
    assert_eq!(tagged(s, "c"), vec![l3, l5]);

    // An edit from the API or the dashboard, then clearing all tags.
    let edit = |tags: Vec<String>| LeadEdit {
        status: None,
        tags: Some(tags),
    };
    assert!(
        s.edit_lead(WS, l1, &edit(vec!["b".into(), "d".into()]), 7)
            .unwrap()
    );
    assert_eq!(tagged(s, "a"), vec![l4, l5]);
    assert_eq!(tagged(s, "d"), vec![l1]);
    assert!(s.edit_lead(WS, l5, &edit(vec![]), 8).unwrap());
    assert_eq!(tagged(s, "a"), vec![l4]);
    assert_eq!(tagged(s, "c"), vec![l3]);

    // A deleted lead (erasure) leaves no tag behind.
    assert!(s.delete_lead(WS, l1).unwrap());
    assert_eq!(tagged(s, "b"), Vec::<i64>::new());
    assert_eq!(tagged(s, "d"), Vec::<i64>::new());
}
