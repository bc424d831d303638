//! `leadgen worker`, `leadgen jobs …` and `leadgen runs …`.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use leadgen_app::config::Config;
use leadgen_app::queue::{self, bench_queue, queue_json};
use leadgen_core::DEFAULT_WORKSPACE;
use leadgen_core::job::{Job, JobStatus, NewJob, Run, RunStatus};
use leadgen_store::{JobFilter, Store};

use crate::open_store;

#[derive(Args)]
pub struct WorkerArgs {
    /// Jobs run at once by this process.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Drain what is queued, then exit.
    #[arg(long)]
    until_idle: bool,
    /// Only these job types (comma-separated); default: every type this binary runs.
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Name recorded on claimed jobs; default host-pid.
    #[arg(long)]
    worker_id: Option<String>,
    /// Seconds to let running jobs finish after SIGTERM/Ctrl-C before handing them back.
    #[arg(long, default_value_t = 30)]
    grace_secs: u64,
    /// Print the worker's report as JSON when it stops.
    #[arg(long)]
    json: bool,
    /// Work for the `leadgen serve` at this URL instead of the database (a
    /// remote worker: runs noop, validate_email, enrich_company and enrich_lead). The secret comes from
    /// LEADGEN_WORKER_SECRET or --secret-file.
    #[arg(long)]
    server: Option<String>,
    /// A file holding the worker secret (with --server).
    #[arg(long, requires = "server")]
    secret_file: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Counts by status and type, throughput and the oldest pending job's age.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Recent jobs, newest first.
    List {
        /// pending, claimed, processing, completed, failed or cancelled.
        #[arg(long)]
        status: Option<String>,
        #[arg(long = "type")]
        job_type: Option<String>,
        #[arg(long)]
        run: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One job with its payload, result and error history (JSON).
    Show { id: i64 },
    /// Put a failed or cancelled job back in the queue with fresh attempts.
    Retry { id: i64 },
    /// Cancel a pending or running job.
    Cancel { id: i64 },
    /// Enqueue jobs by hand (e.g. `--type noop --count 20000 --payload '{"sleep_ms": 2}'`).
    Enqueue {
        #[arg(long = "type")]
        job_type: String,
        #[arg(long, default_value_t = 1)]
        count: u64,
        #[arg(long, default_value = "{}")]
        payload: String,
        /// 1 (background) to 10 (most urgent).
        #[arg(long, default_value_t = leadgen_core::job::DEFAULT_PRIORITY)]
        priority: u8,
        /// Enqueueing the same key again is a no-op (only with --count 1).
        #[arg(long)]
        unique_key: Option<String>,
        /// Attach to a run (its counters and pause/resume apply).
        #[arg(long)]
        run: Option<i64>,
        /// Run no earlier than this many ms from now.
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
        #[arg(long)]
        json: bool,
    },
    /// Enqueue and drain no-op jobs; prints {"jobs", "elapsed_ms", "jobs_per_s", ...} with --json.
    Bench {
        #[arg(long, default_value_t = 100_000)]
        jobs: u64,
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Jobs in flight per worker (also the claim batch).
        #[arg(long, default_value_t = 128)]
        concurrency: usize,
        /// Afterwards, time this many single jobs from enqueue to done with an idle worker.
        #[arg(long, default_value_t = 20)]
        latency_probes: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum RunsCommand {
    /// Recent runs with their progress.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One run's progress.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Hold a run's pending jobs.
    Pause { id: i64 },
    /// Release a paused run's jobs.
    Resume { id: i64 },
    /// Cancel a run and its unfinished jobs.
    Cancel { id: i64 },
    /// Start an empty run to attach jobs to (`jobs enqueue --run`).
    Create {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn worker(config: &Config, args: WorkerArgs) -> Result<()> {
    // A remote worker has no database: the server is its queue.
    let source = match &args.server {
        Some(url) => Err((url.clone(), worker_secret(args.secret_file.as_deref())?)),
        None => Ok(Arc::<dyn Store>::from(open_store(config)?)),
    };
    // The store is dropped after the runtime: PostgreSQL's blocking client
    // cannot close its connection from inside one.
    let keep_store = source.as_ref().ok().cloned();
    let mut opts = queue::worker_options(
        config,
        args.worker_id.unwrap_or_else(queue::default_worker_id),
        args.concurrency,
        args.until_idle,
    );
    opts.grace = std::time::Duration::from_secs(args.grace_secs);
    let types = (!args.types.is_empty()).then_some(args.types);
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = rt.block_on(async {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::warn!("shutting down: finishing running jobs");
            let _ = tx.send(true);
        });
        match source {
            Ok(store) => queue::work(store, opts, types, rx).await,
            Err((url, secret)) => {
                leadgen_app::remote_jobs::work(&url, &secret, opts, types, rx).await
            }
        }
    })?;
    drop(rt);
    drop(keep_store);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        eprintln!(
            "worker stopped: {} completed, {} retried, {} failed, {} handed back",
            report.completed, report.retried, report.failed, report.released
        );
    }
    Ok(())
}

/// The remote worker's secret: `--secret-file`, else `LEADGEN_WORKER_SECRET`.
fn worker_secret(file: Option<&std::path::Path>) -> Result<String> {
    let secret = match file {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("reading the worker secret from {}", p.display()))?,
        None => std::env::var("LEADGEN_WORKER_SECRET").unwrap_or_default(),
    };
    let secret = secret.trim().to_owned();
    if secret.is_empty() {
        bail!(
            "a remote worker needs the server's worker secret: set LEADGEN_WORKER_SECRET or pass --secret-file"
        );
    }
    Ok(secret)
}

/// SIGTERM or Ctrl-C.
async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn parse_status(s: &str) -> Result<JobStatus> {
    JobStatus::parse(s).with_context(|| {
        let all: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown job status {s:?}; use one of {}", all.join(", "))
    })
}

fn job_line(j: &Job) -> String {
    let err = j.errors.last().map(|e| e.message.as_str()).unwrap_or("");
    format!(
        "{:>8}  {:<20} {:<10} p{:<2} {}/{}  {}{}",
        j.id,
        j.job_type,
        j.status.as_str(),
        j.priority,
        j.attempts,
        j.max_attempts,
        j.run.map(|r| format!("run {r}  ")).unwrap_or_default(),
        err
    )
}

fn run_line(r: &Run) -> String {
    let eta = r
        .eta_ms(crate::now_ms())
        .map(|ms| format!("  eta {}", human_duration(ms)))
        .unwrap_or_default();
    format!(
        "{:>6}  {:<20} {:<10} {}/{} done ({} failed)  leads {}  companies {}  cost ${:.2}{eta}  {}",
        r.id,
        r.kind,
        r.status.as_str(),
        r.done_jobs(),
        r.total_jobs,
        r.failed_jobs,
        r.leads_found,
        r.companies_found,
        r.cost_micros as f64 / 1e6,
        r.name
    )
}

/// `1h02m`, `3m05s`, `42s`.
fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// A run as `runs show --json` prints it: the run and its ETA.
fn run_json(r: &Run) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["eta_ms"] = serde_json::json!(r.eta_ms(crate::now_ms()));
    v
}

