//! Workspaces, users, sessions, API keys and single-lead edits: one contract,
//! run on SQLite and on PostgreSQL (a throw-away cluster; skipped with a loud
//! line when PostgreSQL is not installed, except on CI).

use leadgen_core::dedupe::{KeyHashes, KeyKind, stored_key};
use leadgen_core::lead::LeadStatus;
use leadgen_core::{Lead, RecordId, SourceRef, WorkspaceId};
use leadgen_store::testing::{self, meta};
use leadgen_store::{BatchCounts, BatchMeta, LeadEdit, LeadEdits, NewApiKey, Role, Store};

const NOW: i64 = 1_700_000_000_000;
const WS: WorkspaceId = 1;
const OTHER_WS: WorkspaceId = 2;

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

both! {
    workspaces_get_fresh_ids_and_ensure_is_idempotent,
    emails_are_unique_per_workspace_only,
    sessions_carry_their_user_and_csrf_until_they_expire,
    api_keys_are_found_by_hash_listed_per_workspace_and_revoked_once,
    touching_a_key_records_its_last_use,
    lead_edits_change_status_and_tags_within_the_workspace,
    deleting_a_lead_frees_its_identity_keys,
    a_deleted_leads_keys_stay_hidden_until_an_import_removes_them,
}

fn workspaces_get_fresh_ids_and_ensure_is_idempotent(s: &dyn Store) {
    s.ensure_workspace(1, "Default", NOW).unwrap();
    s.ensure_workspace(1, "Renamed", NOW).unwrap();
    assert_eq!(s.get_workspace(1).unwrap().unwrap().name, "Default");
    let a = s.create_workspace("Acme", NOW).unwrap();
    let b = s.create_workspace("Beta", NOW).unwrap();
    assert!(a > 1 && b > a, "ids {a}, {b} follow the default workspace");
    assert_eq!(s.get_workspace(b).unwrap().unwrap().name, "Beta");
    assert_eq!(s.get_workspace(b + 1).unwrap(), None);
    let names: Vec<String> = s
        .list_workspaces()
        .unwrap()
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, vec!["Default", "Acme", "Beta"]);
}

fn emails_are_unique_per_workspace_only(s: &dyn Store) {
    let first = s
        .create_user(WS, "a@example.com", "$argon2id$x", Role::Admin, NOW)
        .unwrap();
    assert!(first.is_some());
    let again = s
        .create_user(WS, "a@example.com", "$argon2id$y", Role::Viewer, NOW)
        .unwrap();
    assert_eq!(again, None, "same email twice in one workspace");
    let other = s
        .create_user(OTHER_WS, "a@example.com", "$argon2id$z", Role::Viewer, NOW)
        .unwrap();
    assert!(other.is_some() && other != first);

    let found = s.users_by_email("a@example.com").unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].role, Role::Admin);
    assert_eq!(found[0].password_hash, "$argon2id$x");
    assert_eq!(found[1].workspace, OTHER_WS);
    assert_eq!(s.list_users(WS).unwrap().len(), 1);
    assert_eq!(s.count_users().unwrap(), 2);
}

fn sessions_carry_their_user_and_csrf_until_they_expire(s: &dyn Store) {
    let uid = s
        .create_user(WS, "m@example.com", "h", Role::Member, NOW)
        .unwrap()
        .unwrap();
    s.create_session("tok-hash", uid, "csrf-1", NOW + 1000, NOW)
        .unwrap();
    let live = s.session("tok-hash", NOW + 999).unwrap().unwrap();
    assert_eq!(live.user.id, uid);
    assert_eq!(live.user.role, Role::Member);
    assert_eq!(live.csrf_token, "csrf-1");
    assert_eq!(s.session("tok-hash", NOW + 1000).unwrap(), None, "expired");
    assert_eq!(s.session("other", NOW).unwrap(), None);

    s.create_session("tok-2", uid, "csrf-2", NOW + 5000, NOW)
        .unwrap();
    s.delete_session("tok-2").unwrap();
    assert_eq!(s.session("tok-2", NOW).unwrap(), None, "logged out");
}

