//! Test helpers (feature `testkit`): a throw-away PostgreSQL cluster started
//! from the system's `initdb`/`pg_ctl`, and temporary SQLite stores.
//!
//! Tests never touch a shared server. One cluster is started per test binary
//! (on first use) in a temporary directory on a free port; each test gets its
//! own database from [`PgCluster::fresh_database`], so tests stay isolated
//! and can run in parallel. The cluster is stopped and its directory removed
//! when the test process exits, and by a watchdog if the process is killed.
//!
//! ```no_run
//! # use leadgen_store::testing;
//! let Some(store) = testing::pg_store() else { return }; // prints SKIPPED
//! ```

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tempfile::TempDir;

use leadgen_core::email::Email;
use leadgen_core::{Lead, RecordId, SourceRef, WorkspaceId};

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{BatchCounts, BatchMeta, Store};

/// The line tests print when PostgreSQL is not installed.
pub const SKIP_MESSAGE: &str = "SKIPPED: PostgreSQL tests — initdb/pg_ctl not found; install postgresql \
     (Debian/Ubuntu: apt-get install postgresql)";

/// The role every test cluster trusts.
const USER: &str = "leadgen";
/// The system user that runs the cluster when tests run as root, which
/// `initdb` and `postgres` refuse. Debian's postgresql package creates it.
const SYSTEM_USER: &str = "postgres";

/// `initdb` and `pg_ctl` of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    pub initdb: PathBuf,
    pub pg_ctl: PathBuf,
}

/// Finds `initdb` and `pg_ctl`: in `$LEADGEN_PG_BINDIR` if set (and only
/// there), else on PATH, else in the newest `/usr/lib/postgresql/<version>/bin`
/// (where Debian and Ubuntu keep them).
pub fn find_binaries() -> Option<PgBinaries> {
    let in_dir = |dir: &Path| {
        let initdb = dir.join("initdb");
        let pg_ctl = dir.join("pg_ctl");
        (is_executable(&initdb) && is_executable(&pg_ctl)).then_some(PgBinaries { initdb, pg_ctl })
    };
    if let Some(dir) = std::env::var_os("LEADGEN_PG_BINDIR").filter(|d| !d.is_empty()) {
        return in_dir(Path::new(&dir));
    }
    if let Some(path) = std::env::var_os("PATH")
        && let Some(found) = std::env::split_paths(&path).find_map(|d| in_dir(&d))
    {
        return Some(found);
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            Some((version?, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.iter().rev().find_map(|(_, dir)| in_dir(dir))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Prints [`SKIP_MESSAGE`] once per process, past the test harness's output
/// capture so that it shows in a normal `cargo test` run.
pub fn print_skip() {
    use std::io::Write;
    static PRINTED: std::sync::Once = std::sync::Once::new();
    PRINTED.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n{0}\n{SKIP_MESSAGE}\n{0}\n",
            "*".repeat(78)
        );
    });
}

/// Whether PostgreSQL tests can run here.
pub fn pg_available() -> bool {
    find_binaries().is_some()
}

/// Whether a missing PostgreSQL must fail the tests instead of skipping them:
/// on CI (`CI` set) or when `LEADGEN_REQUIRE_PG` is set.
fn pg_required() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI") || set("LEADGEN_REQUIRE_PG")
}

/// A running throw-away PostgreSQL cluster.
pub struct PgCluster {
    port: u16,
    bins: PgBinaries,
    /// Holds the data directory, the socket directory and the log.
    dir: Mutex<Option<TempDir>>,
    /// The system user running the server, when tests run as root.
    run_as: Option<String>,
    next_db: AtomicU32,
}

impl std::fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCluster")
            .field("port", &self.port)
            .field("bins", &self.bins)
            .finish()
    }
}

/// How starting a cluster failed, with the server's log where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{}", SKIP_MESSAGE)]
    NotInstalled,
    #[error("{what}: {reason}")]
    Failed { what: String, reason: String },
}

fn failed(what: impl Into<String>, reason: impl std::fmt::Display) -> ClusterError {
    ClusterError::Failed {
        what: what.into(),
        reason: reason.to_string(),
    }
}

unsafe extern "C" {
    fn geteuid() -> u32;
    fn atexit(cb: extern "C" fn()) -> i32;
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() == 0 }
}

/// The uid and gid of a system user, from /etc/passwd.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn free_port() -> Result<u16, ClusterError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| failed("finding a free port", e))?;
    Ok(l.local_addr()
        .map_err(|e| failed("finding a free port", e))?
        .port())
}

