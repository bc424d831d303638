//! `leadgen deliver …` as a user runs it, against loopback fakes named by
//! the LEADGEN_* variables: connection tests that say what failed and how
//! to fix it, and the platform upload.

use std::process::{Command, Output};

use leadgen_core::email::Email;
use leadgen_core::lead::IntentLevel;
use leadgen_core::{Lead, RecordId, SourceRef};
use leadgen_integrations::fake_hubspot::{FAKE_HUBSPOT_TOKEN, FakeHubspot};
use leadgen_integrations::fake_instantly::{FAKE_INSTANTLY_KEY, FakeInstantly};
use leadgen_integrations::fake_novacrm::{FAKE_NOVACRM_KEY, FakeNovaCrm};
use leadgen_integrations::fake_resend::{FAKE_RESEND_KEY, FakeResend};
use leadgen_integrations::fake_slack::FakeSlack;
use leadgen_integrations::fake_webhook::{FAKE_WEBHOOK_SECRET, FakeWebhook};
use leadgen_store::{BatchCounts, BatchMeta, RecordChunkWriter};
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
    slack: FakeSlack,
    resend: FakeResend,
    hubspot: FakeHubspot,
    hook: FakeWebhook,
    novacrm: FakeNovaCrm,
    instantly: FakeInstantly,
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
            slack: FakeSlack::spawn(),
            resend: FakeResend::spawn(),
            hubspot: FakeHubspot::spawn(),
            hook: FakeWebhook::spawn(),
            novacrm: FakeNovaCrm::spawn(),
            instantly: FakeInstantly::spawn(),
        }
    }

    /// Every variable set for the fakes, then `overrides` (empty = unset).
    fn run(&self, args: &[&str], overrides: &[(&str, &str)]) -> Output {
        let hook = self.hook.server.base_url();
        let mut vars: Vec<(String, String)> = vec![
            ("LEADGEN_SLACK_WEBHOOK_URL".into(), self.slack.webhook_url()),
            ("LEADGEN_RESEND_BASE_URL".into(), self.resend.base_url()),
            ("LEADGEN_RESEND_API_KEY".into(), FAKE_RESEND_KEY.into()),
            ("LEADGEN_NOTIFY_EMAIL_TO".into(), "ops@example.com".into()),
            (
                "LEADGEN_NOTIFY_EMAIL_FROM".into(),
                "Leadgen <alerts@example.com>".into(),
            ),
            ("LEADGEN_HUBSPOT_BASE_URL".into(), self.hubspot.base_url()),
            ("LEADGEN_HUBSPOT_API_KEY".into(), FAKE_HUBSPOT_TOKEN.into()),
            ("LEADGEN_NOVACRM_BASE_URL".into(), self.novacrm.base_url()),
            ("LEADGEN_NOVACRM_API_KEY".into(), FAKE_NOVACRM_KEY.into()),
            (
                "LEADGEN_INSTANTLY_BASE_URL".into(),
                self.instantly.base_url(),
            ),
            (
                "LEADGEN_INSTANTLY_API_KEY".into(),
                FAKE_INSTANTLY_KEY.into(),
            ),
            ("LEADGEN_WEBHOOK_URLS".into(), self.hook.url()),
            ("LEADGEN_WEBHOOK_SECRET".into(), FAKE_WEBHOOK_SECRET.into()),
            (
                "LEADGEN_PLATFORM_TECH_BASE_URL".into(),
                format!("{hook}/tech"),
            ),
            (
                "LEADGEN_PLATFORM_FINANCE_BASE_URL".into(),
                format!("{hook}/finance"),
            ),
        ];
        for (k, v) in overrides {
            vars.retain(|(key, _)| key != k);
            if !v.is_empty() {
                vars.push((k.to_string(), v.to_string()));
            }
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadgen"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("LEADGEN_DATA_DIR", self.dir.path().join("data"))
            .env("LEADGEN_CONFIG", self.dir.path().join("leadgen.toml"))
            .env_remove("LEADGEN_DATABASE_URL");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LEADGEN_")) {
            if !["LEADGEN_DATA_DIR", "LEADGEN_CONFIG"].contains(&k.as_str()) {
                cmd.env_remove(k);
            }
        }
        cmd.envs(vars).output().unwrap()
    }

    fn ok(&self, args: &[&str], overrides: &[(&str, &str)]) -> String {
        let out = self.run(args, overrides);
        assert!(
            out.status.success(),
            "leadgen {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Fails, and returns stderr.
    fn fails(&self, args: &[&str], overrides: &[(&str, &str)]) -> String {
        let out = self.run(args, overrides);
        assert!(!out.status.success(), "leadgen {args:?} should have failed");
        String::from_utf8(out.stderr).unwrap()
    }
}

#[test]
fn each_connection_test_passes_against_its_fake() {
    let env = Env::new();
    for (target, says) in [
        ("slack", "posted a test message"),
        ("webhook", "signed test.ping accepted"),
        ("email", "sent a test email to ops@example.com"),
        ("hubspot", "token accepted"),
        ("platform", "accepted an empty batch: tech, finance"),
        ("novacrm", "key accepted"),
        (
            "instantly",
            "key accepted; campaign analytics readable (0 campaigns)",
        ),
    ] {
        let out = env.ok(&["deliver", "test", target], &[]);
        assert!(
            out.contains(&format!("{target}: ok")) && out.contains(says),
            "{out}"
        );
    }
    assert_eq!(env.slack.state().messages.len(), 1);
    assert_eq!(env.resend.state().sent.len(), 1);
    assert_eq!(env.hook.state().received.len(), 1);
    assert_eq!(env.hook.state().uploads.len(), 2);
    assert!(
        env.hubspot.state().contacts.is_empty(),
        "the test writes nothing to the CRM"
    );
    let nova = env.novacrm.control();
    assert_eq!(nova.requests, 1, "the NovaCRM test made one call");
    assert!(nova.captures.is_empty(), "and created no lead in NovaCRM");
    let inst = env.instantly.control();
    assert_eq!(inst.requests, 1, "the Instantly test made one call");
    assert!(
        inst.campaigns.is_empty() && inst.uploads == 0,
        "and wrote nothing to Instantly"
    );
}

#[test]
fn failing_connection_tests_say_what_to_fix() {
    let env = Env::new();
    let gone = format!("{}/services/T1/B1/gone", env.slack.server.base_url());
    let err = env.fails(
        &["deliver", "test", "slack"],
        &[("LEADGEN_SLACK_WEBHOOK_URL", &gone)],
    );
    assert!(
        err.contains("no_service") && err.contains("LEADGEN_SLACK_WEBHOOK_URL"),
        "{err}"
    );
    let err = env.fails(
        &["deliver", "test", "slack"],
        &[("LEADGEN_SLACK_WEBHOOK_URL", "")],
    );
    assert!(err.contains("set LEADGEN_SLACK_WEBHOOK_URL"), "{err}");
    let err = env.fails(
        &["deliver", "test", "webhook"],
        &[("LEADGEN_WEBHOOK_SECRET", "wrong")],
    );
    assert!(
        err.contains("refused the signature") && err.contains("LEADGEN_WEBHOOK_SECRET"),
        "{err}"
    );
    let err = env.fails(
        &["deliver", "test", "email"],
        &[("LEADGEN_RESEND_API_KEY", "re_bad")],
    );
    assert!(err.contains("fix: check LEADGEN_RESEND_API_KEY"), "{err}");
    let err = env.fails(
        &["deliver", "test", "email"],
        &[("LEADGEN_NOTIFY_EMAIL_FROM", "")],
    );
    assert!(err.contains("set LEADGEN_NOTIFY_EMAIL_FROM"), "{err}");
    let err = env.fails(
        &["deliver", "test", "hubspot"],
        &[("LEADGEN_HUBSPOT_API_KEY", "bad")],
    );
    assert!(err.contains("LEADGEN_HUBSPOT_API_KEY"), "{err}");
    let err = env.fails(
        &["deliver", "test", "hubspot"],
        &[("LEADGEN_HUBSPOT_BASE_URL", "http://127.0.0.1:9")],
    );
    assert!(err.contains("check LEADGEN_HUBSPOT_BASE_URL"), "{err}");
    let err = env.fails(
        &["deliver", "test", "platform"],
        &[
            ("LEADGEN_PLATFORM_TECH_BASE_URL", ""),
            ("LEADGEN_PLATFORM_FINANCE_BASE_URL", ""),
        ],
    );
    assert!(err.contains("LEADGEN_PLATFORM_<NAME>_BASE_URL"), "{err}");
    for (target, var) in [
        ("novacrm", "LEADGEN_NOVACRM_API_KEY"),
        ("instantly", "LEADGEN_INSTANTLY_API_KEY"),
    ] {
        let err = env.fails(&["deliver", "test", target], &[(var, "wrong-key")]);
        assert!(
            err.contains("401") && err.contains(&format!("fix: check {var}")),
            "{err}"
        );
        let err = env.fails(&["deliver", "test", target], &[(var, "")]);
        assert!(err.contains(&format!("set {var}")), "{err}");
    }
    let err = env.fails(
        &["deliver", "test", "instantly"],
        &[("LEADGEN_INSTANTLY_BASE_URL", "http://127.0.0.1:9")],
    );
    assert!(err.contains("check LEADGEN_INSTANTLY_BASE_URL"), "{err}");
    let err = env.fails(&["deliver", "test", "carrier-pigeon"], &[]);
    assert!(
        err.contains("slack") && err.contains("hubspot") && err.contains("instantly"),
        "{err}"
    );
}

fn seed_leads(env: &Env) {
    let data = env.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let store = leadgen_store::open(&data.join("leadgen.db").display().to_string()).unwrap();
    store.migrate().unwrap();
    let meta = BatchMeta {
        kind: "test".into(),
        name: "seed".into(),
        source: "test".into(),
        content_hash: "seed".into(),
        headers: vec!["id".into()],
    };
    let rows = [
        ("Software", IntentLevel::Hot),
        ("Banking", IntentLevel::Warm),
        ("Software", IntentLevel::Cold),
        ("Roofing", IntentLevel::Hot),
    ];
    let mut tx = store.begin_ingest(1, &meta, 1).unwrap();
    let first = tx.reserve_lead_ids(rows.len() as u64).unwrap();
    let mut w = RecordChunkWriter::default();
    let leads: Vec<Lead> = rows
        .iter()
        .enumerate()
        .map(|(i, (industry, intent))| {
            let mut l = Lead::empty(
                "test",
                SourceRef {
                    at: 1,
                    record: RecordId::new(1, i as u64 + 2),
                },
            );
            l.id = first + i as i64;
            l.email = Some(Email::parse(&format!("p{i}@example.com")).unwrap());
            l.industry = Some(industry.to_string());
            l.intent = *intent;
            w.push(
                i as u64 + 2,
                [l.id.to_string()].iter().map(|c| c.as_bytes()),
            );
            l
        })
        .collect();
    tx.store_records(&w.finish().unwrap()).unwrap();
    tx.insert_leads(&leads).unwrap();
    tx.commit(BatchCounts::default(), 2).unwrap();
}

#[test]
fn platform_upload_dry_run_then_upload_then_nothing_left() {
    let env = Env::new();
    seed_leads(&env);
    let dry: Value =
        serde_json::from_str(&env.ok(&["deliver", "platform-upload", "--dry-run", "--json"], &[]))
            .unwrap();
    assert_eq!(dry["candidates"], 3);
    assert_eq!(dry["batches"].as_array().unwrap().len(), 3);
    assert!(env.hook.state().uploads.is_empty());
    // "general" has no endpoint: the command reports it and fails, the
    // configured platforms still get their leads.
    let err = env.fails(&["deliver", "platform-upload"], &[]);
    assert!(err.contains("1 batches failed"), "{err}");
    let uploads = env.hook.state().uploads.clone();
    let platforms: Vec<&str> = uploads.iter().map(|u| u.0.as_str()).collect();
    assert_eq!(platforms, ["finance", "tech"]);
    let out = env.ok(
        &["deliver", "platform-upload", "--json"],
        &[(
            "LEADGEN_PLATFORM_GENERAL_BASE_URL",
            &format!("{}/general", env.hook.server.base_url()),
        )],
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["already_uploaded"], 2);
    assert_eq!(report["batches"].as_array().unwrap().len(), 1);
    assert_eq!(env.hook.state().uploads.len(), 3);
    let log = env.ok(&["deliver", "log", "--json"], &[]);
    let log: Value = serde_json::from_str(&log).unwrap();
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|d| d["channel"] == "platform" && d["status"] == "delivered")
    );
}

