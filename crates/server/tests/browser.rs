//! The dashboard in real headless Chromium, driven over WebDriver
//! (chromedriver) with plain JSON requests: log in, upload a CSV and see its
//! columns mapped, import it and watch the result, filter the leads table,
//! open a lead. Screenshots go to `target/browser-artifacts/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test
//! says so and passes, except on CI (`CI` set), where it fails.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{App, Backend, test_opts, with_app_opts};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-artifacts");
    std::fs::create_dir_all(&dir).expect("creating target/browser-artifacts");
    dir
}

fn browser_available() -> bool {
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !present {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
        assert!(
            !ci,
            "CI: {CHROMIUM} and {CHROMEDRIVER} are required (apt-get install chromium chromium-driver)"
        );
        eprintln!("SKIPPED browser test: install chromium and chromium-driver to run it");
    }
    present
}

/// A chromedriver process on a free port. On drop (a failed assertion
/// included) it ends the browser session, so no Chromium outlives the test,
/// then stops.
struct Driver {
    child: Child,
    port: u16,
    session: std::sync::Mutex<Option<String>>,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let session = self.session.lock().map(|s| s.clone()).unwrap_or(None);
        if let Some(id) = session
            && let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", self.port))
        {
            use std::io::{Read, Write};
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                conn,
                "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            );
            let _ = conn.read(&mut [0u8; 1024]);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    Driver {
        child,
        port,
        session: std::sync::Mutex::new(None),
        _profile: tempfile::tempdir().unwrap(),
    }
}

/// One browser session.
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    async fn open(driver: &Driver) -> Browser {
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{}", driver.port);
        let deadline = Instant::now() + Duration::from_secs(20);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", driver._profile.path().display()),
                ],
            },
        }}});
        loop {
            if let Ok(r) = http
                .post(format!("{root}/session"))
                .json(&caps)
                .send()
                .await
            {
                let v: Value = r.json().await.unwrap();
                let id = v["value"]["sessionId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no session: {v}"));
                *driver.session.lock().unwrap() = Some(id.to_owned());
                return Browser {
                    http,
                    base: format!("{root}/session/{id}"),
                };
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        let v: Value = r.json().await.unwrap();
        if v["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            json!({}),
        )
        .await;
    }

    async fn script(&self, js: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": js, "args": []}),
        )
        .await
    }

    /// Polls `js` (an expression) until it is truthy.
    async fn wait_for(&self, js: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.script(&format!("return !!({js});")).await;
            if v == json!(true) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{el}/text"),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    async fn screenshot(&self, name: &str) {
        let png = self
            .cmd(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(artifacts().join(name), bytes).unwrap();
    }

    async fn close(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

fn sample_csv(rows: usize) -> String {
    let mut s = String::from("Email,First Name,Last Name,Company,Job Title,Team\n");
    for i in 0..rows {
        s.push_str(&format!(
            "person{i}@firm{i}.example,Pat{i},Lee,Firm {i} Inc,Head of Sales,Sales\n"
        ));
    }
    s.push_str("Zoe@Zebra.example,Zoe,Zimmer,Zebra Labs,CTO,Engineering\n");
    s.push_str("broken-row,,,,,\n");
    s
}

async fn walk_through(app: App) {
    let driver = start_driver();
    let b = Browser::open(&driver).await;

    // Log in.
    b.goto(&app.url("/login")).await;
    b.type_into("#email", common::ADMIN_EMAIL).await;
    b.type_into("#password", common::PASSWORD).await;
    b.screenshot("01-login.png").await;
    b.click("button[type=submit]").await;
    b.wait_for(
        "document.querySelector('h1') && document.querySelector('h1').textContent === 'Overview'",
        "the home page",
    )
    .await;
    b.screenshot("02-home.png").await;

    // Upload: the mapping preview shows the recognised columns.
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("prospects.csv");
    std::fs::write(&csv_path, sample_csv(300)).unwrap();
    b.goto(&app.url("/upload")).await;
    b.type_into("#file", &csv_path.display().to_string()).await;
    b.wait_for(
        "!document.getElementById('preview').hidden",
        "the mapping preview",
    )
    .await;
    let mapping = b
        .script(
            "return Array.from(document.querySelectorAll('#mapping select'))\
             .map(s => s.dataset.header + '=' + s.value).join(',');",
        )
        .await;
    assert_eq!(
        mapping,
        json!(
            "Email=email,First Name=first_name,Last Name=last_name,Company=company_name,Job Title=title,Team="
        )
    );
    // Map the column the suggestions left out by hand.
    let team = b.find("#mapping select[data-header=Team]").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{team}/value"),
        json!({ "text": "department" }),
    )
    .await;
    let chosen = b
        .script("return document.querySelector('#mapping select[data-header=Team]').value;")
        .await;
    assert_eq!(chosen, json!("department"));
    b.screenshot("03-upload-mapping.png").await;

    // Import; the progress bar completes and the result shows the counts.
    b.click("#import").await;
    b.wait_for(
        "!document.getElementById('result').hidden",
        "the import result",
    )
    .await;
    assert_eq!(b.text("[data-result=new_leads]").await, "301");
    assert_eq!(b.text("[data-result=rejected]").await, "1");
    let pct = b
        .script("return document.querySelector('[data-progress=import]').getAttribute('aria-valuenow');")
        .await;
    assert_eq!(pct, json!("100"));
    b.script("document.getElementById('result').scrollIntoView(); return 1;")
        .await;
    b.screenshot("04-import-result.png").await;

    // Filter the leads table.
    b.goto(&app.url("/leads")).await;
    b.type_into("input[name=q]", "zebra").await;
    b.click("form.filters button[type=submit]").await;
    b.wait_for("location.search.includes('q=zebra')", "the filtered page")
        .await;
    let rows = b
        .script("return document.querySelectorAll('table.leads tbody tr').length;")
        .await;
    assert_eq!(rows, json!(1));
    b.screenshot("05-leads-filtered.png").await;

    // Open the lead.
    b.click("table.leads tbody tr a").await;
    b.wait_for("location.pathname.startsWith('/leads/')", "the lead page")
        .await;
    assert_eq!(b.text("h1").await, "Zoe Zimmer");
    let fields = b.text("table.fields").await;
    assert!(fields.contains("Zoe@zebra.example"), "{fields}");
    assert!(
        fields.contains("prospects.csv line"),
        "field sources: {fields}"
    );
    assert!(
        fields.contains("department Engineering"),
        "the hand-mapped column: {fields}"
    );
    b.screenshot("06-lead-detail.png").await;

    // Leaving a page closes its live-counter stream; the page shown again
    // from the back-forward cache opens a new one.
    let states = "return (window.leadgenStreams || []).map(s => s.readyState);";
    b.goto(&app.url("/leads")).await;
    assert_eq!(b.script(states).await.as_array().map(Vec::len), Some(1));
    b.script("window.leadgenKept = true; return 1;").await;
    b.goto(&app.url("/settings")).await;
    b.cmd(reqwest::Method::POST, "/back", json!({})).await;
    b.wait_for("location.pathname === '/leads'", "the leads page again")
        .await;
    assert_eq!(
        b.script("return window.leadgenKept === true;").await,
        json!(true),
        "the leads page came back from the back-forward cache"
    );
    // EventSource states: 0 connecting, 1 open, 2 closed.
    b.wait_for(
        "window.leadgenStreams.length === 2 && window.leadgenStreams[1].readyState === 1",
        "a new stream",
    )
    .await;
    assert_eq!(b.script(states).await, json!([2, 1]));

    // Save a service's key on the settings page: it comes back masked.
    b.goto(&app.url("/settings")).await;
    b.click("#service-hunter details summary").await;
    b.type_into(
        "#service-hunter input[name=api_key]",
        "hk_browser_secret_7777",
    )
    .await;
    b.type_into("#service-hunter input[name=daily_budget_usd]", "5")
        .await;
    b.click("#service-hunter form.stack button[type=submit]")
        .await;
    b.wait_for(
        "document.body.innerText.includes('ends in …7777')",
        "the saved key, masked",
    )
    .await;
    assert!(!b.text("main").await.contains("hk_browser_secret"));
    b.screenshot("08-settings-saved.png").await;

    // The same table on a phone-sized window.
    b.cmd(
        reqwest::Method::POST,
        "/window/rect",
        json!({"width": 390, "height": 844}),
    )
    .await;
    b.goto(&app.url("/leads")).await;
    b.screenshot("07-leads-phone.png").await;
    b.goto(&app.url("/settings")).await;
    b.screenshot("09-settings-phone.png").await;
    b.close().await;
}

#[test]
fn dashboard_login_upload_import_filter_and_open_a_lead() {
    if !browser_available() {
        return;
    }
    with_app_opts(Backend::Sqlite, test_opts(), walk_through);
}