impl PgCluster {
    /// Starts a new cluster. Prefer [`PgCluster::shared`] in tests.
    pub fn start() -> Result<PgCluster, ClusterError> {
        let bins = find_binaries().ok_or(ClusterError::NotInstalled)?;
        let dir = tempfile::Builder::new()
            .prefix("leadgen-pg-")
            .tempdir()
            .map_err(|e| failed("creating a temporary directory", e))?;
        let run_as = if is_root() {
            let (uid, gid) = user_ids(SYSTEM_USER).ok_or_else(|| {
                failed(
                    "running PostgreSQL as root",
                    format!(
                        "initdb refuses to run as root and there is no '{SYSTEM_USER}' user to run it as; \
                         install Debian's postgresql package (it creates the user) or run tests as another user"
                    ),
                )
            })?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).map_err(|e| {
                failed(
                    format!("handing {} to {SYSTEM_USER}", dir.path().display()),
                    e,
                )
            })?;
            Some(SYSTEM_USER.to_owned())
        } else {
            None
        };
        let mut cluster = PgCluster {
            port: 0,
            bins,
            dir: Mutex::new(Some(dir)),
            run_as,
            next_db: AtomicU32::new(0),
        };
        let root = cluster.root();
        let data = root.join("data");
        cluster.spawn_watchdog(&data);
        cluster.run(
            "initdb",
            Command::new(&cluster.bins.initdb)
                .arg("-D")
                .arg(&data)
                .args([
                    "-A",
                    "trust",
                    "-U",
                    USER,
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]),
        )?;
        let sock = root.join("sock");
        cluster.run(
            "creating the socket directory",
            Command::new("mkdir").arg(&sock),
        )?;
        // A free port can be taken between finding it and binding it.
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let opts = format!(
                "-F -p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
                 -c full_page_writes=off -c max_connections=200",
                sock.display()
            );
            let started = cluster.run(
                "pg_ctl start",
                Command::new(&cluster.bins.pg_ctl)
                    .args(["-w", "-t", "60", "-D"])
                    .arg(&data)
                    .arg("-l")
                    .arg(root.join("server.log"))
                    .arg("-o")
                    .arg(opts)
                    .arg("start"),
            );
            match started {
                Ok(()) => {
                    cluster.port = port;
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
        Ok(cluster)
    }

    /// The cluster of this test process, started on first use; `None` (after
    /// printing [`SKIP_MESSAGE`]) when PostgreSQL is not installed. Panics if
    /// it is installed but cannot start, or is missing on CI.
    pub fn shared() -> Option<&'static PgCluster> {
        let cluster = SHARED.get_or_init(|| match PgCluster::start() {
            Ok(c) => {
                // SAFETY: registers a plain function; it runs once at exit.
                unsafe { atexit(stop_shared) };
                Some(c)
            }
            Err(ClusterError::NotInstalled) if !pg_required() => None,
            Err(ClusterError::NotInstalled) => panic!(
                "PostgreSQL tests must run here (CI or LEADGEN_REQUIRE_PG is set) but initdb/pg_ctl were not \
                 found on PATH, in $LEADGEN_PG_BINDIR or in /usr/lib/postgresql/*/bin; install postgresql"
            ),
            Err(e) => panic!("cannot start a PostgreSQL test cluster: {e}"),
        });
        if cluster.is_none() {
            print_skip();
        }
        cluster.as_ref()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of the default database `postgres`.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    pub fn url_of(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a new, empty database and returns its URL.
    pub fn fresh_database(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let db = format!("test_{}_{n}", std::process::id());
        let mut client =
            postgres::Client::connect(&self.url(), postgres::NoTls).unwrap_or_else(|e| {
                panic!("connecting to the test cluster: {}\n{}", e, self.log_tail())
            });
        // template0 is never connected to, so concurrent creations don't clash.
        client
            .batch_execute(&format!(
                "CREATE DATABASE {db} TEMPLATE template0 ENCODING 'UTF8'"
            ))
            .unwrap_or_else(|e| {
                panic!(
                    "creating database {db}: {}",
                    crate::postgres::error_text(&e)
                )
            });
        self.url_of(&db)
    }

    /// The last lines of the server log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.root().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn root(&self) -> PathBuf {
        self.dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default()
    }

    /// Runs a PostgreSQL program, as the system user when we are root.
    fn run(&self, what: &str, cmd: &mut Command) -> Result<(), ClusterError> {
        let mut cmd = self.as_server_user(cmd);
        cmd.current_dir(self.root()).stdin(Stdio::null());
        let out = cmd
            .output()
            .map_err(|e| failed(what, format!("cannot run {:?}: {e}", cmd.get_program())))?;
        if out.status.success() {
            return Ok(());
        }
        Err(failed(
            what,
            format!(
                "{}\n{}{}\n--- server log ---\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log_tail()
            ),
        ))
    }

    /// `cmd` as the server's system user: through `runuser`, or `su` where
    /// util-linux's `runuser` is missing.
    fn as_server_user(&self, cmd: &Command) -> Command {
        let Some(user) = &self.run_as else {
            let mut out = Command::new(cmd.get_program());
            out.args(cmd.get_args());
            return out;
        };
        if on_path("runuser") {
            let mut out = Command::new("runuser");
            out.args(["-u", user, "--"])
                .arg(cmd.get_program())
                .args(cmd.get_args());
            return out;
        }
        let line: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect();
        let mut out = Command::new("su");
        out.args(["-s", "/bin/sh", user, "-c"]).arg(line.join(" "));
        out
    }

    /// Stops the server and removes its directory if this process dies
    /// without running its exit handlers (killed, aborted).
    fn spawn_watchdog(&self, data: &Path) {
        let stop = self.as_server_user(
            Command::new(&self.bins.pg_ctl)
                .args(["-D"])
                .arg(data)
                .args(["-m", "immediate", "stop"]),
        );
        let mut stop_line = shell_quote(&stop.get_program().to_string_lossy());
        for a in stop.get_args() {
            stop_line.push(' ');
            stop_line.push_str(&shell_quote(&a.to_string_lossy()));
        }
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 2; done; \
             if [ -d {root} ]; then \
               if [ -f {data}/postmaster.pid ]; then {stop_line} >/dev/null 2>&1; fi; rm -rf {root}; fi",
            pid = std::process::id(),
            data = shell_quote(&data.to_string_lossy()),
            root = shell_quote(&self.root().to_string_lossy()),
        );
        let _ = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// Stops the server (immediate shutdown) and removes its directory.
    pub fn stop(&self) {
        let Some(dir) = self.dir.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let mut stop = self.as_server_user(
            Command::new(&self.bins.pg_ctl)
                .arg("-D")
                .arg(dir.path().join("data"))
                .args(["-m", "immediate", "-w", "-t", "30", "stop"]),
        );
        let _ = stop
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // Give the postmaster's children a moment to release their files.
        std::thread::sleep(Duration::from_millis(20));
        drop(dir);
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| is_executable(&d.join(program))))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The cluster of this test process; see [`PgCluster::shared`].
static SHARED: OnceLock<Option<PgCluster>> = OnceLock::new();

extern "C" fn stop_shared() {
    // A static is never dropped, so the cluster is stopped at exit.
    if let Some(Some(cluster)) = SHARED.get() {
        cluster.stop();
    }
}

/// A store on a fresh database of the shared cluster; `None` (after printing
/// [`SKIP_MESSAGE`]) when PostgreSQL is not installed.
pub fn pg_store() -> Option<PgStore> {
    let url = PgCluster::shared()?.fresh_database();
    Some(PgStore::connect(&url).unwrap_or_else(|e| panic!("connecting to {url}: {e}")))
}

/// A URL of a fresh database on the shared cluster, or `None` as `pg_store`.
pub fn pg_url() -> Option<String> {
    Some(PgCluster::shared()?.fresh_database())
}

/// Names of the indexes on `leads` in the database `client` is connected to.
pub fn pg_lead_index_names(client: &mut postgres::Client) -> std::collections::BTreeSet<String> {
    client
        .query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'leads'",
            &[],
        )
        .expect("listing the indexes of leads")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A migrated SQLite store in a temporary directory, removed with the `TempDir`.
pub fn sqlite_store() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let store = SqliteStore::open(&sqlite_path(dir.path())).expect("opening a SQLite store");
    (dir, store)
}

