//! `leadgen worker --server URL` as processes: a `leadgen serve` with
//! LEADGEN_WORKER_SECRET and no in-process worker, remote workers that reach
//! the queue only through it, one of them killed with SIGKILL mid-run.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leadgen_core::job::JobStatus;
use leadgen_store::{JobFilter, Store};
use serde_json::Value;

const WS: i64 = 1;
const SECRET: &str = "remote-worker-test-secret";

struct Env {
    url: String,
    config: std::path::PathBuf,
    dir: tempfile::TempDir,
}

impl Env {
    fn sqlite() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("leadgen.db").display());
        let config = dir.path().join("leadgen.toml");
        // No cron jobs; a short lease so a killed worker's jobs come back soon.
        std::fs::write(
            &config,
            "[jobs]\ndefault_schedules = false\nlease_secs = 2\n",
        )
        .unwrap();
        Env { url, config, dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leadgen"));
        c.args(args)
            .env("LEADGEN_DATABASE_URL", &self.url)
            .env("LEADGEN_CONFIG", &self.config)
            .env_remove("LEADGEN_DATA_DIR")
            .env_remove("LEADGEN_WORKER_SECRET")
            .current_dir(self.dir.path());
        c
    }

    /// A remote worker: no database URL, only the server and the secret.
    fn remote_worker(&self, base: &str, id: &str, extra: &[&str]) -> Child {
        let mut args = vec![
            "worker",
            "--server",
            base,
            "--worker-id",
            id,
            "--concurrency",
            "8",
            "--json",
        ];
        args.extend_from_slice(extra);
        let mut c = self.command(&args);
        c.env_remove("LEADGEN_DATABASE_URL")
            .env("LEADGEN_WORKER_SECRET", SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    }

    /// `leadgen serve --workers 0` on a free port; returns it and its URL.
    fn serve(&self) -> (Child, String) {
        let mut server = self
            .command(&["serve", "--bind", "127.0.0.1:0", "--workers", "0"])
            .env("LEADGEN_WORKER_SECRET", SECRET)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("serve printed its address").unwrap();
            if let Some(rest) = line.split("http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        (server, format!("http://{addr}"))
    }

    fn store(&self) -> Box<dyn Store> {
        leadgen_store::open(&self.url).unwrap()
    }
}

fn count(store: &dyn Store, status: JobStatus) -> u64 {
    store
        .queue_stats(WS, 0)
        .unwrap()
        .by_status
        .into_iter()
        .find(|(s, _)| *s == status)
        .unwrap()
        .1
}

#[test]
fn a_killed_remote_worker_s_jobs_are_rerun_once_after_the_lease() {
    let env = Env::sqlite();
    let n = 600u64;
    let out = env
        .command(&[
            "jobs",
            "enqueue",
            "--type",
            "noop",
            "--count",
            &n.to_string(),
            "--payload",
            r#"{"effect":"seen","sleep_ms":40}"#,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut server, base) = env.serve();
    let store = env.store();
    let held_by_victim = || -> usize {
        [JobStatus::Claimed, JobStatus::Processing]
            .into_iter()
            .map(|status| {
                let f = JobFilter {
                    status: Some(status),
                    limit: 1000,
                    ..JobFilter::default()
                };
                store
                    .list_jobs(WS, &f)
                    .unwrap()
                    .iter()
                    .filter(|j| j.worker.as_deref() == Some("victim"))
                    .count()
            })
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    // Kill the victim while it holds jobs (a new one takes its place if it
    // happened to be between batches).
    let mut held = 0;
    for _ in 0..5 {
        let mut victim = env.remote_worker(&base, "victim", &[]);
        while held_by_victim() == 0 {
            assert!(Instant::now() < deadline, "the victim never held a job");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        victim.kill().unwrap(); // SIGKILL
        let _ = victim.wait();
        // A request the victim sent just before dying may still land.
        std::thread::sleep(Duration::from_millis(300));
        held = held_by_victim();
        if held > 0 {
            break;
        }
    }
    assert!(held > 0, "the victim held jobs when killed");
    // Another remote worker drains the rest, the victim's jobs included once
    // their leases run out (the server reaps them on its request).
    let survivor = env.remote_worker(&base, "survivor", &["--until-idle"]);
    let out = survivor.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "survivor failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["duplicate_effects"], 0, "{report}");
    assert_eq!(
        store.effect_count(WS, "seen").unwrap(),
        n,
        "one effect per job"
    );
    assert_eq!(
        count(&*store, JobStatus::Completed),
        n,
        "every job completed"
    );
    let rerun = leadgen_store::testing::assert_victims_jobs_rerun_once(
        &*store, WS, n as usize, held, "victim",
    );
    assert_eq!(report["reaped"].as_u64().unwrap() as usize, rerun);
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn a_remote_worker_needs_a_secret_and_refuses_types_it_cannot_run() {
    let env = Env::sqlite();
    let out = env
        .command(&["worker", "--server", "http://127.0.0.1:9", "--until-idle"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("LEADGEN_WORKER_SECRET"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env
        .command(&[
            "worker",
            "--server",
            "http://127.0.0.1:9",
            "--types",
            "push_to_crm",
        ])
        .env("LEADGEN_WORKER_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("push_to_crm") && err.contains("validate_email"),
        "{err}"
    );
    // A wrong secret is refused by the server, not retried forever.
    let (mut server, base) = env.serve();
    let out = env
        .command(&["worker", "--server", &base, "--until-idle"])
        .env("LEADGEN_WORKER_SECRET", "not-the-secret")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("401"), "{err}");
    assert!(
        !err.contains("not-the-secret"),
        "the secret is not printed: {err}"
    );
    let _ = server.kill();
    let _ = server.wait();
}