#[test]
fn channels_come_from_the_environment_until_stored() {
    let env = Env::new();
    let shown: Value = serde_json::from_str(&env.ok(&["deliver", "channels"], &[])).unwrap();
    assert_eq!(shown["from"], "environment");
    assert_eq!(shown["slack_webhook_env"], "LEADGEN_SLACK_WEBHOOK_URL");
    assert_eq!(shown["webhooks"][0]["secret_env"], "LEADGEN_WEBHOOK_SECRET");
    let file = env.dir.path().join("channels.json");
    std::fs::write(
        &file,
        r#"{"slack_webhook_env": "TEAM_SLACK_URL", "webhooks": []}"#,
    )
    .unwrap();
    let shown: Value = serde_json::from_str(&env.ok(
        &["deliver", "channels", "--set", file.to_str().unwrap()],
        &[],
    ))
    .unwrap();
    assert_eq!(shown["from"], "stored");
    assert_eq!(shown["slack_webhook_env"], "TEAM_SLACK_URL");
    assert_eq!(shown["webhooks"].as_array().unwrap().len(), 0);
    // The connection test now reads the stored variable.
    let err = env.fails(&["deliver", "test", "slack"], &[]);
    assert!(err.contains("set TEAM_SLACK_URL"), "{err}");
    env.ok(
        &["deliver", "test", "slack"],
        &[("TEAM_SLACK_URL", &env.slack.webhook_url())],
    );
    std::fs::write(&file, r#"{"slack": "https://hooks.slack.com/x"}"#).unwrap();
    let err = env.fails(
        &["deliver", "channels", "--set", file.to_str().unwrap()],
        &[],
    );
    assert!(
        err.contains("not channel settings") && err.contains("slack"),
        "{err}"
    );
}

#[test]
fn hubspot_push_sends_selected_leads_but_not_suppressed_ones() {
    let env = Env::new();
    seed_leads(&env);
    env.ok(&["suppress", "add", "p1@example.com"], &[]);
    let dry: Value =
        serde_json::from_str(&env.ok(&["deliver", "hubspot", "--dry-run", "--json"], &[])).unwrap();
    assert_eq!(
        (dry["sent"].as_u64(), dry["suppressed"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(env.hubspot.state().requests, 0);
    let push: Value =
        serde_json::from_str(&env.ok(&["deliver", "hubspot", "--json"], &[])).unwrap();
    assert_eq!(push["created"], 3);
    let emails: Vec<String> = env.hubspot.state().contacts.keys().cloned().collect();
    assert_eq!(
        emails,
        ["p0@example.com", "p2@example.com", "p3@example.com"]
    );
}

/// A key stored for the workspace (sealed with the data directory's key
/// file) wins over the environment's: `deliver test` passes with a wrong
/// key in the environment, and fails with it once the stored key is gone.
#[test]
fn a_stored_key_wins_over_the_environment() {
    use leadgen_app::settings::{IntegrationUpdate, save_integration, secret_box};
    let env = Env::new();
    let data = env.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let store = leadgen_store::open(&data.join("leadgen.db").display().to_string()).unwrap();
    store.migrate().unwrap();
    let secrets = secret_box(&data, &|_| None).unwrap();
    let save = |key: &str| {
        let update = IntegrationUpdate {
            api_key: Some(key.to_owned()),
            ..IntegrationUpdate::default()
        };
        save_integration(&*store, 1, &secrets, "hubspot", update, 1).unwrap();
    };
    save(FAKE_HUBSPOT_TOKEN);
    let wrong = [("LEADGEN_HUBSPOT_API_KEY", "pat-wrong-in-the-environment")];
    let out = env.ok(&["deliver", "test", "hubspot"], &wrong);
    assert!(out.contains("hubspot: ok"), "{out}");
    save("");
    let err = env.fails(&["deliver", "test", "hubspot"], &wrong);
    assert!(err.contains("FAILED (auth)"), "{err}");
}
