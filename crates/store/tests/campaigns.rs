//! Campaigns, members and push batches on both backends.

use leadgen_core::lead::LeadStatus;
use leadgen_core::segment::Segment;
use leadgen_store::campaigns::member;
use leadgen_store::{LeadFilter, Store, testing};

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
    members_come_from_the_segment_once,
    batches_are_recorded_and_an_unfinished_one_is_in_doubt,
    a_crm_id_is_recorded_once,
    positive_replies_count_the_campaigns_crm_jobs,
);

/// 10 leads, scores 0, 10, …, 90; lead 9 has no email.
fn setup(s: &dyn Store) -> (i64, Vec<i64>) {
    let leads = testing::insert_leads(s, WS, "c", |b| {
        (0..10u64)
            .map(|i| {
                let mut l = testing::lead_with_email(b, i + 2, &format!("p{i}@x.com"));
                l.score = (i * 10) as u8;
                if i == 9 {
                    l.email = None;
                }
                l
            })
            .collect()
    })
    .unwrap();
    let id = s.create_campaign(WS, "Test", "score >= 30", 5).unwrap();
    (id, leads.iter().map(|l| l.id).collect())
}

fn filter(text: &str) -> LeadFilter {
    LeadFilter {
        segment: Some(Segment::parse(text).unwrap()),
        ..Default::default()
    }
}

fn members_come_from_the_segment_once(s: &dyn Store) {
    let (id, _) = setup(s);
    let c = s.get_campaign(WS, id).unwrap().unwrap();
    assert_eq!(
        (c.name.as_str(), c.status.as_str(), c.segment.as_str()),
        ("Test", "draft", "score >= 30")
    );
    assert_eq!(
        s.add_campaign_members(WS, id, &filter("score >= 30"), 6)
            .unwrap(),
        7
    );
    assert_eq!(
        s.add_campaign_members(WS, id, &filter("score >= 10"), 7)
            .unwrap(),
        2
    );
    let counts = s.campaign_counts(WS, id).unwrap();
    assert_eq!(counts.leads, 9);
    assert!(s.get_campaign(2, id).unwrap().is_none());
    assert_eq!(s.list_campaigns(WS).unwrap().len(), 1);
    s.set_instantly_campaign(WS, id, "inst-1", 8).unwrap();
    assert_eq!(
        s.campaign_by_instantly_id(WS, "inst-1")
            .unwrap()
            .unwrap()
            .id,
        id
    );
    assert!(s.campaign_by_instantly_id(2, "inst-1").unwrap().is_none());
}

fn batches_are_recorded_and_an_unfinished_one_is_in_doubt(s: &dyn Store) {
    let (id, leads) = setup(s);
    s.add_campaign_members(WS, id, &filter("score >= 0"), 6)
        .unwrap();
    let first = s.next_push_batch(WS, id, 4, 10).unwrap().unwrap();
    assert!(!first.in_doubt);
    assert_eq!(
        first.members.iter().map(|m| m.lead).collect::<Vec<_>>(),
        leads[..4]
    );
    assert_eq!(first.members[0].email.as_deref(), Some("p0@x.com"));
    // The attempt dies: the next push gets the same batch, in doubt.
    let again = s.next_push_batch(WS, id, 4, 11).unwrap().unwrap();
    assert_eq!((again.id, again.in_doubt), (first.id, true));
    // One member is suppressed and leaves; the rest are pushed.
    s.set_member_state(WS, id, &[leads[0]], member::SUPPRESSED, 12)
        .unwrap();
    let pushed: Vec<(i64, Option<String>)> = leads[1..4]
        .iter()
        .map(|l| (*l, Some(format!("i{l}"))))
        .collect();
    s.finish_push_batch(WS, first.id, &pushed, 13).unwrap();
    assert_eq!(
        s.get_lead(WS, leads[1]).unwrap().unwrap().status,
        LeadStatus::PushedToInstantly
    );
    assert_ne!(
        s.get_lead(WS, leads[0]).unwrap().unwrap().status,
        LeadStatus::PushedToInstantly
    );
    // The rest: leads 4..8 (lead 9 has no email and is never a batch member).
    let second = s.next_push_batch(WS, id, 100, 14).unwrap().unwrap();
    assert!(!second.in_doubt);
    assert_eq!(
        second.members.iter().map(|m| m.lead).collect::<Vec<_>>(),
        leads[4..9]
    );
    s.finish_push_batch(
        WS,
        second.id,
        &second
            .members
            .iter()
            .map(|m| (m.lead, None))
            .collect::<Vec<_>>(),
        15,
    )
    .unwrap();
    assert!(s.next_push_batch(WS, id, 100, 16).unwrap().is_none());
    let c = s.campaign_counts(WS, id).unwrap();
    assert_eq!((c.leads, c.pushed, c.suppressed, c.batches), (10, 8, 1, 2));
}

