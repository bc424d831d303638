//! Enrichments and their cache on both backends (one suite).

use std::sync::Arc;

use leadgen_core::WorkspaceId;
use leadgen_store::{NewEnrichment, Store, testing};

const WS: WorkspaceId = 1;
const OTHER_WS: WorkspaceId = 2;
const NOW: i64 = 1_750_000_000_000;

struct Harness {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    fn sqlite() -> Harness {
        let (dir, store) = testing::sqlite_store();
        Harness {
            store: Arc::new(store),
            _dir: Some(dir),
        }
    }

    fn postgres() -> Option<Harness> {
        let url = testing::pg_url()?;
        let store = leadgen_store::postgres::PgStore::connect(&url).expect("connecting");
        Some(Harness {
            store: Arc::new(store),
            _dir: None,
        })
    }
}

macro_rules! both {
    ($($t:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $t() { super::$t(&super::Harness::sqlite()); } )*
        }
        mod postgres {
            $( #[test] fn $t() { let Some(h) = super::Harness::postgres() else { return }; super::$t(&h); } )*
        }
    };
}

both!(
    steps_are_stored_with_cost_and_read_back_in_order,
    the_cache_keeps_the_first_answer_per_input,
    workspaces_do_not_share_enrichments,
);

fn step(subject: &str, provider: &str, cost: u64) -> NewEnrichment {
    NewEnrichment {
        subject: subject.into(),
        lead_id: None,
        company_id: Some(7),
        provider: provider.into(),
        kind: "find_contacts".into(),
        outcome: "found".into(),
        result: r#"{"contacts":[]}"#.into(),
        confidence: Some(0.75),
        reasoning: Some("team page".into()),
        input_tokens: 1200,
        output_tokens: 300,
        cost_micros: cost,
    }
}

fn steps_are_stored_with_cost_and_read_back_in_order(h: &Harness) {
    let s = &h.store;
    let a = s
        .record_enrichment(WS, &step("company:acme.com", "crawl", 0), NOW)
        .unwrap();
    let b = s
        .record_enrichment(WS, &step("company:acme.com", "anthropic", 5400), NOW + 1)
        .unwrap();
    s.record_enrichment(WS, &step("company:other.com", "hunter", 10_000), NOW + 2)
        .unwrap();
    let got = s.enrichments_of(WS, "company:acme.com").unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), [a, b]);
    assert_eq!(got[1].step, step("company:acme.com", "anthropic", 5400));
    assert_eq!(got[1].created_at, NOW + 1);
    assert_eq!(
        s.enrichment_by_id(WS, b).unwrap().unwrap().step.provider,
        "anthropic"
    );
    let t = s.enrichment_totals(WS).unwrap();
    assert_eq!((t.subjects, t.steps, t.cost_micros), (2, 3, 15_400));
}

fn the_cache_keeps_the_first_answer_per_input(h: &Harness) {
    let s = &h.store;
    assert_eq!(
        s.cached_enrichment(WS, "llm", "find_contacts", "k1")
            .unwrap(),
        None
    );
    s.cache_enrichment(WS, "llm", "find_contacts", "k1", "{\"a\":1}", NOW)
        .unwrap();
    s.cache_enrichment(WS, "llm", "find_contacts", "k1", "{\"a\":2}", NOW)
        .unwrap();
    assert_eq!(
        s.cached_enrichment(WS, "llm", "find_contacts", "k1")
            .unwrap()
            .as_deref(),
        Some("{\"a\":1}")
    );
    assert_eq!(
        s.cached_enrichment(WS, "hunter", "find_contacts", "k1")
            .unwrap(),
        None
    );
}

fn workspaces_do_not_share_enrichments(h: &Harness) {
    let s = &h.store;
    let id = s
        .record_enrichment(WS, &step("lead:1", "crawl", 0), NOW)
        .unwrap();
    s.cache_enrichment(WS, "llm", "k", "x", "{}", NOW).unwrap();
    assert!(s.enrichments_of(OTHER_WS, "lead:1").unwrap().is_empty());
    assert!(s.enrichment_by_id(OTHER_WS, id).unwrap().is_none());
    assert!(
        s.cached_enrichment(OTHER_WS, "llm", "k", "x")
            .unwrap()
            .is_none()
    );
    assert_eq!(s.enrichment_totals(OTHER_WS).unwrap().steps, 0);
}
