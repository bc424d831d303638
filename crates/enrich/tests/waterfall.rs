//! The waterfall end to end on loopback: fixture sites, DNS/SMTP fakes for
//! the verifier, fake Hunter and a fake Anthropic; ceilings, the monthly
//! budget, the cache, and malformed model output.

use std::sync::Arc;

use leadgen_enrich::provider::HunterProvider;
use leadgen_enrich::testkit::{FixtureSites, loopback_crawler};
use leadgen_enrich::waterfall::{LlmSetup, MemoryLedger, StepRecord, Waterfall, WaterfallConfig};
use leadgen_integrations::ServiceConfig;
use leadgen_integrations::anthropic::AnthropicClient;
use leadgen_integrations::fake_anthropic::{self, FakeAnthropic, LlmFake};
use leadgen_integrations::fake_hunter::{self, FakeHunter, HunterPerson};
use leadgen_integrations::llm::ModelPrice;
use leadgen_verify::Verifier;
use leadgen_verify::testkit::{Behavior, FakeDns, SmtpFarm, loopback, options};
use serde_json::json;

struct World {
    sites: FixtureSites,
    _dns: FakeDns,
    _farm: SmtpFarm,
    verifier: Arc<Verifier>,
    hunter: FakeHunter,
    llm: LlmFake,
}

fn world() -> World {
    let sites = FixtureSites::spawn_bundled().unwrap();
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![(
        loopback(0),
        Behavior::known_users(&["priya.raman@teamflow.io", "aisha.bello@teamflow.io"]),
    )]);
    dns.mail_domain("teamflow.io", loopback(0));
    let verifier = Arc::new(Verifier::new(options(&dns, farm.port)).unwrap());
    let hunter = FakeHunter::spawn();
    hunter.control().people.insert(
        "teamflow.io".into(),
        vec![HunterPerson {
            first: "Nina".into(),
            last: "Park".into(),
            email: "nina.park@teamflow.io".into(),
            position: "Head of Marketing".into(),
            confidence: 92,
        }],
    );
    let llm = FakeAnthropic::spawn();
    World {
        sites,
        _dns: dns,
        _farm: farm,
        verifier,
        hunter,
        llm,
    }
}

fn waterfall(w: &World, config: WaterfallConfig, ledger: Arc<MemoryLedger>) -> Waterfall {
    let crawler = loopback_crawler();
    let mut wf = Waterfall::new(config, crawler, ledger);
    wf.verifier = Some(w.verifier.clone());
    let hunter = leadgen_integrations::hunter::HunterClient::new(ServiceConfig {
        base_url: w.hunter.base_url(),
        api_key: Some(fake_hunter::FAKE_KEY.into()),
    })
    .unwrap();
    wf.providers.push(Arc::new(HunterProvider {
        client: hunter,
        cost_micros: 10_000,
    }));
    let client = AnthropicClient::new(ServiceConfig {
        base_url: w.llm.base_url(),
        api_key: Some(fake_anthropic::FAKE_KEY.into()),
    })
    .unwrap();
    wf.llm = Some(LlmSetup {
        client: Arc::new(client),
        model: "claude-test".into(),
        price: Some(ModelPrice {
            input_per_mtok_usd: 2.0,
            output_per_mtok_usd: 10.0,
        }),
        prompts_dir: None,
        max_tokens: 800,
    });
    wf
}

fn free_only() -> WaterfallConfig {
    WaterfallConfig {
        company: vec!["crawl".into()],
        contacts: vec!["crawl".into()],
        email: vec!["crawl".into(), "pattern".into()],
        ..WaterfallConfig::default()
    }
}