fn a_crm_id_is_recorded_once(s: &dyn Store) {
    let (id, leads) = setup(s);
    s.add_campaign_members(WS, id, &filter("score >= 0"), 6)
        .unwrap();
    assert_eq!(s.member_crm_id(WS, id, leads[2]).unwrap(), None);
    assert!(s.set_member_crm_id(WS, id, leads[2], "crm-1", 7).unwrap());
    assert!(!s.set_member_crm_id(WS, id, leads[2], "crm-2", 8).unwrap());
    assert_eq!(
        s.member_crm_id(WS, id, leads[2]).unwrap().as_deref(),
        Some("crm-1")
    );
    assert_eq!(
        s.get_lead(WS, leads[2]).unwrap().unwrap().status,
        LeadStatus::PushedToCrm
    );
    assert_eq!(s.campaign_counts(WS, id).unwrap().pushed_to_crm, 1);
}

fn positive_replies_count_the_campaigns_crm_jobs(s: &dyn Store) {
    use leadgen_core::job::NewJob;
    use leadgen_store::campaigns::crm_job_key;
    let (id, leads) = setup(s);
    let other = s.create_campaign(WS, "Other", "score >= 0", 5).unwrap();
    let job = |ws: i64, campaign: i64, lead: i64| {
        let mut j = NewJob::new(ws, "push_to_crm", "{}");
        j.unique_key = Some(crm_job_key(campaign, lead));
        j
    };
    // Two leads of this campaign, one twice (the second is not enqueued),
    // one of the other campaign, one in another workspace with this id.
    s.enqueue(
        &[
            job(WS, id, leads[1]),
            job(WS, id, leads[2]),
            job(WS, other, leads[1]),
            job(2, id, leads[3]),
        ],
        9,
    )
    .unwrap();
    assert_eq!(s.enqueue(&[job(WS, id, leads[2])], 9).unwrap(), [None]);
    assert_eq!(s.campaign_counts(WS, id).unwrap().positive_replies, 2);
    assert_eq!(s.campaign_counts(WS, other).unwrap().positive_replies, 1);
    assert_eq!(crm_job_key(1, 10), "crm:1:10");
    // Campaign 1's prefix is not campaign 10's or 11's.
    s.enqueue(&[job(WS, id * 10 + 1, leads[4])], 10).unwrap();
    assert_eq!(s.campaign_counts(WS, id).unwrap().positive_replies, 2);
}

mod webhooks {
    use leadgen_store::{NewWebhookEvent, Store};

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

    both!(deliveries_are_stored_once_per_dedupe_key_and_counted);

    fn event(key: Option<&str>, ty: &str) -> NewWebhookEvent {
        NewWebhookEvent {
            source: "instantly".into(),
            received_at: 1,
            headers: "{}".into(),
            body: "{\"x\":1}".into(),
            status: "received".into(),
            error: None,
            dedupe_key: key.map(str::to_owned),
            event_type: Some(ty.into()),
            campaign_ref: Some("cmp-1".into()),
        }
    }

    fn deliveries_are_stored_once_per_dedupe_key_and_counted(s: &dyn Store) {
        let a = s
            .record_webhook(1, &event(Some("k1"), "email_sent"))
            .unwrap()
            .unwrap();
        assert_eq!(
            s.record_webhook(1, &event(Some("k1"), "email_sent"))
                .unwrap(),
            None
        );
        // Another workspace has its own keys; refused deliveries have none.
        assert!(
            s.record_webhook(2, &event(Some("k1"), "email_sent"))
                .unwrap()
                .is_some()
        );
        let r1 = s.record_webhook(1, &event(None, "x")).unwrap().unwrap();
        let r2 = s.record_webhook(1, &event(None, "x")).unwrap().unwrap();
        assert_ne!(r1, r2);
        let b = s
            .record_webhook(1, &event(Some("k2"), "email_sent"))
            .unwrap()
            .unwrap();
        s.set_webhook_status(1, a, "processed", None).unwrap();
        s.set_webhook_status(1, b, "failed", Some("boom")).unwrap();
        assert_eq!(
            s.webhook_counts(1, "instantly", "cmp-1").unwrap(),
            vec![("email_sent".to_string(), 1)]
        );
        let got = s.get_webhook(1, b).unwrap().unwrap();
        assert_eq!(
            (got.status.as_str(), got.error.as_deref(), got.body.as_str()),
            ("failed", Some("boom"), "{\"x\":1}")
        );
        assert_eq!(s.list_webhooks(1, "instantly", 10).unwrap().len(), 4);
        assert!(s.get_webhook(2, b).unwrap().is_none());
    }
}
