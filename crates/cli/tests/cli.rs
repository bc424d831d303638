//! The `leadgen` binary end to end, on the embedded store: what a user types.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn leadgen(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadgen"))
        .args(args)
        .env("LEADGEN_DATA_DIR", data)
        .env_remove("LEADGEN_DATABASE_URL")
        .env_remove("LEADGEN_CONFIG")
        .output()
        .expect("run leadgen")
}

fn ok(data: &Path, args: &[&str]) -> String {
    let out = leadgen(data, args);
    assert!(
        out.status.success(),
        "leadgen {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn sample(dir: &Path, rows: u64, seed: u64) -> PathBuf {
    let path = dir.join(format!("sample-{rows}-{seed}.csv"));
    ok(
        dir,
        &[
            "gen-sample",
            "--rows",
            &rows.to_string(),
            "--dup-rate",
            "0.15",
            "--seed",
            &seed.to_string(),
            "-o",
            path.to_str().unwrap(),
        ],
    );
    path
}

#[test]
fn reimporting_the_same_file_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = sample(dir.path(), 3000, 7);
    let first = json(&ok(&data, &["import", file.to_str().unwrap(), "--json"]));
    assert_eq!(first["rows_read"], 3000);
    let inserted = first["inserted"].as_u64().unwrap();
    let merged = first["merged"].as_u64().unwrap();
    let rejected = first["rejected"].as_u64().unwrap();
    assert_eq!(inserted + merged + rejected, 3000);
    assert!(merged > 300, "planted duplicates should merge: {first}");
    let stats_before = ok(&data, &["stats", "--json"]);

    let again = json(&ok(&data, &["import", file.to_str().unwrap(), "--json"]));
    assert_eq!(again["inserted"], 0, "{again}");
    assert_eq!(again["rows_read"], 3000);
    let stats_after = ok(&data, &["stats", "--json"]);
    assert_eq!(stats_before, stats_after);
    assert_eq!(json(&stats_after)["leads"].as_u64().unwrap(), inserted);
}

#[test]
fn rejected_rows_land_in_a_rejects_file_with_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.csv");
    std::fs::write(
        &file,
        "Email,First Name,Last Name,Company Domain\n\
         jane@acme.com,Jane,Doe,acme.com\n\
         not-an-email,,,\n\
         ,John,Roe,\n\
         ,Ann,Lee,initech.io\n",
    )
    .unwrap();
    let summary = json(&ok(
        &dir.path().join("data"),
        &["import", file.to_str().unwrap(), "--json"],
    ));
    assert_eq!(summary["inserted"], 2, "{summary}");
    assert_eq!(summary["rejected"], 2, "{summary}");
    let rejects = PathBuf::from(summary["rejects_file"].as_str().expect("a rejects file"));
    let text = std::fs::read_to_string(&rejects).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "header plus two rejects:\n{text}");
    assert!(
        lines[1].starts_with("3,") && lines[1].contains("no usable identity"),
        "{text}"
    );
    assert!(lines[1].contains("not-an-email"), "{text}");
    assert!(lines[2].starts_with("4,"), "{text}");
}

#[test]
fn explicit_mapping_tags_and_source_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("apollo.csv");
    std::fs::write(
        &file,
        "Work Email,Name,Job,Org\n\"Jane.Doe@ACME.com \",Jane Doe,VP Sales,Acme Inc\n",
    )
    .unwrap();
    let out = json(&ok(
        &data,
        &[
            "import",
            file.to_str().unwrap(),
            "--map",
            "email=Work Email",
            "--map",
            "full_name=Name",
            "--map",
            "title=Job",
            "--tag",
            "q4",
            "--source",
            "apollo",
            "--json",
        ],
    ));
    assert_eq!(out["inserted"], 1, "{out}");
    let exported = ok(
        &data,
        &[
            "export", "--format", "jsonl", "--tag", "q4", "--source", "apollo",
        ],
    );
    let lead = json(exported.lines().next().expect("one lead"));
    assert_eq!(lead["email"], "Jane.Doe@acme.com");
    assert_eq!(lead["first_name"], "Jane");
    assert_eq!(lead["last_name"], "Doe");
    assert_eq!(lead["title"], "VP Sales");
    assert_eq!(lead["source"], "apollo");
    assert_eq!(lead["tags"], serde_json::json!(["q4"]));
    assert_eq!(lead["custom_fields"]["Org"], "Acme Inc");
}

