//! `leadgen intent …` as a user runs it, against the loopback intent
//! provider named by LEADGEN_DATASHOPPER_BASE_URL.

use std::process::{Command, Output};

use leadgen_integrations::fake::FAKE_KEY;
use leadgen_integrations::fake_intent::FakeIntent;
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
    fake: FakeIntent,
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
            fake: FakeIntent::spawn(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_leadgen"))
            .args(args)
            .current_dir(self.dir.path())
            .env("LEADGEN_DATA_DIR", self.dir.path().join("data"))
            .env("LEADGEN_CONFIG", self.dir.path().join("leadgen.toml"))
            .env_remove("LEADGEN_DATABASE_URL")
            .env("LEADGEN_DATASHOPPER_BASE_URL", self.fake.base_url())
            .env("LEADGEN_DATASHOPPER_API_KEY", FAKE_KEY)
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

    fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        self.ok(args)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[test]
fn a_run_ranks_leads_and_lists_those_ready_for_upload() {
    let env = Env::new();
    let leads = env.dir.path().join("leads.csv");
    let mut csv = String::from("email,first name,company domain\n");
    for i in 0..4 {
        csv.push_str(&format!(
            "ann{i}@intent{i}-fake.com,Ann,intent{i}-fake.com\n"
        ));
    }
    std::fs::write(&leads, csv).unwrap();
    env.ok(&["import", leads.to_str().unwrap()]);
    let out = env.run(&["intent", "run"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("intent topics add"));
    for t in ["crm", "sales automation", "lead scoring", "email outreach"] {
        env.ok(&[
            "intent",
            "topics",
            "add",
            t,
            "--country",
            "us",
            "--limit",
            "30",
        ]);
    }
    assert_eq!(
        env.json_lines(&["intent", "topics", "list", "--json"])
            .len(),
        4
    );
    let run = &env.json_lines(&["intent", "run", "--json"])[0];
    assert_eq!(
        (run["queries"].as_u64(), run["added"].as_u64()),
        (Some(4), Some(120)),
        "{run}"
    );
    let stats = &env.json_lines(&["intent", "stats", "--json"])[0];
    assert_eq!(
        (
            stats["leads"]["hot"].as_u64(),
            stats["leads"]["warm"].as_u64()
        ),
        (Some(2), Some(1)),
        "{stats}"
    );
    assert_eq!(stats["leads"]["hot_pct"].as_f64(), Some(50.0));
    let ready = env.json_lines(&["intent", "ready", "--json"]);
    let emails: Vec<&str> = ready.iter().map(|l| l["email"].as_str().unwrap()).collect();
    assert_eq!(emails.len(), 3, "{emails:?}");
    assert!(ready[..2].iter().all(|l| l["intent"] == "hot"));
    assert!(
        env.json_lines(&["intent", "ready", "--json", "--verified-only"])
            .is_empty()
    );
    let trends = env.json_lines(&["intent", "trends", "--weeks", "8", "--json"]);
    assert_eq!(trends.len(), 4);
    assert_eq!(trends[0]["weekly"].as_array().unwrap().len(), 8);
    let total: u64 = trends[0]["weekly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(total, 30, "every company of the world in the last 8 weeks");
}

#[test]
fn a_vendor_csv_imports_with_named_columns_and_explains_refusals() {
    let env = Env::new();
    let file = env.dir.path().join("signals.csv");
    std::fs::write(
        &file,
        "acct,subject,strength\nacme.com,crm,high\nacme.com,crm,enormous\nnowhere,crm,high\n",
    )
    .unwrap();
    let out = env.run(&["intent", "import", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--map"),
        "says how to name columns"
    );
    let s = &env.json_lines(&[
        "intent",
        "import",
        file.to_str().unwrap(),
        "--map",
        "domain=acct",
        "--map",
        "topic=subject",
        "--json",
    ])[0];
    assert_eq!(
        (s["added"].as_u64(), s["rejected"].as_u64()),
        (Some(1), Some(2)),
        "{s}"
    );
    let rejects = std::fs::read_to_string(s["rejects_file"].as_str().unwrap()).unwrap();
    assert!(
        rejects.contains("enormous") && rejects.contains("nowhere"),
        "{rejects}"
    );
    let out = env.run(&[
        "intent",
        "import",
        file.to_str().unwrap(),
        "--map",
        "size=acct",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("fields are"));
}
