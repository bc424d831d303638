//! `leadgen verify …`: email verification from the command line, and
//! `leadgen verify bench` (throughput against loopback fakes).

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use leadgen_app::config::Config;
use leadgen_app::verify_job::{parse_socks5, parse_tls};
use leadgen_verify::testkit::bench::{BenchSpec, run as run_bench};
use leadgen_verify::{ResolverConfig, Status, Verification, Verifier, verify_ordered};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct VerifyArgs {
    #[command(subcommand)]
    command: Option<VerifyCommand>,
    /// Addresses to verify.
    emails: Vec<String>,
    /// A file of addresses, one per line ("-" for standard input).
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// text (default for a single address) or jsonl (one JSON object per
    /// address, in input order; default otherwise).
    #[arg(long, value_enum)]
    format: Option<OutputFormat>,
    /// Syntax and classification only: no DNS, no SMTP.
    #[arg(long)]
    syntax_only: bool,
    /// DNS server ip:port (UDP, TCP on truncation); default: the system resolver.
    #[arg(long)]
    resolver: Option<SocketAddr>,
    /// SMTP port of the MX hosts (default 25).
    #[arg(long)]
    smtp_port: Option<u16>,
    /// Name sent with EHLO/HELO.
    #[arg(long)]
    helo: Option<String>,
    /// Reverse path for MAIL FROM (empty: the null sender <>).
    #[arg(long)]
    from: Option<String>,
    /// Time each SMTP reply may take: 10s, 500ms, 2m.
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Time one address may take in all (DNS, SMTP, retries).
    #[arg(long, value_parser = parse_duration)]
    total_timeout: Option<Duration>,
    /// Wait before retrying a greylisted (4xx) address once.
    #[arg(long, value_parser = parse_duration)]
    greylist_delay: Option<Duration>,
    /// Addresses verified at once.
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// SMTP sessions open at once to one MX host.
    #[arg(long)]
    per_host_concurrency: Option<usize>,
    /// New SMTP sessions per second to one MX host.
    #[arg(long)]
    per_host_rate: Option<f64>,
    /// SOCKS5 proxy for SMTP connections: [user:password@]ip:port.
    #[arg(long)]
    socks5: Option<String>,
    /// STARTTLS: off, opportunistic (default) or required.
    #[arg(long)]
    tls: Option<String>,
    /// Skip the catch-all probe (one fewer SMTP session per domain).
    #[arg(long)]
    no_catch_all: bool,
}

