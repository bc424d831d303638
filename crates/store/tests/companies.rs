//! Companies on both backends: merge by identity keys, provenance kept,
//! workspaces isolated, concurrent upserts never create a company twice.

use std::sync::Arc;

use leadgen_core::company::{Company, CompanyField, CompanyName};
use leadgen_core::domain::Domain;
use leadgen_core::geo::Country;
use leadgen_core::phone::Phone;
use leadgen_core::{RecordId, SourceRef, WorkspaceId};
use leadgen_store::{CompanyFilter, Store, testing};

const WS: WorkspaceId = 1;
const OTHER_WS: WorkspaceId = 2;
const NOW: i64 = 1_750_000_000_000;

/// A store under test and how to open more connections to it.
struct Harness {
    store: Arc<dyn Store>,
    /// The PostgreSQL database's URL; `None` on SQLite.
    pg_url: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    fn sqlite() -> Harness {
        let (dir, store) = testing::sqlite_store();
        Harness {
            store: Arc::new(store),
            pg_url: None,
            _dir: Some(dir),
        }
    }

    fn postgres() -> Option<Harness> {
        let url = testing::pg_url()?;
        let store = leadgen_store::postgres::PgStore::connect(&url).expect("connecting");
        Some(Harness {
            store: Arc::new(store),
            pg_url: Some(url),
            _dir: None,
        })
    }

    /// Another handle on the same store: its own connection on PostgreSQL.
    fn another(&self) -> Arc<dyn Store> {
        match &self.pg_url {
            Some(url) => Arc::new(leadgen_store::postgres::PgStore::connect(url).unwrap()),
            None => self.store.clone(),
        }
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
    a_company_is_found_again_by_any_of_its_keys,
    merge_fills_gaps_and_keeps_provenance,
    workspaces_do_not_share_companies,
    concurrent_upserts_create_each_company_once,
    listing_pages_by_id_and_filters_by_state,
);

fn src(line: u64, at: i64) -> SourceRef {
    SourceRef {
        at,
        record: RecordId::new(7, line),
    }
}

fn company(
    line: u64,
    name: &str,
    place: Option<&str>,
    site: Option<&str>,
    phone: Option<&str>,
) -> Company {
    let mut c = Company::new(src(line, NOW));
    c.name = CompanyName::parse(name);
    c.place_id = place.map(str::to_owned);
    c.domain = site.map(|s| Domain::parse(s).unwrap());
    c.phone = phone.map(|p| Phone::parse(p, Country::US).unwrap());
    c.postal_code = Some("10001".into());
    c.state = Some("NY".into());
    c
}

fn a_company_is_found_again_by_any_of_its_keys(h: &Harness) {
    let s = &h.store;
    let first = s
        .upsert_companies(
            WS,
            &[company(1, "Smile Dental", Some("p1"), None, None)],
            NOW,
        )
        .unwrap();
    assert!(first[0].inserted);
    let id = first[0].id;
    // Same place id; brings a domain and a phone.
    let by_place = s
        .upsert_companies(
            WS,
            &[company(
                2,
                "Smile Dental PC",
                Some("p1"),
                Some("smile.com"),
                Some("212-555-0100"),
            )],
            NOW + 1,
        )
        .unwrap();
    assert_eq!((by_place[0].id, by_place[0].inserted), (id, false));
    // Now only the domain, then only the phone, then only name + postal code.
    for c in [
        company(3, "Other Name", None, Some("https://www.smile.com/"), None),
        company(4, "Yet Another", None, None, Some("(212) 555-0100")),
        company(5, "Smile Dental", None, None, None),
    ] {
        let u = s.upsert_companies(WS, &[c], NOW + 2).unwrap();
        assert_eq!((u[0].id, u[0].inserted), (id, false), "{u:?}");
    }
    let other = s
        .upsert_companies(
            WS,
            &[company(6, "Bright Smiles", Some("p2"), None, None)],
            NOW,
        )
        .unwrap();
    assert!(other[0].inserted && other[0].id != id);
    assert_eq!(s.count_companies(WS).unwrap(), 2);
    // Two records of one new company in one call: one company.
    let pair = s
        .upsert_companies(
            WS,
            &[
                company(7, "Tooth Co", Some("p3"), None, None),
                company(8, "Tooth Co", Some("p3"), Some("tooth.co"), None),
            ],
            NOW,
        )
        .unwrap();
    assert_eq!(pair[0].id, pair[1].id);
    assert!(pair[0].inserted && !pair[1].inserted && pair[1].changed);
}

fn merge_fills_gaps_and_keeps_provenance(h: &Harness) {
    let s = &h.store;
    let id = s
        .upsert_companies(
            WS,
            &[company(1, "Smile Dental", Some("p1"), None, None)],
            NOW,
        )
        .unwrap()[0]
        .id;
    let mut richer = company(2, "Smile Dental", Some("p1"), Some("smile.com"), None);
    richer.rating = Some(4.5);
    richer.review_count = Some(88);
    richer.provenance.set(CompanyField::Rating, src(2, NOW));
    let again = s.upsert_companies(WS, &[richer.clone()], NOW + 5).unwrap();
    assert!(again[0].changed);
    // The same record again changes nothing.
    let twice = s.upsert_companies(WS, &[richer], NOW + 6).unwrap();
    assert!(!twice[0].changed, "{twice:?}");
    let c = s.get_company(WS, id).unwrap().unwrap();
    assert_eq!(c.id, id);
    assert_eq!(c.domain.as_ref().unwrap().as_str(), "smile.com");
    assert_eq!((c.rating, c.review_count), (Some(4.5), Some(88)));
    assert_eq!(c.provenance.origin, Some(src(1, NOW)));
    assert!(
        c.provenance.linked.contains(&RecordId::new(7, 2)),
        "{:?}",
        c.provenance
    );
    assert_eq!(c.name.as_ref().unwrap().key(), "smile dental");
}

fn workspaces_do_not_share_companies(h: &Harness) {
    let s = &h.store;
    let a = s
        .upsert_companies(
            WS,
            &[company(1, "Smile Dental", Some("p1"), None, None)],
            NOW,
        )
        .unwrap()[0];
    let b = s
        .upsert_companies(
            OTHER_WS,
            &[company(1, "Smile Dental", Some("p1"), None, None)],
            NOW,
        )
        .unwrap()[0];
    assert!(a.inserted && b.inserted && a.id != b.id);
    assert!(s.get_company(OTHER_WS, a.id).unwrap().is_none());
    assert_eq!(s.count_companies(WS).unwrap(), 1);
    let f = CompanyFilter {
        limit: 10,
        ..CompanyFilter::default()
    };
    let listed: Vec<i64> = s
        .list_companies(OTHER_WS, &f)
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, [b.id]);
}