fn api_keys_are_found_by_hash_listed_per_workspace_and_revoked_once(s: &dyn Store) {
    let key = |ws, hash| NewApiKey {
        workspace: ws,
        name: "zapier",
        role: Role::Member,
        key_hash: hash,
        prefix: "lg_abcd",
    };
    let a = s.create_api_key(&key(WS, "hash-a"), NOW).unwrap();
    let b = s.create_api_key(&key(OTHER_WS, "hash-b"), NOW).unwrap();
    assert_ne!(a, b);
    let found = s.api_key_by_hash("hash-a").unwrap().unwrap();
    assert_eq!(
        (found.id, found.workspace, found.role, found.revoked_at),
        (a, WS, Role::Member, None)
    );
    assert_eq!(s.api_key_by_hash("nope").unwrap(), None);
    let listed: Vec<i64> = s.list_api_keys(WS).unwrap().iter().map(|k| k.id).collect();
    assert_eq!(listed, vec![a]);

    assert!(
        !s.revoke_api_key(WS, b, NOW).unwrap(),
        "another workspace's key"
    );
    assert_eq!(
        s.api_key_by_hash("hash-b").unwrap().unwrap().revoked_at,
        None
    );
    assert!(s.revoke_api_key(WS, a, NOW + 5).unwrap());
    assert!(
        !s.revoke_api_key(WS, a, NOW + 6).unwrap(),
        "already revoked"
    );
    assert_eq!(
        s.api_key_by_hash("hash-a").unwrap().unwrap().revoked_at,
        Some(NOW + 5)
    );
}

fn touching_a_key_records_its_last_use(s: &dyn Store) {
    let id = s
        .create_api_key(
            &NewApiKey {
                workspace: WS,
                name: "k",
                role: Role::Viewer,
                key_hash: "h",
                prefix: "p",
            },
            NOW,
        )
        .unwrap();
    s.touch_api_key(id, NOW + 10).unwrap();
    assert_eq!(
        s.api_key_by_hash("h").unwrap().unwrap().last_used_at,
        Some(NOW + 10)
    );
    s.touch_api_key(id, NOW + 20).unwrap();
    assert_eq!(
        s.api_key_by_hash("h").unwrap().unwrap().last_used_at,
        Some(NOW + 10),
        "within a minute the first use stands"
    );
    s.touch_api_key(id, NOW + 70_011).unwrap();
    assert_eq!(
        s.api_key_by_hash("h").unwrap().unwrap().last_used_at,
        Some(NOW + 70_011)
    );
}

/// Stores one lead with an email in `ws`; returns its id.
fn one_lead(s: &dyn Store, ws: WorkspaceId, email: &str) -> i64 {
    let meta = BatchMeta {
        kind: "csv".into(),
        name: "t.csv".into(),
        source: "csv_upload".into(),
        content_hash: format!("hash-{email}"),
        headers: vec!["email".into()],
    };
    let mut tx = s.begin_ingest(ws, &meta, NOW).unwrap();
    let batch = tx.batch().id;
    let id = tx.reserve_lead_ids(1).unwrap();
    let origin = SourceRef {
        at: NOW,
        record: RecordId::new(batch, 2),
    };
    let mut lead = Lead::empty("csv_upload", origin);
    lead.id = id;
    lead.email = Some(leadgen_core::email::Email::parse(email).unwrap());
    lead.tags = vec!["old".into()];
    let own = KeyHashes::of(&lead, &mut String::new()).stored(ws)[0].unwrap();
    tx.insert_leads(&[lead]).unwrap();
    // Its own email's key, and one its fields do not give, as a row merged
    // into it under another email leaves.
    tx.insert_keys(&[(own, id), (merged_key(ws, id), id)])
        .unwrap();
    tx.commit(BatchCounts::default(), NOW).unwrap();
    id
}

/// The key `one_lead` stores for lead `id` beside its own.
fn merged_key(ws: WorkspaceId, id: i64) -> i64 {
    stored_key(ws, KeyKind::Email, 1_000_000 + id as u64)
}

fn lead_edits_change_status_and_tags_within_the_workspace(s: &dyn Store) {
    let id = one_lead(s, WS, "x@example.com");
    let edit = LeadEdit {
        status: Some(LeadStatus::Validated),
        tags: Some(vec!["hot".into(), "q3".into()]),
    };
    assert!(!s.edit_lead(OTHER_WS, id, &edit, NOW + 1).unwrap());
    assert_eq!(s.get_lead(WS, id).unwrap().unwrap().tags, vec!["old"]);

    assert!(s.edit_lead(WS, id, &edit, NOW + 2).unwrap());
    let lead = s.get_lead(WS, id).unwrap().unwrap();
    assert_eq!(lead.status, LeadStatus::Validated);
    assert_eq!(lead.tags, vec!["hot", "q3"]);
    assert_eq!(lead.updated_at, NOW + 2);
    let f = leadgen_store::LeadFilter {
        tags: vec!["q3".into()],
        ..Default::default()
    };
    assert_eq!(s.count_leads(WS, &f).unwrap(), 1, "the tag filter sees it");

    let only_tags = LeadEdit {
        status: None,
        tags: Some(vec![]),
    };
    assert!(s.edit_lead(WS, id, &only_tags, NOW + 3).unwrap());
    let lead = s.get_lead(WS, id).unwrap().unwrap();
    assert!(lead.tags.is_empty());
    assert_eq!(lead.status, LeadStatus::Validated, "status left alone");
}