pub fn jobs(config: &Config, cmd: JobsCommand) -> Result<()> {
    if let JobsCommand::Bench {
        jobs,
        workers,
        concurrency,
        latency_probes,
        json,
    } = cmd
    {
        let b = bench_queue(
            &config.store_url(),
            jobs,
            workers,
            concurrency,
            latency_probes,
        )?;
        if json {
            println!("{}", serde_json::to_string(&b)?);
        } else {
            println!(
                "{}: enqueued {} jobs in {} ms ({:.0}/s); {} workers drained them in {} ms: {:.0} jobs/s",
                b.backend,
                b.jobs,
                b.enqueue_ms,
                b.enqueue_per_s,
                b.workers,
                b.elapsed_ms,
                b.jobs_per_s
            );
            if let (Some(m), Some(p)) = (b.latency_ms_median, b.latency_ms_p95) {
                println!("idle pickup latency: median {m:.1} ms, p95 {p:.1} ms");
            }
        }
        return Ok(());
    }
    let store = open_store(config)?;
    let ws = DEFAULT_WORKSPACE;
    match cmd {
        JobsCommand::Stats { json } => {
            let s = store.queue_stats(ws, crate::now_ms())?;
            if json {
                println!("{}", queue_json(&s));
            } else {
                let parts: Vec<String> = s
                    .by_status
                    .iter()
                    .map(|(st, n)| format!("{} {n}", st.as_str()))
                    .collect();
                println!("jobs: {}", parts.join(", "));
                for (t, st, n) in &s.by_type {
                    println!("  {t:<22} {:<11} {n}", st.as_str());
                }
                println!(
                    "completed in the last minute: {} ({:.1}/s); oldest pending: {}",
                    s.completed_last_minute,
                    s.completed_last_minute as f64 / 60.0,
                    s.oldest_pending_age_ms
                        .map(|a| format!("{:.1} s", a as f64 / 1000.0))
                        .unwrap_or_else(|| "none".into())
                );
            }
        }
        JobsCommand::List {
            status,
            job_type,
            run,
            limit,
            json,
        } => {
            let f = JobFilter {
                status: status.as_deref().map(parse_status).transpose()?,
                job_type,
                run,
                limit,
            };
            for j in store.list_jobs(ws, &f)? {
                if json {
                    println!("{}", serde_json::to_string(&j)?);
                } else {
                    println!("{}", job_line(&j));
                }
            }
        }
        JobsCommand::Show { id } => {
            let j = store
                .get_job(ws, id)?
                .with_context(|| format!("no job {id}"))?;
            println!("{}", serde_json::to_string_pretty(&j)?);
        }
        JobsCommand::Retry { id } => {
            if !store.retry_job(ws, id, crate::now_ms())? {
                bail!("job {id} is not failed or cancelled (or does not exist); nothing to retry");
            }
            eprintln!("job {id} is pending again");
        }
        JobsCommand::Cancel { id } => {
            if !store.cancel_job(ws, id, crate::now_ms())? {
                bail!("job {id} is already finished (or does not exist)");
            }
            eprintln!("job {id} cancelled");
        }
        JobsCommand::Enqueue {
            job_type,
            count,
            payload,
            priority,
            unique_key,
            run,
            delay_ms,
            json,
        } => {
            serde_json::from_str::<serde_json::Value>(&payload)
                .with_context(|| format!("--payload is not JSON: {payload}"))?;
            if unique_key.is_some() && count != 1 {
                bail!("--unique-key enqueues one job; drop --count or the key");
            }
            let t = crate::now_ms();
            let mut job: NewJob = queue::registry().new_job(ws, &job_type, &payload);
            job.priority = priority;
            job.unique_key = unique_key;
            job.run = run;
            job.run_at = Some(t + delay_ms as i64);
            let mut added = 0u64;
            let mut left = count;
            while left > 0 {
                let n = left.min(50_000);
                added += store
                    .enqueue(&vec![job.clone(); n as usize], t)?
                    .iter()
                    .flatten()
                    .count() as u64;
                left -= n;
            }
            if json {
                println!(
                    "{}",
                    serde_json::json!({"enqueued": added, "requested": count})
                );
            } else {
                eprintln!(
                    "enqueued {added} {job_type} jobs ({} already existed)",
                    count - added
                );
            }
        }
        JobsCommand::Bench { .. } => unreachable!("handled above"),
    }
    Ok(())
}

