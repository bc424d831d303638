//! Starts the whole app on 127.0.0.1:0 over a fresh store (SQLite in a
//! temporary directory, or a fresh database of the throw-away PostgreSQL
//! cluster), with keys and a user in two workspaces.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use leadgen_app::config::Config;
use leadgen_core::job::NewJob;
use leadgen_server::credentials::{create_user, issue_api_key};
use leadgen_server::{AppState, ServerOptions};
use leadgen_store::{Role, Store};

pub const A: i64 = 1;
pub const B: i64 = 2;
pub const ADMIN_EMAIL: &str = "admin@a.example";
pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct App {
    pub base: String,
    pub http: reqwest::Client,
    /// Keys of workspace A by role, and B's admin key.
    pub a_admin: String,
    pub a_member: String,
    pub a_viewer: String,
    pub b_admin: String,
    pub a_member_key_id: i64,
    /// A run of A with one pending job, and that job.
    pub a_run: i64,
    pub a_job: i64,
    pub store: Arc<dyn Store>,
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(key)
    }

    pub fn post(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(key)
    }

    /// Runs a store call off the async threads (the PostgreSQL client is
    /// blocking).
    pub async fn store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> T + Send + 'static,
    ) -> T {
        let s = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*s)).await.unwrap()
    }

    /// Imports `csv` into the workspace of `key`; returns the summary.
    pub async fn import(&self, key: &str, csv: &str) -> serde_json::Value {
        let r = self
            .post("/api/v1/imports?name=t.csv", key)
            .header("content-type", "text/csv")
            .body(csv.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "import failed: {}",
            r.text().await.unwrap()
        );
        r.json().await.unwrap()
    }

    /// The text of a page fetched with a session cookie.
    pub async fn page(&self, url: impl reqwest::IntoUrl, cookie: &str) -> String {
        self.http
            .get(url)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Posts the admin's credentials to the login form.
    pub async fn post_login(&self) -> reqwest::Response {
        self.post_login_as(ADMIN_EMAIL).await
    }

    pub async fn post_login_as(&self, email: &str) -> reqwest::Response {
        self.http
            .post(self.url("/login"))
            .form(&[("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap()
    }

    /// Logs in through the form; returns the session cookie pair and the
    /// CSRF token read from the page.
    pub async fn login(&self) -> (String, String) {
        self.login_as(ADMIN_EMAIL).await
    }

    /// `login` as another user (with the same password).
    pub async fn login_as(&self, email: &str) -> (String, String) {
        let r = self.post_login_as(email).await;
        assert_eq!(r.status(), 303, "login as {email}");
        let cookie = r
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let page = self.page(self.url("/"), &cookie).await;
        let csrf = page
            .split("name=\"csrf-token\" content=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the page carries a CSRF token")
            .to_owned();
        (cookie, csrf)
    }
}

fn config() -> Config {
    Config::load(None, &HashMap::new()).expect("default config")
}

/// Opens a store for `backend`; `None` when PostgreSQL is not installed
/// (the testkit prints why, and fails instead on CI).
pub fn open_store(backend: Backend) -> Option<(Arc<dyn Store>, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            // With readers, as `leadgen serve` opens it.
            let (dir, s) = leadgen_store::testing::sqlite_store_with_readers(2);
            Some((Arc::new(s), Some(dir)))
        }
        Backend::Postgres => {
            let s = leadgen_store::testing::pg_store()?;
            Some((Arc::new(s), None))
        }
    }
}

/// Starts the app with `opts` and runs `test` against it. The runtime and
/// then the store are dropped outside async code.
pub fn with_app_opts<F, Fut>(backend: Backend, opts: ServerOptions, test: F)
where
    F: FnOnce(App) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((store, _dir)) = open_store(backend) else {
        return;
    };
    let now = leadgen_server::now_ms();
    let key = |ws, role| issue_api_key(&*store, ws, "test", role, now).unwrap();
    let a_admin = key(A, Role::Admin).key;
    let a_member = key(A, Role::Member);
    let a_viewer = key(A, Role::Viewer).key;
    let b_admin = key(B, Role::Admin).key;
    create_user(&*store, A, ADMIN_EMAIL, PASSWORD, Role::Admin, now).unwrap();
    let a_run = store.create_run(A, "import", "seeded run", now).unwrap();
    let mut job = NewJob::new(A, "noop", "{}");
    job.run = Some(a_run);
    let a_job = store.enqueue(&[job], now).unwrap()[0].unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(store.clone(), config(), opts);
        tokio::spawn(async move {
            // With the peer address, as `leadgen serve` runs it.
            let app = leadgen_server::router(state)
                .into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app).await.unwrap();
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        test(App {
            base,
            http,
            a_admin,
            a_member: a_member.key,
            a_viewer,
            b_admin,
            a_member_key_id: a_member.id,
            a_run,
            a_job,
            store: store.clone(),
        })
        .await;
    });
    drop(rt);
    drop(store);
}

