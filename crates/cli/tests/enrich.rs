//! `leadgen enrich` as a user runs it, against fixture websites and a fake
//! Anthropic server on loopback.

use std::process::{Command, Output};
use std::sync::Arc;

use leadgen_enrich::testkit::FixtureSites;
use leadgen_integrations::fake_anthropic::{FAKE_KEY, FakeAnthropic, LlmFake};
use serde_json::{Value, json};

struct Env {
    dir: tempfile::TempDir,
    sites: FixtureSites,
    llm: LlmFake,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("leadgen.toml"),
            r#"[jobs]
default_schedules = false

[enrich]
model = "claude-test"
max_tokens = 500

[enrich.prices."claude-test"]
input_per_mtok_usd = 2.0
output_per_mtok_usd = 10.0

[enrich.waterfall]
company = ["crawl", "llm"]
contacts = ["crawl", "llm"]
email = ["crawl", "pattern"]
"#,
        )
        .unwrap();
        Env {
            dir,
            sites: FixtureSites::spawn_bundled().unwrap(),
            llm: FakeAnthropic::spawn(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_leadgen"))
            .args(args)
            .current_dir(self.dir.path())
            .env("LEADGEN_DATA_DIR", self.dir.path().join("data"))
            .env("LEADGEN_CONFIG", self.dir.path().join("leadgen.toml"))
            .env_remove("LEADGEN_DATABASE_URL")
            .env_remove("LEADGEN_HUNTER_API_KEY")
            .env("LEADGEN_ANTHROPIC_BASE_URL", self.llm.base_url())
            .env("LEADGEN_ANTHROPIC_API_KEY", FAKE_KEY)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "leadgen {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

#[test]
fn enrich_company_prints_the_json_shape_and_stores_explainable_leads() {
    let env = Env::new();
    // research_company and find_contacts get their own answers.
    env.llm.control().answer = Arc::new(|system, _| {
        if system.contains("decide on purchases") {
            json!({"contacts": []})
        } else {
            json!({"summary": "A nonprofit.", "industry": "Nonprofit", "size_estimate": "1-10",
                   "pain_points": [], "personalization_hooks": []})
        }
    });
    let url = env.sites.ip_url("riverhelpers.org").unwrap();
    let out = env.ok(&[
        "enrich",
        "--company",
        &url,
        "--allow-private-network",
        "--json",
    ]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let company = &v["company"];
    for k in [
        "name",
        "domain",
        "phones",
        "emails",
        "socials",
        "tech_stack",
        "signals",
    ] {
        assert!(company.get(k).is_some(), "company.{k} missing in {v}");
    }
    assert_eq!(company["name"], "River Helpers");
    let emails: Vec<&str> = company["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(emails.contains(&"kofi@riverhelpers.org"), "{emails:?}");
    assert_eq!(
        company["socials"]["linkedin"],
        "https://linkedin.com/company/riverhelpers"
    );
    let contacts = v["contacts"].as_array().unwrap();
    let kofi = contacts
        .iter()
        .find(|c| c["name"] == "Kofi Mensah")
        .unwrap();
    assert_eq!(kofi["email"], "kofi@riverhelpers.org");
    assert_eq!(kofi["title"], "Volunteer Coordinator");
    assert_eq!(kofi["source"], "crawl");
    for k in ["name", "title", "email", "confidence", "source"] {
        assert!(kofi.get(k).is_some(), "contact.{k} missing");
    }
    // Two LLM calls at 1200 in / 300 out tokens: 2 × $0.0054.
    assert!(
        (v["cost_usd"].as_f64().unwrap() - 0.0108).abs() < 1e-9,
        "{v}"
    );
    let lead = v["leads"][0].as_i64().unwrap();

    let explained: Value = serde_json::from_str(
        env.ok(&["enrich", "--explain", &lead.to_string(), "--json"])
            .trim(),
    )
    .unwrap();
    let steps = explained["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["provider"] == "crawl"));
    let llm: Vec<&Value> = steps
        .iter()
        .filter(|s| s["provider"] == "anthropic")
        .collect();
    assert_eq!(llm.len(), 2, "{explained}");
    assert_eq!(llm[0]["input_tokens"], 1200);
    assert!((explained["cost_usd"].as_f64().unwrap() - 0.0108).abs() < 1e-9);

    // `stats` reports the spend and the cost per enriched lead.
    let stats: Value = serde_json::from_str(env.ok(&["stats", "--json"]).trim()).unwrap();
    let e = &stats["enrichment"];
    let found = e["enriched_leads"].as_u64().unwrap();
    assert_eq!(
        found,
        v["leads"].as_array().unwrap().len() as u64,
        "{stats}"
    );
    assert!(
        (e["cost_usd"].as_f64().unwrap() - 0.0108).abs() < 1e-9,
        "{stats}"
    );
    let per_lead = e["cost_per_enriched_lead_usd"].as_f64().unwrap();
    assert!((per_lead - 0.0108 / found as f64).abs() < 1e-9, "{stats}");
    let text = env.ok(&["stats"]);
    assert!(text.contains("per enriched lead"), "{text}");

    // A re-run is answered from the cache: no new model calls, no cost.
    let calls = env.llm.control().requests.len();
    let again: Value = serde_json::from_str(
        env.ok(&[
            "enrich",
            "--company",
            &url,
            "--allow-private-network",
            "--json",
        ])
        .trim(),
    )
    .unwrap();
    assert_eq!(env.llm.control().requests.len(), calls);
    assert_eq!(again["cost_usd"], 0.0);
    assert_eq!(
        again["leads"][0], lead,
        "the same person is merged, not duplicated"
    );
}

#[test]
fn loopback_is_refused_without_the_flag() {
    let env = Env::new();
    let url = env.sites.ip_url("riverhelpers.org").unwrap();
    let out = env.run(&["enrich", "--company", &url, "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a public address"), "{err}");
}

#[test]
fn status_enqueues_enrich_lead_jobs_once() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("leads.csv"),
        "first_name,last_name,company_domain\nAna,Silva,acme.com\nBo,Chen,acme.com\n",
    )
    .unwrap();
    env.ok(&["import", "leads.csv"]);
    let first = env.run(&["enrich", "--status", "raw", "--limit", "5000"]);
    assert!(
        String::from_utf8_lossy(&first.stderr)
            .contains("enqueued 2 enrich_lead jobs (0 already queued")
    );
    let second = env.run(&["enrich", "--status", "raw", "--limit", "5000"]);
    assert!(
        String::from_utf8_lossy(&second.stderr)
            .contains("enqueued 0 enrich_lead jobs (2 already queued, 0 skipped"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
}