#[test]
fn export_filters_and_escapes_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("f.csv");
    std::fs::write(
        &file,
        "Email,First Name,Last Name,Title,Phone\n\
         a@acme.com,=cmd|' /C calc'!A0,Doe,CEO,(415) 555-0100\n\
         b@acme.com,Bob,Roe,intern,\n",
    )
    .unwrap();
    ok(&data, &["import", file.to_str().unwrap()]);
    let csv_out = ok(&data, &["export", "--format", "csv"]);
    let header = csv_out.lines().next().unwrap();
    for col in [
        "id",
        "email",
        "first_name",
        "last_name",
        "title",
        "phone",
        "linkedin_url",
        "company_name",
        "company_domain",
        "country",
        "source",
        "status",
        "score",
        "tier",
        "tags",
        "custom_fields",
        "created_at",
        "updated_at",
    ] {
        assert!(
            header.split(',').any(|h| h == col),
            "missing column {col} in {header}"
        );
    }
    assert!(
        csv_out.to_lowercase().contains("'=cmd"),
        "formula not escaped:\n{csv_out}"
    );
    assert!(
        csv_out.contains("'+14155550100"),
        "phone not E.164:\n{csv_out}"
    );

    let all = ok(&data, &["export", "--format", "jsonl"]);
    assert_eq!(all.lines().count(), 2);
    let scores: Vec<u64> = all
        .lines()
        .map(|l| json(l)["score"].as_u64().unwrap())
        .collect();
    let min = scores.iter().max().unwrap().to_string();
    let top = ok(&data, &["export", "--format", "jsonl", "--min-score", &min]);
    assert_eq!(top.lines().count(), 1, "only the CEO scores {min}:\n{all}");
    assert_eq!(json(top.lines().next().unwrap())["title"], "CEO");
}

#[test]
fn leads_show_names_the_source_of_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    std::fs::write(&a, "Email,First Name,Title\njane@acme.com,Jane,Engineer\n").unwrap();
    std::fs::write(&b, "Email,Last Name,Title\nJANE@acme.com,Doe,CTO\n").unwrap();
    ok(&data, &["import", a.to_str().unwrap()]);
    let second = json(&ok(&data, &["import", b.to_str().unwrap(), "--json"]));
    assert_eq!(second["merged"], 1, "{second}");
    let shown = json(&ok(&data, &["leads", "show", "1", "--json"]));
    assert_eq!(shown["title"], "CTO", "newer value wins: {shown}");
    assert_eq!(shown["last_name"], "Doe");
    assert_eq!(shown["first_name"], "Jane");
    let records = shown["source_records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "both rows linked: {shown}");
    assert_eq!(records[0]["batch_name"], "a.csv");
    assert_eq!(records[1]["cells"][2], "CTO");
    let fields = shown["provenance"]["fields"].as_array().unwrap();
    assert!(
        fields.iter().any(|f| f[0] == "title"),
        "title came from b.csv: {shown}"
    );
}