pub fn test_opts() -> ServerOptions {
    ServerOptions {
        secure_cookies: false,
        key_rate_per_s: 1000.0,
        key_burst: 1000.0,
        // Stored keys sealed with a fixed key, not a file in the data dir.
        secret_key: Some(leadgen_store::SecretBox::new([9; 32])),
        ..ServerOptions::default()
    }
}

/// The worker secret of [`worker_secret_opts`].
pub const WORKER_SECRET: &str = "a-long-worker-secret-for-tests";

/// [`test_opts`] with the remote-worker endpoints on.
pub fn worker_secret_opts() -> ServerOptions {
    ServerOptions {
        worker_secret: leadgen_server::WorkerSecret::new(WORKER_SECRET),
        ..test_opts()
    }
}

/// A remote worker's HTTP options for tests: short backoff, and a call
/// gives up after 5 s.
pub fn worker_http_opts() -> leadgen_jobs::remote::HttpOptions {
    leadgen_jobs::remote::HttpOptions {
        first_backoff: std::time::Duration::from_millis(50),
        max_backoff: std::time::Duration::from_millis(200),
        give_up_after: Some(std::time::Duration::from_secs(5)),
        ..leadgen_jobs::remote::HttpOptions::default()
    }
}

/// Runs a worker on `source` until the queue is idle; its report.
pub async fn drain(
    source: Arc<dyn leadgen_jobs::JobSource>,
    reg: leadgen_jobs::Registry,
    o: leadgen_jobs::WorkerOptions,
) -> leadgen_jobs::WorkerReport {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    leadgen_jobs::run_worker_on(
        source,
        Arc::new(reg),
        Arc::new(leadgen_jobs::SystemClock),
        o,
        rx,
    )
    .await
    .unwrap()
}

pub fn with_app<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(App) -> Fut,
    Fut: Future<Output = ()>,
{
    with_app_opts(backend, test_opts(), test)
}

/// Generates a SQLite and a PostgreSQL test for each named async fn
/// taking an `App`.
#[macro_export]
macro_rules! both_backends {
    ($($t:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $t() { $crate::common::with_app($crate::common::Backend::Sqlite, super::$t); } )*
        }
        mod postgres {
            $( #[test] fn $t() { $crate::common::with_app($crate::common::Backend::Postgres, super::$t); } )*
        }
    };
}

/// [`both_backends!`] with the server options `$opts()`.
#[macro_export]
macro_rules! both_backends_with {
    ($opts:path; $($t:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $t() { $crate::common::with_app_opts($crate::common::Backend::Sqlite, $opts(), super::$t); } )*
        }
        mod postgres {
            $( #[test] fn $t() { $crate::common::with_app_opts($crate::common::Backend::Postgres, $opts(), super::$t); } )*
        }
    };
}

/// Asserts the error shape and returns the code.
/// Sends a request that must succeed at the transport level and reads
/// its body as JSON (whatever the status; tests assert on the body).
pub trait JsonReply {
    fn json_value(self) -> impl Future<Output = serde_json::Value>;
}

impl JsonReply for reqwest::RequestBuilder {
    async fn json_value(self) -> serde_json::Value {
        self.send().await.unwrap().json().await.unwrap()
    }
}

pub async fn error_code(r: reqwest::Response) -> String {
    let v: serde_json::Value = r.json().await.expect("an error body in JSON");
    let e = &v["error"];
    assert!(e["code"].is_string(), "error.code in {v}");
    assert!(e["message"].is_string(), "error.message in {v}");
    assert!(e.get("details").is_some(), "error.details in {v}");
    e["code"].as_str().unwrap().to_owned()
}

pub const SAMPLE_CSV: &str = "email,first_name,last_name,company,title\n\
ann@acme.example,Ann,Archer,Acme,CEO\n\
bob@beta.example,Bob,Baker,Beta,CTO\n\
not-an-email,,,,\n";

/// Stores a company in `ws` (as a discovery sweep would) and returns its id.
pub async fn seed_company(
    app: &App,
    ws: i64,
    name: &str,
    domain: Option<&str>,
    state: &str,
) -> i64 {
    let mut c = leadgen_core::company::Company::new(leadgen_core::SourceRef {
        at: 1_750_000_000_000,
        record: leadgen_core::RecordId::new(1, 2),
    });
    c.name = leadgen_core::company::CompanyName::parse(name);
    c.domain = domain.map(|d| leadgen_core::domain::Domain::parse(d).unwrap());
    c.state = Some(state.to_owned());
    c.place_id = Some(format!("place-{name}"));
    app.store(move |s| s.upsert_companies(ws, &[c], 1_750_000_000_000).unwrap()[0].id)
        .await
}
