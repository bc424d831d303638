//! The delivery ledger, platform uploads and channel settings on both
//! backends.

use leadgen_core::WorkspaceId;
use leadgen_store::{DeliveryStatus, NewDelivery, Store, testing};

const WS: WorkspaceId = 1;
const OTHER_WS: WorkspaceId = 2;

fn with_each_store(f: fn(&dyn Store)) {
    let (_dir, sqlite) = testing::sqlite_store();
    f(&sqlite);
    if let Some(pg) = testing::pg_store() {
        f(&pg);
    }
}

macro_rules! both {
    ($($t:ident),* $(,)?) => {
        $( mod $t { #[test] fn on_sqlite_and_postgres() { super::with_each_store(super::$t); } } )*
    };
}

both!(
    a_key_is_one_delivery_and_attempts_are_counted,
    deliveries_are_per_workspace_and_listed_newest_first,
    platform_uploads_are_recorded_once_per_lead,
    channel_settings_are_replaced
);

fn new(key: &str) -> NewDelivery {
    NewDelivery {
        channel: "slack".into(),
        target: "hooks.slack.com".into(),
        event: "run.completed".into(),
        idempotency_key: key.into(),
    }
}

fn a_key_is_one_delivery_and_attempts_are_counted(s: &dyn Store) {
    let d = s.begin_delivery(WS, &new("run:1"), 100).unwrap();
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Pending, 0));
    s.finish_delivery(WS, "run:1", Some("slack: server error (500)"), 110)
        .unwrap();
    let again = s.begin_delivery(WS, &new("run:1"), 120).unwrap();
    assert_eq!(again.id, d.id);
    assert_eq!(again.status, DeliveryStatus::Failed);
    assert_eq!(again.attempts, 1);
    assert_eq!(
        again.last_error.as_deref(),
        Some("slack: server error (500)")
    );
    s.finish_delivery(WS, "run:1", None, 130).unwrap();
    let done = s.begin_delivery(WS, &new("run:1"), 140).unwrap();
    assert_eq!((done.status, done.attempts), (DeliveryStatus::Delivered, 2));
    assert_eq!(done.last_error, None);
    assert_eq!(done.created_at, 100);
    assert_eq!(done.updated_at, 130);
}

fn deliveries_are_per_workspace_and_listed_newest_first(s: &dyn Store) {
    s.begin_delivery(WS, &new("a"), 1).unwrap();
    s.begin_delivery(WS, &new("b"), 2).unwrap();
    let other = s.begin_delivery(OTHER_WS, &new("a"), 3).unwrap();
    assert_eq!(other.status, DeliveryStatus::Pending);
    s.finish_delivery(OTHER_WS, "a", None, 4).unwrap();
    let list = s.list_deliveries(WS, 10).unwrap();
    let keys: Vec<&str> = list.iter().map(|d| d.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["b", "a"]);
    assert!(list.iter().all(|d| d.status == DeliveryStatus::Pending));
    assert_eq!(s.list_deliveries(WS, 1).unwrap().len(), 1);
}

fn platform_uploads_are_recorded_once_per_lead(s: &dyn Store) {
    s.record_platform_upload(WS, "tech", "b1", &[3, 1, 2], 1000)
        .unwrap();
    s.record_platform_upload(WS, "tech", "b2", &[2, 4], 2000)
        .unwrap();
    s.record_platform_upload(WS, "finance", "b3", &[1], 3000)
        .unwrap();
    assert_eq!(s.uploaded_to_platform(WS, "tech").unwrap(), [1, 2, 3, 4]);
    assert_eq!(
        s.uploaded_to_platform(OTHER_WS, "tech").unwrap(),
        Vec::<i64>::new()
    );
    let ups = s.platform_uploads(WS, 10).unwrap();
    let summary: Vec<(&str, &str, u64, i64)> = ups
        .iter()
        .map(|u| {
            (
                u.platform.as_str(),
                u.batch_id.as_str(),
                u.leads,
                u.uploaded_at,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("finance", "b3", 1, 3000),
            ("tech", "b2", 1, 2000),
            ("tech", "b1", 3, 1000)
        ]
    );
}

fn channel_settings_are_replaced(s: &dyn Store) {
    assert_eq!(s.delivery_channels(WS).unwrap(), None);
    s.set_delivery_channels(WS, r#"{"slack":null}"#, 1).unwrap();
    s.set_delivery_channels(WS, r#"{"slack":"x"}"#, 2).unwrap();
    assert_eq!(
        s.delivery_channels(WS).unwrap().as_deref(),
        Some(r#"{"slack":"x"}"#)
    );
    assert_eq!(s.delivery_channels(OTHER_WS).unwrap(), None);
}