fn concurrent_upserts_create_each_company_once(h: &Harness) {
    // Four writers (each with its own connection on PostgreSQL) send the
    // same 50 businesses, overlapping, in different orders.
    let s = &h.store;
    let stores: Vec<Arc<dyn Store>> = (0..4).map(|_| h.another()).collect();
    let threads: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(t, store)| {
            std::thread::spawn(move || {
                let mut order: Vec<u64> = (0..50).collect();
                order.rotate_left(t * 13);
                for chunk in order.chunks(5) {
                    let batch: Vec<Company> = chunk
                        .iter()
                        .map(|n| {
                            company(
                                *n,
                                &format!("Biz {n}"),
                                Some(&format!("place-{n}")),
                                None,
                                None,
                            )
                        })
                        .collect();
                    store.upsert_companies(WS, &batch, NOW).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.count_companies(WS).unwrap(), 50);
}

fn listing_pages_by_id_and_filters_by_state(h: &Harness) {
    let s = &h.store;
    let mut all = Vec::new();
    for n in 0..7u64 {
        let mut c = company(n, &format!("Biz {n}"), Some(&format!("p{n}")), None, None);
        if n % 2 == 1 {
            c.state = Some("NJ".into());
        }
        all.push(c);
    }
    s.upsert_companies(WS, &all, NOW).unwrap();
    let mut seen = Vec::new();
    let mut f = CompanyFilter {
        limit: 3,
        ..CompanyFilter::default()
    };
    loop {
        let page = s.list_companies(WS, &f).unwrap();
        if page.is_empty() {
            break;
        }
        f.after = page.last().map(|c| c.id);
        seen.extend(
            page.into_iter()
                .map(|c| c.name.unwrap().as_str().to_owned()),
        );
    }
    assert_eq!(seen.len(), 7);
    let nj = s
        .list_companies(
            WS,
            &CompanyFilter {
                state: Some("NJ".into()),
                limit: 10,
                after: None,
            },
        )
        .unwrap();
    assert_eq!(nj.len(), 3);
    assert!(nj.iter().all(|c| c.state.as_deref() == Some("NJ")));
}

mod spend {
    //! The daily spend ledger on both backends.
    use std::sync::Arc;

    use leadgen_store::Store;

    use super::{Harness, OTHER_WS, WS};

    macro_rules! both {
        ($($t:ident),* $(,)?) => {
            mod sqlite {
                $( #[test] fn $t() { super::$t(&super::super::Harness::sqlite()); } )*
            }
            mod postgres {
                $( #[test] fn $t() { let Some(h) = super::super::Harness::postgres() else { return }; super::$t(&h); } )*
            }
        };
    }

    both!(
        a_limit_is_never_passed_by_concurrent_workers,
        each_day_and_workspace_starts_from_zero
    );

    fn a_limit_is_never_passed_by_concurrent_workers(h: &Harness) {
        // Four writers reserve 10 each, 20 times, under a limit of 250.
        let stores: Vec<Arc<dyn Store>> = (0..4).map(|_| h.another()).collect();
        let threads: Vec<_> = stores
            .into_iter()
            .map(|s| {
                std::thread::spawn(move || {
                    (0..20)
                        .filter(|_| {
                            s.reserve_spend(WS, "google_places", "2026-11-30", 10, Some(250))
                                .unwrap()
                                .is_some()
                        })
                        .count()
                })
            })
            .collect();
        let granted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(granted, 25);
        let spent = h.store.spend_on(WS, "2026-11-30").unwrap();
        assert_eq!(spent, [("google_places".to_string(), 250)]);
        // No limit: always granted.
        assert_eq!(
            h.store
                .reserve_spend(WS, "serpapi", "2026-11-30", 7, None)
                .unwrap(),
            Some(7)
        );
    }

    fn each_day_and_workspace_starts_from_zero(h: &Harness) {
        let s = &h.store;
        assert_eq!(
            s.reserve_spend(WS, "p", "2026-11-30", 90, Some(100))
                .unwrap(),
            Some(90)
        );
        assert_eq!(
            s.reserve_spend(WS, "p", "2026-11-30", 20, Some(100))
                .unwrap(),
            None
        );
        assert_eq!(
            s.reserve_spend(WS, "p", "2026-12-01", 20, Some(100))
                .unwrap(),
            Some(20)
        );
        assert_eq!(
            s.reserve_spend(OTHER_WS, "p", "2026-11-30", 20, Some(100))
                .unwrap(),
            Some(20)
        );
        assert_eq!(
            s.spend_on(WS, "2026-11-30").unwrap(),
            [("p".to_string(), 90)]
        );
    }
}