fn deleting_a_lead_frees_its_identity_keys(s: &dyn Store) {
    let id = one_lead(s, WS, "d@example.com");
    assert!(!s.delete_lead(OTHER_WS, id).unwrap());
    assert!(s.get_lead(WS, id).unwrap().is_some());
    assert!(s.delete_lead(WS, id).unwrap());
    assert_eq!(s.get_lead(WS, id).unwrap(), None);
    assert!(!s.delete_lead(WS, id).unwrap(), "already gone");
    let mut tx = s
        .begin_ingest(
            WS,
            &BatchMeta {
                kind: "csv".into(),
                name: "again.csv".into(),
                source: "csv_upload".into(),
                content_hash: "again".into(),
                headers: vec![],
            },
            NOW,
        )
        .unwrap();
    assert!(tx.load_keys().unwrap().is_empty(), "its keys went with it");
}

fn a_deleted_leads_keys_stay_hidden_until_an_import_removes_them(s: &dyn Store) {
    let id = one_lead(s, WS, "m@example.com");
    let kept = one_lead(s, WS, "k@example.com");
    assert!(s.delete_lead(WS, id).unwrap());
    let ids = |keys: Vec<(i64, i64)>| keys.into_iter().map(|(_, id)| id).collect::<Vec<_>>();
    let mut tx = s.begin_ingest(WS, &meta("after-delete-1"), NOW).unwrap();
    assert_eq!(ids(tx.load_keys().unwrap()), vec![kept, kept]);
    drop(tx);
    // The load that removed them rolled back: they are still hidden.
    let mut tx = s.begin_ingest(WS, &meta("after-delete-2"), NOW).unwrap();
    assert_eq!(ids(tx.load_keys().unwrap()), vec![kept, kept]);
    // The person comes back as a new lead: its key now leads there, which
    // it could not if the old row were still stored under the key.
    tx.insert_keys(&[(merged_key(WS, id), 77)]).unwrap();
    tx.commit(BatchCounts::default(), NOW).unwrap();
    let mut tx = s.begin_ingest(WS, &meta("after-delete-3"), NOW).unwrap();
    let mut keys = tx.load_keys().unwrap();
    keys.retain(|(_, id)| *id != kept);
    assert_eq!(keys, vec![(merged_key(WS, id), 77)]);
}

/// Where the keys are, in the SQLite file itself: the lead's own key goes
/// with it, the other one at the next load of the workspace's keys.
#[test]
fn sqlite_deletes_a_leads_own_keys_at_once_and_the_rest_at_the_next_import() {
    let (dir, s) = testing::sqlite_store();
    let id = one_lead(&s, WS, "o@example.com");
    let file = rusqlite::Connection::open(testing::sqlite_path(dir.path())).unwrap();
    let count = |sql: &str| -> i64 { file.query_row(sql, [id], |r| r.get(0)).unwrap() };
    let keys = "SELECT count(*) FROM lead_keys WHERE lead_id = ?1";
    let marks = "SELECT count(*) FROM deleted_leads WHERE lead_id = ?1";
    assert_eq!(count(keys), 2);
    assert!(s.delete_lead(WS, id).unwrap());
    assert_eq!(
        count(keys),
        1,
        "its own key is gone, the merged one not yet"
    );
    assert_eq!(count(marks), 1);
    let mut tx = s.begin_ingest(WS, &meta("after-delete"), NOW).unwrap();
    assert!(tx.load_keys().unwrap().is_empty());
    tx.commit(BatchCounts::default(), NOW).unwrap();
    assert_eq!(count(keys), 0);
    assert_eq!(count(marks), 0, "the mark goes with the keys");
}

#[test]
fn postgres_suite_runs_or_says_why_not() {
    if !testing::pg_available() {
        testing::print_skip();
    }
}