#[derive(Subcommand)]
enum VerifyCommand {
    /// Throughput against loopback DNS and SMTP fakes with simulated latency.
    Bench {
        #[arg(long, default_value_t = 5000)]
        addresses: usize,
        /// Distinct fake domains, each with its own MX host on 127.0.x.y.
        #[arg(long, default_value_t = 100)]
        domains: usize,
        /// Delay before every SMTP reply.
        #[arg(long, default_value_t = 50)]
        latency_ms: u64,
        #[arg(long, default_value_t = 1000)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        per_host_concurrency: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Text,
    Jsonl,
}

/// `10s`, `500ms`, `2m`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (try 10s or 500ms)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use ms, s or m)")),
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("'{s}' must be more than zero"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn verify(config: &Config, args: VerifyArgs) -> Result<()> {
    if let Some(VerifyCommand::Bench {
        addresses,
        domains,
        latency_ms,
        concurrency,
        per_host_concurrency,
        json,
    }) = args.command
    {
        let report = run_bench(&BenchSpec {
            addresses,
            domains,
            latency: Duration::from_millis(latency_ms),
            concurrency,
            per_host_concurrency,
        })
        .context("running the verification benchmark")?;
        if json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            println!(
                "{} addresses on {} domains, {} ms per SMTP reply: {:.0} addresses/s ({} ms)\n\
                 valid {}, invalid {}, other {}\n\
                 most sessions at once to one host: {} (cap {}; servers saw at most {})\n\
                 peak RSS: {} KiB",
                report.addresses,
                report.domains,
                report.latency_ms,
                report.addresses_per_s,
                report.elapsed_ms,
                report.valid,
                report.invalid,
                report.other,
                report.max_sessions_per_host,
                report.per_host_concurrency,
                report.max_connections_seen_by_a_server,
                report.peak_rss_kib.unwrap_or(0)
            );
        }
        return Ok(());
    }

    let mut o = config.verify.options.clone();
    o.syntax_only = args.syntax_only;
    o.concurrency = args.concurrency.max(1);
    if let Some(r) = args.resolver {
        o.resolver = ResolverConfig::Server(r);
    }
    if let Some(p) = args.smtp_port {
        o.smtp_port = p;
    }
    if let Some(h) = args.helo {
        o.helo = h;
    }
    if let Some(f) = args.from {
        o.from = f;
    }
    if let Some(t) = args.timeout {
        o.step_timeout = t;
        o.connect_timeout = t;
        o.dns_timeout = o.dns_timeout.min(t);
    }
    if let Some(t) = args.total_timeout {
        o.total_timeout = t;
    }
    if let Some(d) = args.greylist_delay {
        o.greylist_delay = d;
    }
    if let Some(c) = args.per_host_concurrency {
        o.per_host_concurrency = c;
    }
    if let Some(r) = args.per_host_rate {
        o.per_host_rate = Some(r);
    }
    if let Some(s) = &args.socks5 {
        o.socks5 = Some(parse_socks5(s).map_err(|e| anyhow::anyhow!("--socks5: {e}"))?);
    }
    if let Some(t) = &args.tls {
        o.tls = parse_tls(t)
            .with_context(|| format!("--tls {t}: use off, opportunistic or required"))?;
    }
    if args.no_catch_all {
        o.catch_all_check = false;
    }

    // Addresses stream from the file: memory stays bounded by the window of
    // addresses in flight, whatever the file's size.
    if args.emails.is_empty() && args.file.is_none() {
        bail!("nothing to verify: give addresses, or --file FILE");
    }
    let format = args
        .format
        .unwrap_or(if args.emails.len() == 1 && args.file.is_none() {
            OutputFormat::Text
        } else {
            OutputFormat::Jsonl
        });
    let reader: Option<Box<dyn BufRead>> = match &args.file {
        None => None,
        Some(path) if path.as_os_str() == "-" => Some(Box::new(std::io::stdin().lock())),
        Some(path) => {
            let f =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            Some(Box::new(std::io::BufReader::with_capacity(1 << 16, f)))
        }
    };
    let read_err: std::cell::RefCell<Option<std::io::Error>> = Default::default();
    let file_lines = reader
        .into_iter()
        .flat_map(BufRead::lines)
        .map_while(|line| line.map_err(|e| *read_err.borrow_mut() = Some(e)).ok());
    let inputs = args
        .emails
        .into_iter()
        .chain(file_lines)
        .filter_map(|line| {
            let line = line.trim_end_matches('\r');
            (!line.trim().is_empty()).then(|| line.to_owned())
        });

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut write_err = None;
    let mut counts = [0usize; 5];
    let mut emit = |v: Verification| {
        counts[status_index(v.status)] += 1;
        let r = match format {
            OutputFormat::Jsonl => serde_json::to_writer(&mut out, &v)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n")),
            OutputFormat::Text => write_text(&mut out, &v),
        };
        if let Err(e) = r
            && write_err.is_none()
        {
            write_err = Some(e);
        }
    };

    let syntax_only = o.syntax_only;
    let verifier = Arc::new(Verifier::new(o).context("starting the verifier")?);
    if syntax_only {
        // No network: a plain loop on this thread is the fastest.
        for raw in inputs {
            emit(verifier.check_syntax(&raw));
        }
    } else {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let window = args.concurrency.max(1) * 2;
        rt.block_on(verify_ordered(verifier, inputs, window, &mut emit));
    }
    if let Some(e) = read_err.into_inner() {
        let name = args.file.as_ref().map(|p| p.display().to_string());
        return Err(e).with_context(|| format!("reading {}", name.unwrap_or_default()));
    }
    if let Some(e) = write_err {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("writing results");
        }
        return Ok(());
    }
    out.flush().ok();
    if format == OutputFormat::Jsonl {
        eprintln!(
            "valid {}, invalid {}, risky {}, catch_all {}, unknown {}",
            counts[0], counts[1], counts[2], counts[3], counts[4]
        );
    }
    Ok(())
}

fn status_index(s: Status) -> usize {
    match s {
        Status::Valid => 0,
        Status::Invalid => 1,
        Status::Risky => 2,
        Status::CatchAll => 3,
        Status::Unknown => 4,
    }
}

fn write_text(out: &mut impl Write, v: &Verification) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} (score {})",
        v.email,
        v.status.as_str(),
        v.score
    )?;
    if let Some(r) = &v.reason {
        match &v.message {
            Some(m) => writeln!(out, "  reason:     {r} — {m}")?,
            None => writeln!(out, "  reason:     {r}")?,
        }
    }
    if let Some(n) = &v.normalized
        && n != &v.email
    {
        writeln!(out, "  normalized: {n}")?;
    }
    if let Some(s) = &v.suggestion {
        writeln!(out, "  did you mean {s}?")?;
    }
    let mut flags = Vec::new();
    if v.is_free {
        flags.push("free provider");
    }
    if v.is_role {
        flags.push("role account");
    }
    if v.is_disposable {
        flags.push("disposable");
    }
    if !flags.is_empty() {
        writeln!(out, "  flags:      {}", flags.join(", "))?;
    }
    if !v.mx_hosts.is_empty() {
        writeln!(
            out,
            "  mx:         {} ({})",
            v.mx_hosts.join(", "),
            v.provider.as_deref().unwrap_or("other")
        )?;
    }
    if let Some(s) = &v.smtp {
        let code = s.code.map_or("no answer".to_owned(), |c| c.to_string());
        writeln!(
            out,
            "  smtp:       {code} {}{}",
            s.message.as_deref().unwrap_or(""),
            if s.tls { " [TLS]" } else { "" }
        )?;
        let ca = match s.catch_all {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        writeln!(out, "  catch-all:  {ca}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5h").is_err());
    }
}
