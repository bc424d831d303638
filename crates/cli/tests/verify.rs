//! `leadgen verify` end to end: the built binary against loopback DNS and
//! SMTP fakes (`--resolver`, `--smtp-port`).

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use leadgen_verify::testkit::{Behavior, FakeDns, SmtpFarm, loopback};
use serde_json::Value;

fn leadgen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadgen"))
        .args(args)
        .env("LEADGEN_DATA_DIR", dir)
        .env_remove("LEADGEN_DATABASE_URL")
        .env_remove("LEADGEN_CONFIG")
        .current_dir(dir)
        .output()
        .expect("run leadgen")
}

fn lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "leadgen failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn jsonl_results_come_in_input_order_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![
        (
            loopback(0),
            Behavior::known_users(&["jane@acme.test", "sales@acme.test"])
                .latency(Duration::from_millis(40)),
        ),
        (loopback(1), Behavior::accept_all()),
    ]);
    dns.mail_domain("acme.test", loopback(0));
    dns.mail_domain("catchall.test", loopback(1));
    dns.nxdomain("gone.test");
    let inputs = [
        "jane@acme.test",
        "nobody@acme.test",
        "jane..doe@acme.test",
        "anyone@catchall.test",
        "sales@acme.test",
        "x@gone.test",
        "mailto:Jane@ACME.test",
    ];
    let file = dir.path().join("emails.txt");
    std::fs::write(&file, inputs.join("\n") + "\n").unwrap();
    let out = leadgen(
        dir.path(),
        &[
            "verify",
            "--file",
            file.to_str().unwrap(),
            "--format",
            "jsonl",
            "--concurrency",
            "8",
            "--resolver",
            &dns.addr().to_string(),
            "--smtp-port",
            &farm.port.to_string(),
            "--helo",
            "probe.leadgen.test",
            "--from",
            "probe@leadgen.test",
            "--timeout",
            "5s",
        ],
    );
    let rows = lines(&out);
    let emails: Vec<&str> = rows.iter().map(|r| r["email"].as_str().unwrap()).collect();
    assert_eq!(emails, inputs);
    let statuses: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        [
            "valid",
            "invalid",
            "invalid",
            "catch_all",
            "risky",
            "invalid",
            "valid"
        ]
    );
    for key in [
        "email",
        "normalized",
        "syntax_valid",
        "reason",
        "suggestion",
        "is_disposable",
        "is_role",
        "is_free",
        "mx_hosts",
        "provider",
        "smtp",
        "status",
        "score",
        "checked_at",
    ] {
        assert!(
            rows.iter().all(|r| r.get(key).is_some()),
            "field {key} missing"
        );
    }
    assert_eq!(rows[0]["smtp"]["code"], 250);
    assert_eq!(rows[0]["smtp"]["catch_all"], false);
    assert_eq!(rows[0]["mx_hosts"][0], "mx.acme.test");
    assert_eq!(rows[1]["reason"], "mailbox_not_found");
    assert_eq!(rows[2]["reason"], "consecutive_dots");
    assert_eq!(rows[2]["syntax_valid"], false);
    assert!(rows[2]["smtp"].is_null());
    assert_eq!(rows[3]["smtp"]["catch_all"], true);
    assert_eq!(rows[4]["is_role"], true);
    assert_eq!(rows[5]["reason"], "no_such_domain");
    assert_eq!(rows[6]["normalized"], "Jane@acme.test");
    assert!(rows[0]["checked_at"].as_str().unwrap().ends_with('Z'));
    let helo_seen = farm.servers[0].stats.rcpts();
    assert!(helo_seen.contains(&"jane@acme.test".to_owned()));
}

#[test]
fn syntax_only_touches_no_network_and_a_single_address_reads_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let dns = FakeDns::start();
    let file = dir.path().join("emails.txt");
    std::fs::write(&file, "jane@outlok.com\nbad@@x.com\ninfo@mailinator.com\n").unwrap();
    let out = leadgen(
        dir.path(),
        &[
            "verify",
            "--syntax-only",
            "--file",
            file.to_str().unwrap(),
            "--format",
            "jsonl",
            "--resolver",
            &dns.addr().to_string(),
        ],
    );
    let rows = lines(&out);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["suggestion"], "jane@outlook.com");
    assert_eq!(rows[0]["status"], "unknown");
    assert_eq!(rows[1]["reason"], "multiple_at");
    assert_eq!(
        (rows[2]["is_disposable"].clone(), rows[2]["is_role"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(rows[2]["status"], "risky");
    assert_eq!(dns.queries(), 0, "--syntax-only asks no DNS server");

    let out = leadgen(
        dir.path(),
        &["verify", "--syntax-only", "jane..doe@acme.com"],
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("jane..doe@acme.com: invalid (score 0)"),
        "{text}"
    );
    assert!(text.contains("consecutive_dots"), "{text}");
    assert!(text.contains("did you mean jane.doe@acme.com?"), "{text}");
}

#[test]
fn the_bench_reports_throughput_and_respects_the_host_cap() {
    let dir = tempfile::tempdir().unwrap();
    let out = leadgen(
        dir.path(),
        &[
            "verify",
            "bench",
            "--addresses",
            "300",
            "--domains",
            "10",
            "--latency-ms",
            "5",
            "--per-host-concurrency",
            "3",
            "--concurrency",
            "100",
            "--json",
        ],
    );
    let rows = lines(&out);
    let r = &rows[0];
    assert_eq!(r["addresses"], 300);
    assert_eq!(
        r["valid"].as_u64().unwrap() + r["invalid"].as_u64().unwrap(),
        300
    );
    assert_eq!(r["invalid"], 60, "every fifth user does not exist");
    assert!(r["max_connections_seen_by_a_server"].as_u64().unwrap() <= 3);
    assert!(r["addresses_per_s"].as_f64().unwrap() > 0.0);
}
