//! A worker killed with SIGKILL in the middle of a push to Instantly —
//! after Instantly took a batch, before the worker heard back — uploads
//! no lead twice: the next worker finds the batch in doubt and sends it
//! again with `skip_if_in_campaign`.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use leadgen_integrations::fake_instantly::{FAKE_INSTANTLY_KEY, FakeInstantly};
use leadgen_store::{Store, testing};

struct Env {
    url: String,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Env {
    fn new(url: Option<String>) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let url =
            url.unwrap_or_else(|| format!("sqlite:{}", dir.path().join("leadgen.db").display()));
        let config = dir.path().join("leadgen.toml");
        std::fs::write(
            &config,
            "[jobs]\ndefault_schedules = false\nlease_secs = 2\n",
        )
        .unwrap();
        Env {
            url,
            config,
            _dir: dir,
        }
    }

    fn command(&self, fake: &FakeInstantly, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leadgen"));
        c.args(args)
            .env("LEADGEN_DATABASE_URL", &self.url)
            .env("LEADGEN_CONFIG", &self.config)
            .env("LEADGEN_INSTANTLY_BASE_URL", fake.base_url())
            .env("LEADGEN_INSTANTLY_API_KEY", FAKE_INSTANTLY_KEY)
            .env_remove("LEADGEN_DATA_DIR");
        c
    }

    fn ok(&self, fake: &FakeInstantly, args: &[&str]) -> String {
        let out: Output = self.command(fake, args).output().unwrap();
        assert!(
            out.status.success(),
            "leadgen {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

#[test]
fn sqlite() {
    killed_mid_push(Env::new(None));
}

#[test]
fn postgres() {
    if let Some(url) = testing::pg_url() {
        killed_mid_push(Env::new(Some(url)));
    }
}

fn killed_mid_push(env: Env) {
    let fake = FakeInstantly::spawn();
    {
        let store: Box<dyn Store> = leadgen_store::open(&env.url).unwrap();
        testing::insert_leads(&*store, 1, "kill", |b| {
            (0..60u64)
                .map(|i| testing::lead_with_email(b, i + 2, &format!("p{i}@k.com")))
                .collect()
        })
        .unwrap();
    }
    let out = env.ok(
        &fake,
        &[
            "campaigns",
            "create",
            "Kill",
            "--where",
            "score >= 0",
            "--json",
        ],
    );
    let created: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(created["preview_count"], 60);
    let id = created["id"].to_string();
    env.ok(&fake, &["campaigns", "push", &id, "--batch-size", "5"]);

    // Each upload takes effect at once and is answered 2 s later: the kill
    // lands inside that window, on the third batch.
    fake.control().answer_delay = Duration::from_secs(2);
    let mut victim = env
        .command(&fake, &["worker", "--until-idle", "--worker-id", "victim"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.control().uploads < 3 {
        assert!(
            Instant::now() < deadline,
            "the push never reached its third batch"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    victim.kill().unwrap(); // SIGKILL, mid-call
    victim.wait().unwrap();
    assert_eq!(fake.control().uploads, 3);

    fake.control().answer_delay = Duration::ZERO;
    env.ok(&fake, &["worker", "--until-idle", "--worker-id", "second"]);
    let c = fake.control();
    let iid = c.campaigns.keys().next().unwrap().clone();
    assert_eq!(c.campaigns.len(), 1);
    assert!(
        c.duplicates().is_empty(),
        "uploaded twice: {:?}",
        c.duplicates()
    );
    assert_eq!(c.lead_count(&iid), 60);
    // 12 batches, the one in doubt sent twice.
    assert_eq!(c.uploads, 13);
    drop(c);
    let shown = env.ok(&fake, &["campaigns", "show", &id, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["counts"]["pushed"], 60);
}