pub fn runs(config: &Config, cmd: RunsCommand) -> Result<()> {
    let store = open_store(config)?;
    let ws = DEFAULT_WORKSPACE;
    let set = |id: i64, to: RunStatus, verb: &str| -> Result<()> {
        if !store.set_run_status(ws, id, to, crate::now_ms())? {
            let st = store
                .get_run(ws, id)?
                .with_context(|| format!("no run {id}"))?
                .status;
            bail!("run {id} is {}; cannot {verb} it", st.as_str());
        }
        eprintln!("run {id} is {}", to.as_str());
        Ok(())
    };
    match cmd {
        RunsCommand::List { limit, json } => {
            for r in store.list_runs(ws, limit)? {
                if json {
                    println!("{}", run_json(&r));
                } else {
                    println!("{}", run_line(&r));
                }
            }
        }
        RunsCommand::Show { id, json } => {
            let r = store
                .get_run(ws, id)?
                .with_context(|| format!("no run {id}"))?;
            if json {
                println!("{}", run_json(&r));
            } else {
                println!("{}", run_line(&r));
            }
        }
        RunsCommand::Pause { id } => set(id, RunStatus::Paused, "pause")?,
        RunsCommand::Resume { id } => set(id, RunStatus::Running, "resume")?,
        RunsCommand::Cancel { id } => set(id, RunStatus::Cancelled, "cancel")?,
        RunsCommand::Create { kind, name, json } => {
            let id = store.create_run(ws, &kind, &name, crate::now_ms())?;
            if json {
                println!("{}", serde_json::json!({"id": id}));
            } else {
                eprintln!("run {id} created");
            }
        }
    }
    Ok(())
}
