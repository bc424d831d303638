//! `leadgen serve`, `leadgen users …` and `leadgen api-keys …`.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use leadgen_app::config::Config;
use leadgen_app::queue;
use leadgen_core::DEFAULT_WORKSPACE;
use leadgen_server::credentials::{self, generate_password};
use leadgen_server::{AppState, ServerOptions, WorkerSecret, now_ms};
use leadgen_store::{Role, Store};

use crate::{open_store, open_store_with_readers};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on. Off loopback, session cookies are marked Secure
    /// (put a TLS proxy in front).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Jobs run at once by the in-process worker; 0 serves the API and
    /// dashboard only (workers run elsewhere).
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Requests per second each API key may make (burst: twice as many).
    #[arg(long, default_value_t = 50.0)]
    key_rate: f64,
    /// Require authentication for /metrics.
    #[arg(long)]
    private_metrics: bool,
    /// Seconds to let requests and jobs finish after SIGTERM/Ctrl-C.
    #[arg(long, default_value_t = 30)]
    grace_secs: u64,
    /// Origins whose pages may post to /api/v1/capture (repeatable, e.g.
    /// `--capture-origin https://example.com`); none allows any origin.
    #[arg(long = "capture-origin", value_name = "ORIGIN")]
    capture_origins: Vec<String>,
    /// The admin created on the first run (when the store has no user yet);
    /// its generated password is printed once.
    #[arg(long, default_value = "admin@leadgen.local")]
    admin_email: String,
    /// Inbound captures per second per capture key (burst: ten times as many).
    #[arg(long, default_value_t = 5.0)]
    capture_rate: f64,
}

fn parse_role(s: &str) -> Result<Role> {
    Role::parse(s).with_context(|| format!("unknown role {s:?}; use admin, member, viewer, or capture (API keys for /api/v1/capture)"))
}

/// Read-only SQLite connections of `leadgen serve`.
const SERVE_READERS: usize = 4;

pub fn serve(config: &Config, args: ServeArgs) -> Result<()> {
    // Readers let listings and key look-ups run side by side on SQLite.
    let store: Arc<dyn Store> = Arc::from(open_store_with_readers(config, SERVE_READERS)?);
    if args.key_rate <= 0.0 {
        bail!("--key-rate must be above 0");
    }
    if args.capture_rate <= 0.0 {
        bail!("--capture-rate must be above 0");
    }
    let mut capture_origins = Vec::with_capacity(args.capture_origins.len());
    for o in &args.capture_origins {
        let origin = o.trim().trim_end_matches('/');
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        if !host.is_some_and(|h| !h.is_empty() && !h.contains(['/', '?', '#', '@'])) {
            bail!("--capture-origin {o:?} is not an origin; write it like https://www.example.com");
        }
        capture_origins.push(origin.to_owned());
    }
    store.ensure_workspace(DEFAULT_WORKSPACE, "Default", now_ms())?;
    if store.count_users()? == 0 {
        // First run: an admin to log in with, its password shown this once.
        let password = generate_password();
        credentials::create_user(
            &*store,
            DEFAULT_WORKSPACE,
            &args.admin_email,
            &password,
            Role::Admin,
            now_ms(),
        )
        .with_context(|| format!("creating the first admin {}", args.admin_email))?;
        eprintln!(
            "first run: log in as {} with password {password} (shown once; `leadgen users create` adds users)",
            args.admin_email
        );
    }
    let opts = ServerOptions {
        secure_cookies: !args.bind.ip().is_loopback(),
        key_rate_per_s: args.key_rate,
        key_burst: args.key_rate * 2.0,
        public_metrics: !args.private_metrics,
        capture_per_s: args.capture_rate,
        capture_burst: args.capture_rate * 10.0,
        capture_origins,
        instantly_webhook_secret: env_secret("LEADGEN_INSTANTLY_WEBHOOK_SECRET"),
        intent_webhook_secret: env_secret("LEADGEN_INTENT_WEBHOOK_SECRET"),
        worker_secret: env_secret("LEADGEN_WORKER_SECRET").and_then(|s| WorkerSecret::new(&s)),
        ..ServerOptions::default()
    };
    let grace = Duration::from_secs(args.grace_secs);
    let state = AppState::new(store.clone(), config.clone(), opts);
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let result: Result<()> = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("listening on {}", args.bind))?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let worker = (args.workers > 0).then(|| {
            let mut wopts =
                queue::worker_options(config, queue::default_worker_id(), args.workers, false);
            wopts.grace = grace;
            tokio::spawn(queue::work(store.clone(), wopts, None, rx))
        });
        eprintln!(
            "leadgen serving on http://{addr} (dashboard /, API /api/v1, {} worker slots)",
            args.workers
        );
        let stop = async move {
            leadgen_server::shutdown_signal().await;
            let _ = tx.send(true);
        };
        leadgen_server::serve(listener, state, stop, grace)
            .await
            .context("serving HTTP")?;
        if let Some(w) = worker {
            let report = w.await.context("the worker task failed")??;
            eprintln!(
                "worker stopped: {} completed, {} retried, {} failed, {} handed back",
                report.completed, report.retried, report.failed, report.released
            );
        }
        Ok(())
    });
    drop(rt);
    result
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Create a dashboard user (the first admin on a new install).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "admin")]
        role: String,
        /// Read the password from standard input; else one is generated and printed.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long, default_value_t = DEFAULT_WORKSPACE)]
        workspace: i64,
    },
    /// List the users of a workspace.
    List {
        #[arg(long, default_value_t = DEFAULT_WORKSPACE)]
        workspace: i64,
        #[arg(long)]
        json: bool,
    },
}