async fn run(
    wf: &Waterfall,
    w: &World,
) -> (leadgen_enrich::waterfall::CompanyResult, Vec<StepRecord>) {
    let mut seen = Vec::new();
    let r = wf
        .enrich_company(&w.sites.url("teamflow.io").unwrap(), &[], &mut |s| {
            seen.push(s.clone())
        })
        .await
        .unwrap();
    (r, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_steps_find_people_on_the_site_and_verify_their_addresses() {
    let w = world();
    let wf = waterfall(&w, free_only(), Arc::new(MemoryLedger::default()));
    let (r, seen) = run(&wf, &w).await;
    assert_eq!(r.company.domain.as_deref(), Some("teamflow.io"));
    assert!(r.company.tech_stack.contains(&"Intercom".to_owned()));
    let priya = r.contacts.iter().find(|c| c.name == "Priya Raman").unwrap();
    assert_eq!(priya.email.as_deref(), Some("priya.raman@teamflow.io"));
    assert_eq!(priya.email_source.as_deref(), Some("pattern"));
    assert!(priya.confidence >= 0.9);
    assert_eq!(r.cost_usd, 0.0);
    assert!(seen.iter().all(|s| s.cost_micros == 0));
    assert!(
        seen.iter()
            .any(|s| s.provider == "pattern" && s.reasoning.is_some())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_steps_run_after_free_ones_and_cost_is_counted() {
    let w = world();
    w.llm.control().answer = Arc::new(|_, user| {
        assert!(
            user.contains("Priya Raman"),
            "the prompt carries the site's text"
        );
        json!({"contacts": [{"name": "Priya Raman", "title": "CEO", "email": null, "linkedin": null,
            "confidence": 0.9, "reasoning": "Team page lists her as co-founder and CEO."}]})
    });
    let config = WaterfallConfig {
        contacts: vec!["crawl".into(), "hunter".into(), "llm".into()],
        email: vec!["crawl".into(), "pattern".into()],
        company: vec!["crawl".into()],
        wanted_contacts: 10,
        ..WaterfallConfig::default()
    };
    let wf = waterfall(&w, config, Arc::new(MemoryLedger::default()));
    let (r, seen) = run(&wf, &w).await;
    let nina = r.contacts.iter().find(|c| c.name == "Nina Park").unwrap();
    assert_eq!(nina.source, "hunter");
    assert_eq!(nina.email.as_deref(), Some("nina.park@teamflow.io"));
    let llm = seen.iter().find(|s| s.provider == "anthropic").unwrap();
    assert_eq!((llm.input_tokens, llm.output_tokens), (1200, 300));
    // 1200 × $2/M + 300 × $10/M = $0.0054
    assert_eq!(llm.cost_micros, 5400);
    assert!(
        (r.cost_usd - (0.01 + 0.0054)).abs() < 1e-9,
        "{}",
        r.cost_usd
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_is_served_from_the_cache_and_pays_nothing() {
    let w = world();
    w.llm.control().answer = Arc::new(|_, _| json!({"contacts": []}));
    let config = WaterfallConfig {
        contacts: vec!["hunter".into(), "llm".into()],
        company: vec!["crawl".into()],
        email: vec![],
        ..WaterfallConfig::default()
    };
    let ledger = Arc::new(MemoryLedger::default());
    let first = run(&waterfall(&w, config.clone(), ledger.clone()), &w)
        .await
        .0;
    assert!(first.cost_usd > 0.0);
    let calls = (w.hunter.control().requests, w.llm.control().requests.len());
    let (second, seen) = run(&waterfall(&w, config, ledger), &w).await;
    assert_eq!(second.cost_usd, 0.0);
    assert_eq!(
        (w.hunter.control().requests, w.llm.control().requests.len()),
        calls
    );
    assert!(
        seen.iter()
            .filter(|s| s.provider != "crawl")
            .all(|s| s.outcome == "cached"),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceilings_and_the_monthly_budget_stop_paid_steps_before_the_call() {
    let w = world();
    let tight = WaterfallConfig {
        contacts: vec!["hunter".into()],
        company: vec!["crawl".into()],
        email: vec![],
        per_lead_ceiling_usd: 0.005,
        ..WaterfallConfig::default()
    };
    let (r, seen) = run(&waterfall(&w, tight, Arc::new(MemoryLedger::default())), &w).await;
    assert_eq!(seen.last().unwrap().outcome, "skipped_ceiling");
    assert_eq!(r.cost_usd, 0.0);
    assert_eq!(w.hunter.control().requests, 0);

    let budget = WaterfallConfig {
        contacts: vec!["hunter".into()],
        company: vec!["crawl".into()],
        email: vec![],
        monthly_budget_usd: Some(0.015),
        ..WaterfallConfig::default()
    };
    let ledger = Arc::new(MemoryLedger::default());
    // Two companies' worth: the first fits ($0.01), the second would pass $0.015.
    let wf = waterfall(&w, budget.clone(), ledger.clone());
    assert_eq!(run(&wf, &w).await.0.cost_usd, 0.01);
    let fresh_cache = Arc::new(MemoryLedger::default());
    fresh_cache.reserve_month_for_test(10_000);
    let (r2, seen2) = run(&waterfall(&w, budget, fresh_cache), &w).await;
    assert_eq!(seen2.last().unwrap().outcome, "skipped_budget");
    assert_eq!(r2.cost_usd, 0.0);
    assert_eq!(w.hunter.control().requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_model_output_is_repaired_or_retried_and_never_kept() {
    let w = world();
    let config = WaterfallConfig {
        contacts: vec!["llm".into()],
        company: vec!["crawl".into()],
        email: vec![],
        ..WaterfallConfig::default()
    };
    // Fenced JSON is repaired on the first attempt.
    w.llm.control().raw_replies.push_back(
        "```json\n{\"contacts\": [{\"name\": \"Leo Martins\", \"title\": \"Head of CS\", \"email\": null, \"linkedin\": null, \"confidence\": 0.6, \"reasoning\": \"team page\"}]}\n```".into(),
    );
    let (r, _) = run(
        &waterfall(&w, config.clone(), Arc::new(MemoryLedger::default())),
        &w,
    )
    .await;
    assert_eq!(r.contacts[0].name, "Leo Martins");

    // Prose, then schema-breaking JSON: two attempts, nothing kept, cost counted.
    {
        let mut c = w.llm.control();
        c.raw_replies
            .push_back("I'm sorry, I can't find anyone.".into());
        c.raw_replies
            .push_back(r#"{"contacts": [{"name": "X", "confidence": 7}]}"#.into());
    }
    let ledger = Arc::new(MemoryLedger::default());
    let (r, seen) = run(&waterfall(&w, config, ledger.clone()), &w).await;
    assert!(r.contacts.is_empty());
    let step = seen.iter().find(|s| s.provider == "llm").unwrap();
    assert_eq!(step.outcome, "error");
    assert!(step.reasoning.as_deref().unwrap().contains("not stored"));
    assert_eq!(step.input_tokens, 2400, "both attempts are counted");
    assert!(step.cost_micros > 0);
    assert!(
        ledger
            .records
            .lock()
            .unwrap()
            .iter()
            .all(|(_, s)| s.outcome != "found" || s.provider != "llm")
    );
}
