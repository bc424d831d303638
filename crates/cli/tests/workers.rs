//! Worker processes end to end: several `leadgen worker` processes drain one
//! queue, on SQLite and on a throw-away PostgreSQL, with and without a
//! worker killed by SIGKILL half-way. Each no-op job records its id as an
//! effect in `job_effects` (primary key workspace, kind, key): every job
//! must complete once, none missing, none doubled.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use leadgen_core::job::{JobStatus, RunStatus};
use leadgen_store::{JobFilter, Store, testing};
use serde_json::Value;

const WS: i64 = 1;

/// A store reached by URL, plus a config file that turns off the built-in
/// cron schedules (a test crossing midnight must not grow extra jobs) and
/// shortens the lease so a killed worker's jobs come back quickly.
struct Env {
    url: String,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Env {
    fn sqlite() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("leadgen.db").display());
        Env::with(url, dir)
    }

    fn postgres() -> Option<Env> {
        Some(Env::with(testing::pg_url()?, tempfile::tempdir().unwrap()))
    }

    fn with(url: String, dir: tempfile::TempDir) -> Env {
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

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leadgen"));
        c.args(args)
            .env("LEADGEN_DATABASE_URL", &self.url)
            .env("LEADGEN_CONFIG", &self.config)
            .env_remove("LEADGEN_DATA_DIR");
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out: Output = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "leadgen {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn worker(&self, id: &str) -> Child {
        self.command(&[
            "worker",
            "--until-idle",
            "--concurrency",
            "16",
            "--worker-id",
            id,
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    }

    fn store(&self) -> Box<dyn Store> {
        leadgen_store::open(&self.url).unwrap()
    }
}

fn report(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "worker failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
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

fn enqueue(env: &Env, n: u64, payload: &str) {
    let out = env.ok(&[
        "jobs",
        "enqueue",
        "--type",
        "noop",
        "--count",
        &n.to_string(),
        "--payload",
        payload,
        "--json",
    ]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["enqueued"], n);
}

/// Every job completed exactly once: as many effects as jobs, every job
/// completed, and no worker saw a duplicate effect.
fn assert_each_job_once(store: &dyn Store, n: u64, reports: &[Value]) {
    assert_eq!(
        store.effect_count(WS, "seen").unwrap(),
        n,
        "one effect per job"
    );
    assert_eq!(count(store, JobStatus::Completed), n, "every job completed");
    for r in reports {
        assert_eq!(r["duplicate_effects"], 0, "{r}");
    }
}

fn four_workers_drain_ten_thousand(env: Env) {
    let n = 10_000;
    enqueue(&env, n, r#"{"effect":"seen"}"#);
    let workers: Vec<Child> = (0..4).map(|i| env.worker(&format!("w{i}"))).collect();
    let reports: Vec<Value> = workers.into_iter().map(report).collect();
    let store = env.store();
    assert_each_job_once(&*store, n, &reports);
    let completed: u64 = reports
        .iter()
        .map(|r| r["completed"].as_u64().unwrap())
        .sum();
    assert_eq!(completed, n, "{reports:?}");
    let busy = reports
        .iter()
        .filter(|r| r["completed"].as_u64().unwrap() > 0)
        .count();
    assert!(busy >= 2, "the work was shared: {reports:?}");
}

fn a_killed_worker_s_jobs_are_rerun_once(env: Env) {
    let n = 10_000;
    // 20 ms per job: 10,000 jobs take a few seconds across 4 × 16 slots,
    // and a worker is almost always in the middle of some.
    enqueue(&env, n, r#"{"effect":"seen","sleep_ms":20}"#);
    let mut victim = env.worker("victim");
    let others: Vec<Child> = (0..3).map(|i| env.worker(&format!("w{i}"))).collect();
    let store = env.store();
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&*store, JobStatus::Completed) < n / 2 {
        assert!(Instant::now() < deadline, "workers made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    let held_by_victim = || -> usize {
        [JobStatus::Claimed, JobStatus::Processing]
            .into_iter()
            .map(|status| {
                let f = JobFilter {
                    status: Some(status),
                    limit: 1000,
                    ..JobFilter::default()
                };
                let jobs = store.list_jobs(WS, &f).unwrap();
                jobs.iter()
                    .filter(|j| j.worker.as_deref() == Some("victim"))
                    .count()
            })
            .sum()
    };
    // A worker is between two batches now and then; on a busy machine the
    // victim may finish what it held between our look and the kill. Then a
    // new victim (same id) takes its place, until one dies holding jobs.
    let mut held = 0;
    let mut victim_logs = Vec::new();
    for _ in 0..5 {
        while held_by_victim() == 0 {
            assert!(Instant::now() < deadline, "the victim never held a job");
        }
        victim.kill().unwrap(); // SIGKILL
        // What it held when it died stays held until the lease runs out.
        held = held_by_victim();
        victim_logs.push(victim.wait_with_output().unwrap());
        if held > 0 {
            break;
        }
        victim = env.worker("victim");
    }
    let reports: Vec<Value> = others.into_iter().map(report).collect();
    assert!(
        held > 0,
        "a victim was busy when killed; their logs:\n{}\nothers: {reports:?}",
        victim_logs
            .iter()
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
    assert_each_job_once(&*store, n, &reports);
    // The victim's jobs came back after their lease, each re-run once.
    let rerun = leadgen_store::testing::assert_victims_jobs_rerun_once(
        &*store, WS, n as usize, held, "victim",
    );
    let reaped: u64 = reports.iter().map(|r| r["reaped"].as_u64().unwrap()).sum();
    assert_eq!(reaped as usize, rerun);
}

fn runs_pause_and_resume_from_the_cli(env: Env) {
    let run: Value = serde_json::from_str(
        env.ok(&[
            "runs",
            "create",
            "--kind",
            "scrape_google_maps",
            "--name",
            "dentists",
            "--json",
        ])
        .trim(),
    )
    .unwrap();
    let id = run["id"].as_i64().unwrap().to_string();
    env.ok(&[
        "jobs", "enqueue", "--type", "noop", "--count", "5", "--run", &id, "--json",
    ]);
    env.ok(&["runs", "pause", &id]);
    let paused = report(env.worker("w"));
    assert_eq!(paused["completed"], 0, "a paused run's jobs are held");
    let show: Value =
        serde_json::from_str(env.ok(&["runs", "show", &id, "--json"]).trim()).unwrap();
    assert_eq!(show["status"], "paused");
    env.ok(&["runs", "resume", &id]);
    let resumed = report(env.worker("w"));
    assert_eq!(resumed["completed"], 5);
    let store = env.store();
    let r = store.get_run(WS, id.parse().unwrap()).unwrap().unwrap();
    assert_eq!(
        (r.status, r.completed_jobs, r.total_jobs),
        (RunStatus::Completed, 5, 5)
    );
    let stats: Value = serde_json::from_str(env.ok(&["jobs", "stats", "--json"]).trim()).unwrap();
    assert_eq!(stats["by_status"]["completed"], 5);
    assert_eq!(stats["by_status"]["pending"], 0);
}

fn retry_and_cancel_from_the_cli(env: Env) {
    env.ok(&[
        "jobs",
        "enqueue",
        "--type",
        "noop",
        "--payload",
        r#"{"fail_times": 99}"#,
    ]);
    // Out of attempts quickly: the worker retries with backoff, so give it
    // one attempt by cancelling after the first failure instead.
    let store = env.store();
    let id = store.list_jobs(WS, &JobFilter::default()).unwrap()[0]
        .id
        .to_string();
    env.ok(&["jobs", "cancel", &id]);
    let out = env.command(&["jobs", "cancel", &id]).output().unwrap();
    assert!(!out.status.success(), "cancelling twice is an error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already finished"));
    env.ok(&["jobs", "retry", &id]);
    let listed = env.ok(&["jobs", "list", "--status", "pending", "--json"]);
    assert_eq!(listed.lines().count(), 1);
    let bad = env
        .command(&["jobs", "list", "--status", "done"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown job status"));
    let bad = env
        .command(&["worker", "--until-idle", "--types", "scrape_the_moon"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("scrape_the_moon"));
}

macro_rules! both {
    ($($t:ident),* $(,)?) => {
        mod sqlite { $( #[test] fn $t() { super::$t(super::Env::sqlite()); } )* }
        mod postgres { $( #[test] fn $t() { if let Some(e) = super::Env::postgres() { super::$t(e); } } )* }
    };
}

fn sigterm_hands_back_running_jobs(env: Env) {
    env.ok(&[
        "jobs",
        "enqueue",
        "--type",
        "noop",
        "--count",
        "3",
        "--payload",
        r#"{"sleep_ms": 60000}"#,
    ]);
    let child = env
        .command(&[
            "worker",
            "--concurrency",
            "2",
            "--grace-secs",
            "1",
            "--worker-id",
            "w",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let store = env.store();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&*store, JobStatus::Processing) < 2 {
        assert!(
            Instant::now() < deadline,
            "the worker never started its jobs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stopped = Instant::now();
    let r = report(child);
    assert!(
        stopped.elapsed() < Duration::from_secs(30),
        "stopped after its grace period"
    );
    assert_eq!(r["released"], 2, "{r}");
    assert_eq!(count(&*store, JobStatus::Pending), 3);
    let jobs = store.list_jobs(WS, &JobFilter::default()).unwrap();
    assert!(jobs.iter().all(|j| j.attempts == 0 && j.worker.is_none()));
}

both![
    sigterm_hands_back_running_jobs,
    four_workers_drain_ten_thousand,
    a_killed_worker_s_jobs_are_rerun_once,
    runs_pause_and_resume_from_the_cli,
    retry_and_cancel_from_the_cli,
];
