//! `leadgen scrape google-maps` and `leadgen companies list` as a user runs
//! them, against the loopback vendor fake named by LEADGEN_*_BASE_URL.

use std::process::{Command, Output};

use leadgen_integrations::fake::{FAKE_KEY, FakeMaps};
use leadgen_integrations::fake_google_ads_transparency::{FakeLibrary, FakeTransparency};
use leadgen_integrations::fake_linkedin_ads::FakeLinkedinAds;
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
    fake: FakeMaps,
    google: FakeLibrary,
    linkedin: FakeLibrary,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("leadgen.toml"),
            "[jobs]\ndefault_schedules = false\n",
        )
        .unwrap();
        Env {
            dir,
            fake: FakeMaps::spawn(),
            google: FakeTransparency::spawn(),
            linkedin: FakeLinkedinAds::spawn(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_leadgen"))
            .args(args)
            .current_dir(self.dir.path())
            .env("LEADGEN_DATA_DIR", self.dir.path().join("data"))
            .env("LEADGEN_CONFIG", self.dir.path().join("leadgen.toml"))
            .env_remove("LEADGEN_DATABASE_URL")
            .env("LEADGEN_GOOGLE_PLACES_BASE_URL", self.fake.base_url())
            .env("LEADGEN_GOOGLE_PLACES_API_KEY", FAKE_KEY)
            .env("LEADGEN_SERPAPI_BASE_URL", self.fake.base_url())
            .env("LEADGEN_SERPAPI_API_KEY", FAKE_KEY)
            .env(
                "LEADGEN_GOOGLE_ADS_TRANSPARENCY_BASE_URL",
                self.google.base_url(),
            )
            .env("LEADGEN_LINKEDIN_ADS_BASE_URL", self.linkedin.base_url())
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
fn a_dry_run_prices_a_three_state_sweep_and_queues_nothing() {
    let env = Env::new();
    let plan: Value = serde_json::from_str(&env.ok(&[
        "scrape",
        "google-maps",
        "--query",
        "dentist",
        "--states",
        "NY,NJ,CT",
        "--max-per-zip",
        "20",
        "--dry-run",
        "--json",
    ]))
    .unwrap();
    let zips = plan["zip_count"].as_u64().unwrap();
    assert!(zips > 2000, "{plan}");
    assert_eq!(plan["job_count"].as_u64().unwrap(), zips.div_ceil(50));
    assert_eq!(plan["max_requests"].as_u64().unwrap(), zips);
    assert!(plan["run"].is_null());
    assert!(plan["max_cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(env.fake.control().places_requests, 0);
}

#[test]
fn a_sweep_runs_as_jobs_and_lists_merged_companies() {
    let env = Env::new();
    let plan: Value = serde_json::from_str(&env.ok(&[
        "scrape",
        "google-maps",
        "--query",
        "dentist",
        "--zips",
        "10001,10002,10003",
        "--max-per-zip",
        "10",
        "--batch",
        "2",
        "--json",
    ]))
    .unwrap();
    let run = plan["run"].as_i64().unwrap();
    assert_eq!(plan["job_count"], 2);
    env.ok(&["worker", "--until-idle", "--types", "scrape_google_maps"]);
    let shown: Value =
        serde_json::from_str(&env.ok(&["runs", "show", &run.to_string(), "--json"])).unwrap();
    assert_eq!(shown["status"], "completed", "{shown}");
    let lines = env.ok(&["companies", "list", "--json"]);
    let companies: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!companies.is_empty());
    assert_eq!(
        shown["companies_found"].as_u64().unwrap(),
        companies.len() as u64
    );
    let mut place_ids: Vec<&str> = companies
        .iter()
        .filter_map(|c| c["place_id"].as_str())
        .collect();
    let n = place_ids.len();
    place_ids.sort_unstable();
    place_ids.dedup();
    assert_eq!(place_ids.len(), n, "no place twice");
    for c in &companies {
        for key in [
            "id",
            "name",
            "domain",
            "phone",
            "street",
            "city",
            "state",
            "postal_code",
            "rating",
            "review_count",
            "place_id",
            "sources",
        ] {
            assert!(c.get(key).is_some(), "{key} missing in {c}");
        }
        assert_eq!(c["sources"], serde_json::json!(["google_places"]));
        if let Some(p) = c["phone"].as_str() {
            assert!(p.starts_with("+1") && p.len() == 12, "E.164: {p}");
        }
    }
    // Running the same sweep again finds the same companies.
    env.ok(&[
        "scrape",
        "google-maps",
        "--query",
        "dentist",
        "--zips",
        "10001,10002,10003",
        "--max-per-zip",
        "10",
        "--provider",
        "serpapi",
    ]);
    env.ok(&["worker", "--until-idle", "--types", "scrape_google_maps"]);
    let again = env.ok(&["companies", "list", "--json"]);
    assert_eq!(again.lines().count(), companies.len());
    assert!(again.contains("\"serpapi\""), "sources list both vendors");
}

#[test]
fn bad_sweeps_say_what_to_fix() {
    let env = Env::new();
    for (args, says) in [
        (vec!["--states", "Atlantis"], "Atlantis"),
        (vec!["--zips", "99999"], "99999"),
        (vec![], "--states or --zips"),
        (vec!["--zips", "10001", "--provider", "bing"], "--provider"),
        (
            vec!["--zips", "10001", "--max-per-zip", "0"],
            "--max-per-zip",
        ),
    ] {
        let mut all = vec!["scrape", "google-maps", "--query", "dentist"];
        all.extend(args);
        let out = env.run(&all);
        assert!(!out.status.success(), "{all:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{all:?}: {err}");
    }
}

#[test]
fn ad_library_scans_run_as_jobs_and_list_ad_activity() {
    let env = Env::new();
    let queued: Value = serde_json::from_str(&env.ok(&[
        "scrape",
        "google-ads",
        "--keyword",
        "crm software",
        "--min-ads",
        "3",
        "--days",
        "30",
        "--json",
    ]))
    .unwrap();
    let run = queued["run"].as_i64().unwrap();
    env.ok(&["worker", "--until-idle"]);
    env.ok(&[
        "scrape",
        "linkedin-ads",
        "--company-ids",
        "100002,100003",
        "--min-ads",
        "3",
    ]);
    env.ok(&["worker", "--until-idle"]);
    let shown: Value =
        serde_json::from_str(&env.ok(&["runs", "show", &run.to_string(), "--json"])).unwrap();
    assert_eq!(shown["status"], "completed", "{shown}");
    assert_eq!(shown["companies_found"], 15, "{shown}");
    let companies: Vec<Value> = env
        .ok(&["companies", "list", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(companies.len(), 15);
    assert!(companies.iter().all(|c| c["running_ads"] == true));
    let both: Vec<&Value> = companies
        .iter()
        .filter(|c| c["ad_platforms"] == serde_json::json!(["google", "linkedin"]))
        .collect();
    assert_eq!(both.len(), 2, "advertisers 2 and 3 on LinkedIn too");
    for c in both {
        assert_eq!(
            c["linkedin_ads"]["ad_count"], c["google_ads"]["ad_count"],
            "{c}"
        );
        assert!(c["sources"].as_array().unwrap().len() == 2, "{c}");
    }
}

#[test]
fn bad_ad_library_scans_say_what_to_fix() {
    let env = Env::new();
    for (args, says) in [
        (vec!["google-ads"], "--keyword"),
        (
            vec!["google-ads", "--keyword", "crm", "--region", "XX"],
            "--region",
        ),
        (vec!["google-ads", "--advertiser-ids", "123"], "AR"),
        (vec!["linkedin-ads"], "--company-ids"),
        (vec!["linkedin-ads", "--company-ids", "acme"], "digits"),
        (
            vec!["linkedin-ads", "--keyword", "crm", "--days", "0"],
            "--days",
        ),
    ] {
        let mut all = vec!["scrape"];
        all.extend(args);
        let out = env.run(&all);
        assert!(!out.status.success(), "{all:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{all:?}: {err}");
    }
}