#[test]
fn listing_pages_through_every_lead_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = sample(dir.path(), 500, 3);
    let total = json(&ok(&data, &["import", file.to_str().unwrap(), "--json"]))["inserted"]
        .as_u64()
        .unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec![
            "leads", "list", "--sort", "score", "--limit", "37", "--json",
        ];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let out = leadgen(&data, &args);
        assert!(out.status.success());
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            assert!(
                seen.insert(json(line)["id"].as_u64().unwrap()),
                "lead listed twice"
            );
        }
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        match err.split("--cursor ").nth(1) {
            Some(c) => cursor = Some(c.trim().to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len() as u64, total);
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let missing = leadgen(&data, &["import", "/nonexistent/leads.csv"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/leads.csv"));

    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let out = leadgen(&data, &["import", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty.csv"));

    let bad_map = leadgen(
        &data,
        &["import", empty.to_str().unwrap(), "--map", "emial=Email"],
    );
    assert!(String::from_utf8_lossy(&bad_map.stderr).contains("unknown field 'emial'"));

    let bad_status = leadgen(&data, &["export", "--status", "rawr"]);
    assert!(String::from_utf8_lossy(&bad_status.stderr).contains("--status 'rawr'"));
}

#[test]
fn an_import_killed_midway_can_be_rerun_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = sample(dir.path(), 60_000, 11);
    let killed = dir.path().join("killed");
    let clean = dir.path().join("clean");
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadgen"))
        .args(["import", file.to_str().unwrap(), "--json"])
        .env("LEADGEN_DATA_DIR", &killed)
        .env_remove("LEADGEN_DATABASE_URL")
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    // SIGKILL: no chance to clean up.
    let _ = child.kill();
    let _ = child.wait();
    ok(&killed, &["import", file.to_str().unwrap(), "--json"]);
    ok(&clean, &["import", file.to_str().unwrap(), "--json"]);
    let strip = |s: String| -> Vec<Value> {
        s.lines()
            .map(|l| {
                let mut v = json(l);
                let o = v.as_object_mut().unwrap();
                o.remove("created_at");
                o.remove("updated_at");
                v
            })
            .collect()
    };
    let a = strip(ok(&killed, &["export", "--format", "jsonl"]));
    let b = strip(ok(&clean, &["export", "--format", "jsonl"]));
    assert_eq!(a.len(), b.len());
    assert!(a == b, "exports differ after an interrupted import");
}

#[test]
fn leads_verify_enqueues_one_job_per_matching_lead_with_an_email() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("v.csv");
    std::fs::write(
        &file,
        "Email,First Name,Last Name,Company Domain,LinkedIn URL\n\
         ann@acme.com,Ann,Archer,acme.com,\n\
         bo@acme.com,Bo,Baker,acme.com,\n\
         cy@beta.io,Cy,Cole,beta.io,\n\
         ,Di,Dunn,acme.com,https://www.linkedin.com/in/di-dunn\n",
    )
    .unwrap();
    ok(&data, &["import", file.to_str().unwrap()]);
    let out = json(&ok(
        &data,
        &[
            "leads",
            "verify",
            "--company-domain",
            "www.acme.com",
            "--json",
        ],
    ));
    assert_eq!(out["enqueued"], 2, "{out}");
    assert_eq!(out["skipped"], 1, "Di has no email: {out}");
    let run = out["run_id"].as_i64().unwrap();
    let jobs = ok(
        &data,
        &["jobs", "list", "--run", &run.to_string(), "--json"],
    );
    assert_eq!(jobs.matches("validate_email").count(), 2, "{jobs}");
    let none = json(&ok(
        &data,
        &["leads", "verify", "--status", "validated", "--json"],
    ));
    assert_eq!(none["enqueued"], 0);
    assert_eq!(none["run_id"], Value::Null);
    let bad = leadgen(
        &data,
        &["leads", "verify", "--company-domain", "not a domain"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--company-domain"));
}

/// `leadgen leads list | head -1`: when the reader goes away the command
/// ends quietly (SIGPIPE, as Unix tools do), not with a panic message.
#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = sample(dir.path(), 3000, 11);
    ok(&data, &["import", file.to_str().unwrap(), "--json"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadgen"))
        .args(["leads", "list", "--limit", "2500"])
        .env("LEADGEN_DATA_DIR", &data)
        .env_remove("LEADGEN_DATABASE_URL")
        .env_remove("LEADGEN_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run leadgen");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty(), "the listing printed something");
    // The reader is dropped here: the rest of the listing has nowhere to go.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(13), // SIGPIPE
        "ended by SIGPIPE: {:?} {stderr}",
        out.status
    );
}