pub fn users(config: &Config, cmd: UsersCommand) -> Result<()> {
    let store = open_store(config)?;
    match cmd {
        UsersCommand::Create {
            email,
            role,
            password_stdin,
            workspace,
        } => {
            let role = parse_role(&role)?;
            let (password, generated) = if password_stdin {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("reading the password from standard input")?;
                (s.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (generate_password(), true)
            };
            let id =
                credentials::create_user(&*store, workspace, &email, &password, role, now_ms())?;
            eprintln!(
                "created user {id} ({email}, {}) in workspace {workspace}",
                role.as_str()
            );
            if generated {
                println!("{password}");
                eprintln!("that is the password: it is not shown again");
            }
            Ok(())
        }
        UsersCommand::List { workspace, json } => {
            let users = store.list_users(workspace)?;
            for u in users {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"id": u.id, "email": u.email, "role": u.role, "created_at": u.created_at})
                    );
                } else {
                    println!("{}\t{}\t{}", u.id, u.email, u.role.as_str());
                }
            }
            Ok(())
        }
    }
}

#[derive(Subcommand)]
pub enum ApiKeysCommand {
    /// Issue a key; it is printed once and stored only as a hash.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long, default_value_t = DEFAULT_WORKSPACE)]
        workspace: i64,
        /// Print `{"id", "key"}`.
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long, default_value_t = DEFAULT_WORKSPACE)]
        workspace: i64,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id; requests with it get 401 from then on.
    Revoke {
        id: i64,
        #[arg(long, default_value_t = DEFAULT_WORKSPACE)]
        workspace: i64,
    },
}

pub fn api_keys(config: &Config, cmd: ApiKeysCommand) -> Result<()> {
    let store = open_store(config)?;
    match cmd {
        ApiKeysCommand::Create {
            name,
            role,
            workspace,
            json,
        } => {
            let role = parse_role(&role)?;
            let k = credentials::issue_api_key(&*store, workspace, &name, role, now_ms())?;
            if json {
                println!("{}", serde_json::json!({"id": k.id, "key": k.key}));
            } else {
                println!("{}", k.key);
                eprintln!(
                    "API key {} ({name}, {}): send it as `Authorization: Bearer <key>`; it is not shown again",
                    k.id,
                    role.as_str()
                );
            }
            Ok(())
        }
        ApiKeysCommand::List { workspace, json } => {
            for k in store.list_api_keys(workspace)? {
                if json {
                    println!("{}", serde_json::to_string(&k)?);
                } else {
                    let state = if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!(
                        "{}\t{}\t{}…\t{}\t{state}",
                        k.id,
                        k.name,
                        k.prefix,
                        k.role.as_str()
                    );
                }
            }
            Ok(())
        }
        ApiKeysCommand::Revoke { id, workspace } => {
            if !store.revoke_api_key(workspace, id, now_ms())? {
                bail!("no active API key {id} in workspace {workspace}");
            }
            eprintln!("revoked API key {id}");
            Ok(())
        }
    }
}

/// A secret from the environment; unset or blank is none.
fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}
