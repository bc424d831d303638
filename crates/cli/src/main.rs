//! `leadgen`: the command-line entry point. Each command parses its flags,
//! calls one application service and renders the result.

mod campaigns_cmd;
mod consent_cmd;
mod deliver_cmd;
mod discover_cmd;
mod enrich_cmd;
mod intent_cmd;
mod jobs_cmd;
mod serve_cmd;
mod verify_cmd;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use leadgen_app::config::{Config, redact_url};
use leadgen_app::export::{self, Format, lead_json};
use leadgen_app::import::{ImportOptions, import_csv, preview_mapping};
use leadgen_app::sample::{SampleSpec, write_sample};
use leadgen_core::lead::{LeadStatus, Tier};
use leadgen_core::score::ScoringRules;
use leadgen_core::{DEFAULT_WORKSPACE, Field};
use leadgen_store::{Cursor, LeadFilter, LeadQuery, SortOrder, Store};

/// Ingest allocates on one thread and frees on another; glibc's allocator
/// serializes that through arena locks, mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "leadgen",
    version,
    about = "Self-hosted lead generation: import, clean, dedupe, score, export."
)]
struct Cli {
    /// Where the embedded store lives.
    #[arg(long, global = true, env = "LEADGEN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user@host:port/db); the embedded SQLite store when absent.
    #[arg(
        long,
        global = true,
        env = "LEADGEN_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Config file (TOML); defaults to ./leadgen.toml when present.
    #[arg(long, global = true, env = "LEADGEN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import a CSV file of leads (Apollo, HubSpot, Sales Navigator, Clay, ... exports).
    Import(ImportArgs),
    /// Export leads as CSV or JSON Lines.
    Export(ExportArgs),
    /// List, search and show leads.
    #[command(subcommand)]
    Leads(LeadsCommand),
    /// Counts of leads by status, tier and source.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Write a realistic synthetic lead file, with planted duplicates.
    GenSample {
        #[arg(long, default_value_t = 10_000)]
        rows: u64,
        #[arg(long, default_value_t = 0.15)]
        dup_rate: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Create or upgrade the store's schema.
    Migrate,
    /// Measure import throughput or query latency.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run queued jobs (enrichment, verification, pushes, analytics, ...).
    Worker(jobs_cmd::WorkerArgs),
    /// Inspect and manage the job queue.
    #[command(subcommand)]
    Jobs(jobs_cmd::JobsCommand),
    /// Scrapes, imports and pushes as runs of jobs: progress, pause, resume.
    #[command(subcommand)]
    Runs(jobs_cmd::RunsCommand),
    /// Serve the dashboard, the REST API and in-process job workers.
    Serve(serve_cmd::ServeArgs),
    /// Dashboard users.
    #[command(subcommand)]
    Users(serve_cmd::UsersCommand),
    /// API keys for integrations and scripts.
    #[command(subcommand, name = "api-keys")]
    ApiKeys(serve_cmd::ApiKeysCommand),
    /// Verify email addresses: syntax, DNS, SMTP probe, catch-all.
    Verify(verify_cmd::VerifyArgs),
    /// Find companies: Google Maps sweeps by ZIP code.
    #[command(subcommand)]
    Scrape(discover_cmd::ScrapeCommand),
    /// Companies found by sweeps and imports.
    #[command(subcommand)]
    Companies(discover_cmd::CompaniesCommand),
    /// The suppression list: addresses and domains never contacted.
    #[command(subcommand)]
    Suppress(consent_cmd::SuppressCommand),
    /// GDPR access (export) and erasure requests.
    #[command(subcommand)]
    Gdpr(consent_cmd::GdprCommand),
    /// Delivery channels: connection tests, platform upload, the delivery log.
    #[command(subcommand)]
    Deliver(deliver_cmd::DeliverCommand),
    /// Segments and campaigns: preview, create, push to Instantly, show.
    #[command(subcommand)]
    Campaigns(campaigns_cmd::CampaignsCommand),
    /// Enrich a company now, enqueue enrichment for a segment, or explain a lead's.
    Enrich(enrich_cmd::EnrichArgs),
    /// Intent data: active queries, provider runs, imports, trends, ready leads.
    #[command(subcommand)]
    Intent(intent_cmd::IntentCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Generate a sample file, then time its import into a fresh store
    /// (a temporary SQLite file, or the --database-url store, which must be empty).
    Import {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 0.15)]
        dup_rate: f64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Time filtered, paginated lead queries against the current store.
    Query {
        #[arg(long, default_value_t = 200)]
        runs: usize,
        #[arg(long, default_value_t = 50)]
        page: u32,
    },
}

#[derive(Args)]
struct ImportArgs {
    file: PathBuf,
    /// Map a field to a column: --map email="Work Email". Repeatable.
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    maps: Vec<String>,
    /// Tag every imported lead. Repeatable.
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// The source name the leads carry.
    #[arg(long, default_value = "csv_upload")]
    source: String,
    /// Print one JSON summary object instead of text.
    #[arg(long)]
    json: bool,
    /// Show how the columns would be mapped, and import nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Args, Default)]
struct FilterArgs {
    /// Only these statuses (raw, enriched, validated, ...). Repeatable or comma-separated.
    #[arg(long, value_delimiter = ',')]
    status: Vec<String>,
    #[arg(long)]
    source: Option<String>,
    #[arg(long)]
    min_score: Option<u8>,
    #[arg(long)]
    max_score: Option<u8>,
    #[arg(long)]
    tier: Option<String>,
    /// Leads with all of these tags. Repeatable.
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Free text over name, email, company and title.
    #[arg(long, short = 'q')]
    search: Option<String>,
    /// Leads of the company with this domain (`acme.com`, or its website).
    #[arg(long)]
    company_domain: Option<String>,
    /// A segment: industry = "dentist" and state in ("NY","NJ") and score >= 70
    #[arg(long = "where")]
    segment: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Args)]
struct ExportArgs {
    #[arg(long, value_enum, default_value = "csv")]
    format: ExportFormat,
    #[command(flatten)]
    filter: FilterArgs,
    /// Output file; standard output when absent.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The file goes to a sender (mailer, dialer, partner): leave out
    /// every lead on the suppression list.
    #[arg(long)]
    for_sending: bool,
}

#[derive(Subcommand)]
enum LeadsCommand {
    /// One page of leads.
    List(ListArgs),
    /// Leads whose name, email, company or title contains TEXT.
    Search {
        text: String,
        #[command(flatten)]
        list: ListArgs,
    },
    /// One lead with the provenance of every field.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Enqueue email verification (`validate_email` jobs, one run) for the
    /// matching leads that have an email; `leadgen worker` runs them.
    Verify {
        #[command(flatten)]
        filter: FilterArgs,
        /// At most this many leads, newest first.
        #[arg(long, default_value_t = 10_000)]
        max: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct ListArgs {
    #[command(flatten)]
    filter: FilterArgs,
    /// newest, oldest or score.
    #[arg(long, default_value = "newest")]
    sort: String,
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Continue after this cursor (printed at the end of a page).
    #[arg(long)]
    cursor: Option<String>,
    #[arg(long)]
    json: bool,
}

/// Wall-clock milliseconds, as the store records times.
pub(crate) use leadgen_jobs::now_ms;

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e` of
/// mimalloc 3, whose default is 10 ms).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the OS after a second instead of 10 ms. An
/// import's parsers allocate leads that a helper thread frees moments
/// later; returned at once, the same memory came back as fresh pages the
/// kernel had to zero, some 10% of a 1M-row import's CPU time.
fn keep_freed_memory_a_while() {
    // SAFETY: plain option reads and writes, before any other thread runs.
    unsafe {
        // A mimalloc whose options are numbered otherwise is left as it is.
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == 10 {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000);
        }
    }
}

fn main() {
    keep_freed_memory_a_while();
    let wanted = std::env::var("LEADGEN_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let wanted = wanted.unwrap_or_else(|| "warn".into());
    let mut filter = tracing_subscriber::EnvFilter::try_new(&wanted)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // The PostgreSQL driver logs every query's parameters (lead data) at
    // debug level; a general `LEADGEN_LOG=debug` must not turn that on.
    if !wanted.contains("tokio_postgres")
        && let Ok(quiet) = "tokio_postgres=info".parse()
    {
        filter = filter.add_directive(quiet);
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    end_quietly_on_closed_pipe(&cli.command);
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// `leadgen leads list | head`: a command that prints and ends stops
/// quietly when its reader goes away, as Unix tools do, instead of
/// panicking in `println!`. Rust ignores SIGPIPE by default; the server and
/// the workers keep that, so a client hanging up is an error they handle,
/// never their end.
fn end_quietly_on_closed_pipe(command: &Command) {
    if !matches!(command, Command::Serve(_) | Command::Worker(_)) {
        // SAFETY: runs at start-up, before any thread exists, and only
        // restores a signal's default disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
}

fn load_config(cli: &Cli) -> Result<Config> {
    let mut env: HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("LEADGEN_"))
        .collect();
    // Flags win over the environment, which wins over the file.
    if let Some(d) = &cli.data_dir {
        env.insert("LEADGEN_DATA_DIR".into(), d.display().to_string());
    }
    if let Some(u) = &cli.database_url {
        env.insert("LEADGEN_DATABASE_URL".into(), u.clone());
    }
    Ok(Config::load(cli.config.as_deref(), &env)?)
}

/// The variables as the default workspace sees them: its stored settings
/// (when a secret key exists), else the process environment.
fn workspace_env(config: &Config, store: &dyn Store) -> Result<leadgen_app::discovery::EnvLookup> {
    use leadgen_app::settings;
    let process = settings::process_env();
    let secrets = settings::load_secret_box(&config.data_dir, &*process)?;
    Ok(settings::workspace_env(
        store,
        DEFAULT_WORKSPACE,
        secrets.as_ref(),
        process,
    )?)
}

fn open_store(config: &Config) -> Result<Box<dyn Store>> {
    open_store_with_readers(config, 0)
}

/// The configured store; on SQLite with `readers` read-only connections.
fn open_store_with_readers(config: &Config, readers: usize) -> Result<Box<dyn Store>> {
    let url = config.store_url();
    leadgen_store::open_with_readers(&url, readers)
        .with_context(|| format!("opening the store at {}", redact_url(&url)))
}

fn run(cli: Cli) -> Result<()> {
    let config = load_config(&cli)?;
    leadgen_app::verify_job::configure(config.verify.clone());
    leadgen_app::enrich_job::configure(config.clone());
    // Jobs open the workspaces' stored keys with it; no key, nothing stored.
    match leadgen_app::settings::load_secret_box(&config.data_dir, &|k| std::env::var(k).ok()) {
        Ok(Some(secrets)) => leadgen_app::settings::configure(secrets),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "stored integration settings cannot be opened"),
    }
    match cli.command {
        Command::GenSample {
            rows,
            dup_rate,
            seed,
            output,
        } => {
            if !(0.0..1.0).contains(&dup_rate) {
                bail!("--dup-rate must be at least 0 and below 1 (got {dup_rate})");
            }
            let file = std::fs::File::create(&output)
                .with_context(|| format!("creating {}", output.display()))?;
            let stats = write_sample(
                &SampleSpec {
                    rows,
                    dup_rate,
                    seed,
                },
                std::io::BufWriter::new(file),
            )
            .with_context(|| format!("writing {}", output.display()))?;
            eprintln!(
                "wrote {} rows to {} ({} unique leads, {} planted duplicates, {} deliberately bad rows)",
                stats.rows,
                output.display(),
                stats.unique_leads,
                stats.planted_duplicates,
                stats.planted_bad
            );
            Ok(())
        }
        Command::Migrate => {
            let store = open_store(&config)?;
            store.migrate()?;
            eprintln!("schema is up to date ({})", store.backend());
            Ok(())
        }
        Command::Import(args) => import(&config, args),
        Command::Bench(cmd) => bench(&config, cmd),
        Command::Export(args) => {
            let store = open_store(&config)?;
            let filter = build_filter(&args.filter)?;
            let format = match args.format {
                ExportFormat::Csv => Format::Csv,
                ExportFormat::Jsonl => Format::Jsonl,
            };
            // On stderr, and drawn only when that is a terminal.
            let bar = ProgressBar::new(store.count_leads(DEFAULT_WORKSPACE, &filter)?);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} leads ({elapsed}, eta {eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let progress = |n: u64| bar.set_position(n);
            let mut w: Box<dyn Write> = match &args.output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let n = write_export(
                &*store,
                &filter,
                format,
                args.for_sending,
                &mut w,
                &progress,
            )?;
            w.flush()?;
            bar.finish_and_clear();
            eprintln!("exported {n} leads");
            Ok(())
        }
        Command::Leads(cmd) => leads(&config, cmd),
        Command::Worker(args) => jobs_cmd::worker(&config, args),
        Command::Jobs(cmd) => jobs_cmd::jobs(&config, cmd),
        Command::Runs(cmd) => jobs_cmd::runs(&config, cmd),
        Command::Serve(args) => serve_cmd::serve(&config, args),
        Command::Users(cmd) => serve_cmd::users(&config, cmd),
        Command::ApiKeys(cmd) => serve_cmd::api_keys(&config, cmd),
        Command::Verify(args) => verify_cmd::verify(&config, args),
        Command::Scrape(cmd) => discover_cmd::scrape(&config, cmd),
        Command::Companies(cmd) => discover_cmd::companies(&config, cmd),
        Command::Suppress(cmd) => consent_cmd::suppress(&config, cmd),
        Command::Gdpr(cmd) => consent_cmd::gdpr(&config, cmd),
        Command::Deliver(cmd) => deliver_cmd::deliver(&config, cmd),
        Command::Campaigns(cmd) => campaigns_cmd::campaigns(&config, cmd),
        Command::Enrich(args) => enrich_cmd::enrich(&config, args),
        Command::Intent(cmd) => intent_cmd::intent(&config, cmd),
        Command::Stats { json } => {
            let store = open_store(&config)?;
            if json {
                let v = leadgen_app::enrich_job::stats_json(&*store, DEFAULT_WORKSPACE)?;
                println!("{v}");
            } else {
                let s = store.stats(DEFAULT_WORKSPACE)?;
                let e = leadgen_app::enrich_job::enrichment_stats(&*store, DEFAULT_WORKSPACE, &s)?;
                println!(
                    "leads: {}   (with email {}, phone {}, LinkedIn {})",
                    s.leads, s.with_email, s.with_phone, s.with_linkedin
                );
                for (title, rows) in [
                    ("status", &s.by_status),
                    ("tier", &s.by_tier),
                    ("source", &s.by_source),
                ] {
                    let parts: Vec<String> = rows.iter().map(|(k, n)| format!("{k} {n}")).collect();
                    println!("by {title}: {}", parts.join(", "));
                }
                println!(
                    "imports: {}   source records: {}",
                    s.batches, s.source_records
                );
                println!(
                    "enrichment: {} steps on {} companies and leads, ${:.4}; {} leads found, {}",
                    e.steps,
                    e.subjects,
                    e.cost_usd,
                    e.enriched_leads,
                    e.cost_per_enriched_lead_usd
                        .map_or("no cost per lead yet".into(), |c| format!(
                            "${c:.4} per enriched lead"
                        ))
                );
            }
            Ok(())
        }
    }
}

fn import_options(config: &Config, path: PathBuf) -> ImportOptions {
    ImportOptions {
        path,
        overrides: Vec::new(),
        tags: Vec::new(),
        source: "csv_upload".into(),
        default_country: config.default_country,
        rules: config.scoring.clone(),
        source_priority: config.source_priority.clone(),
        workspace: DEFAULT_WORKSPACE,
        staging_bytes: leadgen_app::import::STAGING_BYTES,
    }
}

fn bench(config: &Config, cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Import {
            rows,
            dup_rate,
            seed,
        } => {
            let dir = std::env::temp_dir().join(format!("leadgen-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let file = dir.join("sample.csv");
            let out = std::io::BufWriter::new(std::fs::File::create(&file)?);
            write_sample(
                &SampleSpec {
                    rows,
                    dup_rate,
                    seed,
                },
                out,
            )?;
            let url = match &config.database_url {
                Some(url) => url.clone(),
                None => dir.join("bench.db").display().to_string(),
            };
            let store = leadgen_store::open(&url)
                .with_context(|| format!("opening {}", redact_url(&url)))?;
            if store.stats(DEFAULT_WORKSPACE)?.leads > 0 {
                bail!(
                    "the benchmark needs an empty store; {} has leads",
                    redact_url(&url)
                );
            }
            leadgen_app::bench::reset_peak_rss();
            let summary = import_csv(&*store, &import_options(config, file.clone()), &|_| {})?;
            let peak = leadgen_app::bench::peak_rss_mib();
            let file_mib = std::fs::metadata(&file)
                .map(|m| m.len() as f64 / 1048576.0)
                .unwrap_or(0.0);
            drop(store);
            let _ = std::fs::remove_dir_all(&dir);
            println!(
                "{}",
                serde_json::json!({
                    "backend": if config.database_url.is_some() { "postgres" } else { "sqlite" },
                    "rows": summary.rows_read,
                    "inserted": summary.inserted,
                    "merged": summary.merged,
                    "rejected": summary.rejected,
                    "file_mib": (file_mib * 10.0).round() / 10.0,
                    "elapsed_ms": summary.elapsed_ms,
                    "rows_per_s": (summary.rows_read as f64 / (summary.elapsed_ms.max(1) as f64 / 1000.0)).round(),
                    "peak_rss_mib": peak.map(|p| p.round()),
                })
            );
            Ok(())
        }
        BenchCommand::Query { runs, page } => {
            let store = open_store(config)?;
            let leads = store.stats(DEFAULT_WORKSPACE)?.leads;
            for f in leadgen_app::bench::bench_queries(&*store, DEFAULT_WORKSPACE, runs, page)? {
                let mut v = serde_json::to_value(&f)?;
                v["leads_in_store"] = leads.into();
                println!("{v}");
            }
            Ok(())
        }
    }
}

fn parse_maps(maps: &[String]) -> Result<Vec<(Field, String)>> {
    let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
    parse_field_maps(maps, "email=\"Work Email\"", Field::from_name, &names)
}

/// `--map FIELD=COLUMN` flags as (field, column) pairs; the fields are
/// those `from_name` knows (`names` lists them in the error).
pub(crate) fn parse_field_maps<F>(
    maps: &[String],
    example: &str,
    from_name: impl Fn(&str) -> Option<F>,
    names: &[&str],
) -> Result<Vec<(F, String)>> {
    maps.iter()
        .map(|m| {
            let (field, column) = m.split_once('=').with_context(|| {
                format!("--map '{m}': write FIELD=COLUMN, e.g. --map {example}")
            })?;
            let f = from_name(field.trim()).with_context(|| {
                format!(
                    "--map '{m}': unknown field '{field}'; fields are {}",
                    names.join(", ")
                )
            })?;
            Ok((f, column.trim().trim_matches('"').to_owned()))
        })
        .collect()
}

fn import(config: &Config, args: ImportArgs) -> Result<()> {
    let overrides = parse_maps(&args.maps)?;
    if args.dry_run {
        let mapping = preview_mapping(&args.file, &overrides)?;
        println!("{}", mapping.describe());
        return Ok(());
    }
    let store = open_store(config)?;
    let opts = ImportOptions {
        overrides,
        tags: args.tags,
        source: args.source,
        rules: leadgen_app::settings::scoring_rules(&*store, DEFAULT_WORKSPACE, config)?,
        ..import_options(config, args.file.clone())
    };
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({elapsed}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let summary = import_csv(&*store, &opts, &|p| {
        bar.set_length(p.total_bytes);
        bar.set_position(p.bytes_read);
        bar.set_message(format!("{} rows", p.rows_read));
    })
    .with_context(|| format!("importing {}", args.file.display()))?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        let rate = summary.rows_read as f64 / (summary.elapsed_ms.max(1) as f64 / 1000.0);
        println!(
            "{}: {} rows read, {} new leads, {} merged into existing, {} rejected in {:.1}s ({:.0} rows/s)",
            args.file.display(),
            summary.rows_read,
            summary.inserted,
            summary.merged,
            summary.rejected,
            summary.elapsed_ms as f64 / 1000.0,
            rate
        );
        if let Some(p) = &summary.rejects_file {
            println!("rejected rows and their reasons: {}", p.display());
        }
    }
    Ok(())
}

/// An export, or one for sending (suppressed leads left out, and said so).
fn write_export(
    store: &dyn Store,
    filter: &LeadFilter,
    format: Format,
    for_sending: bool,
    w: &mut dyn Write,
    progress: &dyn Fn(u64),
) -> Result<u64> {
    if !for_sending {
        return Ok(export::export(
            store,
            DEFAULT_WORKSPACE,
            filter,
            format,
            w,
            progress,
        )?);
    }
    let (n, left_out) =
        export::export_for_sending(store, DEFAULT_WORKSPACE, filter, format, w, progress)?;
    eprintln!("left out {left_out} suppressed lead(s)");
    Ok(n)
}

fn build_filter(f: &FilterArgs) -> Result<LeadFilter> {
    let statuses = f
        .status
        .iter()
        .map(|s| {
            LeadStatus::parse(s.trim()).with_context(|| {
                let names: Vec<&str> = LeadStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!("--status '{s}': expected one of {}", names.join(", "))
            })
        })
        .collect::<Result<_>>()?;
    let tier = f
        .tier
        .as_deref()
        .map(|t| {
            Tier::parse(&t.to_ascii_uppercase())
                .with_context(|| format!("--tier '{t}': expected A, B or C"))
        })
        .transpose()?;
    Ok(LeadFilter {
        statuses,
        source: f.source.clone(),
        min_score: f.min_score,
        max_score: f.max_score,
        tier,
        tags: f.tags.clone(),
        text: f.search.clone(),
        company_domain: f
            .company_domain
            .as_deref()
            .map(|d| {
                leadgen_app::company_domain_key(d)
                    .with_context(|| format!("--company-domain '{d}' is not a domain"))
            })
            .transpose()?,
        segment: f
            .segment
            .as_deref()
            .map(leadgen_core::segment::Segment::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--where: {e}"))?,
    })
}

fn leads(config: &Config, cmd: LeadsCommand) -> Result<()> {
    let store = open_store(config)?;
    let (list, text) = match cmd {
        LeadsCommand::Show { id, json } => {
            let rules = leadgen_app::settings::scoring_rules(&*store, DEFAULT_WORKSPACE, config)?;
            return show_lead(&*store, &rules, id, json);
        }
        LeadsCommand::List(list) => (list, None),
        LeadsCommand::Search { text, list } => (list, Some(text)),
        LeadsCommand::Verify { filter, max, json } => {
            use leadgen_app::lead_jobs::{LeadSelection, MAX_SELECTION, enqueue_verifications};
            if !(1..=MAX_SELECTION).contains(&max) {
                bail!("--max must be 1 to {MAX_SELECTION}");
            }
            let selection = LeadSelection::Filter {
                filter: build_filter(&filter)?,
                max,
            };
            let out = enqueue_verifications(&*store, DEFAULT_WORKSPACE, &selection, now_ms())?;
            if json {
                println!("{}", serde_json::to_string(&out)?);
            } else if let Some(run) = out.run_id {
                println!(
                    "enqueued {} verifications in run {run} ({} matching leads have no email); `leadgen worker --until-idle` runs them, `leadgen runs show {run}` follows them",
                    out.enqueued, out.skipped
                );
            } else {
                println!("no matching lead has an email; nothing enqueued");
            }
            return Ok(());
        }
    };
    let mut filter = build_filter(&list.filter)?;
    if text.is_some() {
        filter.text = text;
    }
    let sort = SortOrder::parse(&list.sort)
        .with_context(|| format!("--sort '{}': expected newest, oldest or score", list.sort))?;
    let after = list.cursor.as_deref().map(Cursor::decode).transpose()?;
    let page = store.query_leads(
        DEFAULT_WORKSPACE,
        &LeadQuery {
            filter,
            sort,
            limit: list.limit.clamp(1, 1000),
            after,
        },
    )?;
    if list.json {
        for lead in &page.leads {
            println!("{}", serde_json::Value::Object(lead_json(lead)));
        }
    } else {
        println!(
            "{:>8}  {:>5} {:4} {:32} {:24} {:28} title",
            "id", "score", "tier", "email", "name", "company"
        );
        for l in &page.leads {
            println!(
                "{:>8}  {:>5} {:4} {:32} {:24} {:28} {}",
                l.id,
                l.score,
                l.tier.as_str(),
                l.email.as_ref().map_or("", |e| e.as_str()),
                l.full_name().unwrap_or_default(),
                l.company_name.as_deref().unwrap_or(""),
                l.title.as_deref().unwrap_or("")
            );
        }
    }
    if let Some(next) = page.next {
        eprintln!("more: --cursor {}", next.encode());
    }
    Ok(())
}

fn show_lead(store: &dyn Store, rules: &ScoringRules, id: i64, json: bool) -> Result<()> {
    let lead = store
        .get_lead(DEFAULT_WORKSPACE, id)?
        .with_context(|| format!("no lead with id {id}"))?;
    let mut records = Vec::new();
    for r in lead.provenance.records() {
        if let Some(rec) = store.source_record(DEFAULT_WORKSPACE, r)? {
            records.push(rec);
        }
    }
    let card = rules.score(&lead);
    if json {
        let mut obj = lead_json(&lead);
        obj.insert("score_factors".into(), serde_json::to_value(&card.factors)?);
        obj.insert("provenance".into(), serde_json::to_value(&lead.provenance)?);
        obj.insert("source_records".into(), serde_json::to_value(&records)?);
        println!("{}", serde_json::Value::Object(obj));
        return Ok(());
    }
    for (k, v) in lead_json(&lead) {
        if !v.is_null() {
            let src = Field::from_name(&k).and_then(|f| lead.provenance.of(f));
            let from = src
                .map(|s| {
                    format!(
                        "   ← line {} of import {}",
                        s.record.line(),
                        s.record.batch()
                    )
                })
                .unwrap_or_default();
            println!("{k:>22}: {v}{from}");
        }
    }
    println!("\nscore {} (tier {}):", card.score, card.tier);
    for f in &card.factors {
        println!(
            "{:>22}: {} ({} points)",
            f.rule,
            if f.matched { "yes" } else { "no" },
            f.weight
        );
    }
    for rec in records {
        println!(
            "\nsource record: line {} of {} ({})",
            rec.record.line(),
            rec.batch_name,
            rec.source
        );
        for (h, c) in rec.headers.iter().zip(&rec.cells) {
            if !c.is_empty() {
                println!("{h:>22}: {c}");
            }
        }
    }
    Ok(())
}
