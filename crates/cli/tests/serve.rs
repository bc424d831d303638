//! `leadgen serve` as a process: first-run admin and key from the CLI, the
//! API answering with the key, and SIGTERM ending it cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn leadgen(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leadgen"));
    c.env("LEADGEN_DATA_DIR", dir)
        .env_remove("LEADGEN_DATABASE_URL")
        .env_remove("LEADGEN_CONFIG")
        .current_dir(dir);
    c
}

/// A bare HTTP/1.0 GET; returns the status code and body.
fn get(addr: &str, path: &str, key: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n{auth}\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[test]
fn serve_answers_with_a_cli_issued_key_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut create = leadgen(dir.path())
        .args([
            "users",
            "create",
            "--email",
            "admin@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let out = create.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "a given password is not echoed");

    let out = leadgen(dir.path())
        .args([
            "api-keys", "create", "--name", "zapier", "--role", "member", "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let issued: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = issued["key"].as_str().unwrap().to_owned();
    assert_eq!(issued["id"], 1);

    let mut server = leadgen(dir.path())
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--grace-secs",
            "5",
        ])
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
    assert_eq!(get(&addr, "/healthz", None).0, 200);
    assert_eq!(get(&addr, "/api/v1/stats", None).0, 401);
    let (status, body) = get(&addr, "/api/v1/stats", Some(&key));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"leads\":0"), "{body}");

    let out = leadgen(dir.path())
        .args(["api-keys", "revoke", "1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        get(&addr, "/api/v1/stats", Some(&key)).0,
        401,
        "revoked from the CLI"
    );

    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let started = Instant::now();
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "serve did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("worker stopped")),
        "the in-process worker stopped too: {rest:?}"
    );
}

/// Starts `serve` on a free port; returns the process, the lines it printed
/// before its address, and the address.
fn start_serve(dir: &std::path::Path) -> (std::process::Child, Vec<String>, String) {
    let mut server = leadgen(dir)
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let mut before = Vec::new();
    let addr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        before.push(line);
    };
    (server, before, addr)
}

/// Posts the login form; returns the status.
fn login(addr: &str, email: &str, password: &str) -> u16 {
    let body = format!("email={}&password={password}", email.replace('@', "%40"));
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /login HTTP/1.0\r\nHost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out[9..12].parse().unwrap()
}

#[test]
fn the_first_serve_creates_an_admin_and_shows_its_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, printed, addr) = start_serve(dir.path());
    let line = printed
        .iter()
        .find(|l| l.starts_with("first run:"))
        .unwrap_or_else(|| panic!("no first-run line in {printed:?}"));
    let password = line
        .split("with password ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert_eq!(login(&addr, "admin@leadgen.local", &password), 303);
    assert_eq!(login(&addr, "admin@leadgen.local", "wrong-password"), 401);
    server.kill().unwrap();
    server.wait().unwrap();

    let (mut again, printed, addr) = start_serve(dir.path());
    assert!(
        printed.iter().all(|l| !l.contains("password")),
        "the password is shown once: {printed:?}"
    );
    assert_eq!(login(&addr, "admin@leadgen.local", &password), 303);
    again.kill().unwrap();
    again.wait().unwrap();
}