/// `sqlite_store` with read-only connections, as `leadgen serve` opens it.
pub fn sqlite_store_with_readers(readers: usize) -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let store = SqliteStore::open_with_readers(&sqlite_path(dir.path()), readers)
        .expect("opening a SQLite store");
    (dir, store)
}

/// The metadata of a one-column CSV batch named after `hash`.
pub fn meta(hash: &str) -> BatchMeta {
    BatchMeta {
        kind: "csv".into(),
        name: format!("{hash}.csv"),
        source: "csv_upload".into(),
        content_hash: hash.into(),
        headers: vec!["email".into()],
    }
}

/// A lead `p{n}@example.com` from line n+2 of `batch`.
pub fn lead(batch: i64, at: i64, n: u32) -> Lead {
    let mut l = Lead::empty(
        "csv_upload",
        SourceRef {
            at,
            record: RecordId::new(batch, u64::from(n) + 2),
        },
    );
    l.email = Some(Email::parse(&format!("p{n}@example.com")).expect("email"));
    l
}

/// Imports lead `n` as its own batch (content hash `hash`) in one transaction.
pub fn ingest_one(s: &dyn Store, ws: WorkspaceId, hash: &str, n: u32) {
    let mut tx = s.begin_ingest(ws, &meta(hash), 1_000).unwrap();
    let b = tx.batch().clone();
    let mut l = lead(b.id, b.started_at, n);
    l.id = tx.reserve_lead_ids(1).unwrap();
    tx.insert_leads(&[l]).unwrap();
    tx.commit(
        BatchCounts {
            rows_read: 1,
            inserted: 1,
            ..BatchCounts::default()
        },
        2_000,
    )
    .unwrap();
}

/// Where `sqlite_store` puts the database in its directory.
pub fn sqlite_path(dir: &Path) -> PathBuf {
    dir.join("leadgen.db")
}

/// Stores `leads` as one batch named by `hash`, with their identity keys
/// (so lookups by email find them), and returns them with their new ids.
/// `make` builds the leads from the batch (for their origin records).
pub fn insert_leads(
    store: &dyn crate::Store,
    ws: leadgen_core::WorkspaceId,
    hash: &str,
    make: impl FnOnce(&crate::Batch) -> Vec<leadgen_core::Lead>,
) -> crate::Result<Vec<leadgen_core::Lead>> {
    let meta = crate::BatchMeta {
        kind: "test".into(),
        name: format!("{hash}.csv"),
        source: "test".into(),
        content_hash: hash.into(),
        headers: vec!["email".into()],
    };
    let mut tx = store.begin_ingest(ws, &meta, 1)?;
    let batch = tx.batch().clone();
    let mut leads = make(&batch);
    if !leads.is_empty() {
        let first = tx.reserve_lead_ids(leads.len() as u64)?;
        let mut keys = Vec::new();
        for (i, lead) in leads.iter_mut().enumerate() {
            lead.id = first + i as i64;
            let hashes = leadgen_core::dedupe::LeadKeys::of(lead).hashes();
            keys.extend(
                hashes
                    .stored(ws)
                    .into_iter()
                    .flatten()
                    .map(|k| (k, lead.id)),
            );
        }
        keys.sort_unstable();
        keys.dedup_by_key(|k| k.0);
        tx.insert_keys(&keys)?;
        tx.insert_leads(&leads)?;
    }
    let counts = crate::BatchCounts {
        rows_read: leads.len() as u64,
        inserted: leads.len() as u64,
        ..Default::default()
    };
    tx.commit(counts, 2)?;
    Ok(leads)
}

/// A lead of `batch` at `line` with `email`, for tests.
pub fn lead_with_email(batch: &crate::Batch, line: u64, email: &str) -> leadgen_core::Lead {
    let origin = leadgen_core::SourceRef {
        at: batch.started_at,
        record: leadgen_core::RecordId::new(batch.id, line),
    };
    let mut lead = leadgen_core::Lead::empty("test", origin);
    lead.email = leadgen_core::email::Email::parse(email).ok();
    lead
}

/// After a worker named `victim` was killed holding `held` of the first `n`
/// jobs of `ws`: asserts that each job whose lease expired came back once
/// (one "lease expired" error, by the victim; two attempts) and completed,
/// and that at least `held` did. Returns how many came back.
pub fn assert_victims_jobs_rerun_once(
    store: &dyn Store,
    ws: WorkspaceId,
    n: usize,
    held: usize,
    victim: &str,
) -> usize {
    use leadgen_core::job::JobStatus;
    let all = store
        .list_jobs(
            ws,
            &crate::JobFilter {
                limit: n as u32,
                ..crate::JobFilter::default()
            },
        )
        .unwrap();
    let rerun: Vec<_> = all
        .iter()
        .filter(|j| j.errors.iter().any(|e| e.message.contains("lease expired")))
        .collect();
    assert!(
        rerun.len() >= held,
        "the victim held {held} jobs when killed; {} came back",
        rerun.len()
    );
    for j in &rerun {
        assert_eq!(j.status, JobStatus::Completed);
        assert_eq!(
            j.errors.len(),
            1,
            "job {} expired once: {:?}",
            j.id,
            j.errors
        );
        assert_eq!(j.errors[0].worker.as_deref(), Some(victim));
        assert_eq!(j.attempts, 2, "job {} ran again exactly once", j.id);
    }
    rerun.len()
}
