//! Fixture websites on loopback (feature `testkit`).
//!
//! Each directory under a fixtures root is one site, served on its own
//! 127.0.0.1 port: `/` is `index.html`, `/x` is `x.html` or `x/index.html`,
//! `/robots.txt` is `robots.txt`. Files starting with `_` and `truth.json`
//! are not served. `_redirects.txt` holds `FROM STATUS TO` lines, where `TO`
//! may name another site as `{site:NAME}` and the site's own port as `{port}`; `_headers.txt` holds
//! `PATH HEADER: VALUE` lines. Every site also answers `/__slow` (after 3 s)
//! and `/__big` (4 MiB of HTML), for the limit tests.
//!
//! Sites are addressed by their directory name (`http://acme.com:PORT/`);
//! [`FixtureSites::resolver`] sends every name to 127.0.0.1.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::crawl::{CrawlOptions, Crawler};
use crate::net::{FetchOptions, StaticResolver};

/// The fixture sites shipped with this crate.
pub fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sites")
}

struct Site {
    name: String,
    dir: PathBuf,
    /// Every site's origin, for `{site:NAME}`.
    origins: Arc<BTreeMap<String, String>>,
}

/// Running fixture sites; stop when dropped.
pub struct FixtureSites {
    pub sites: BTreeMap<String, SocketAddr>,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl FixtureSites {
    /// Serves every site directory under `root`, in a thread of its own.
    pub fn spawn(root: &Path) -> std::io::Result<FixtureSites> {
        let mut names: Vec<String> = std::fs::read_dir(root)?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        let mut listeners = Vec::new();
        let mut sites = BTreeMap::new();
        for n in &names {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.set_nonblocking(true)?;
            sites.insert(n.clone(), l.local_addr()?);
            listeners.push((n.clone(), l));
        }
        let origins: Arc<BTreeMap<String, String>> = Arc::new(
            sites
                .iter()
                .map(|(n, a)| (n.clone(), format!("http://{n}:{}", a.port())))
                .collect(),
        );
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let root = root.to_path_buf();
        std::thread::Builder::new()
            .name("fixture-sites".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let mut tasks = Vec::new();
                    for (name, l) in listeners {
                        let Ok(listener) = tokio::net::TcpListener::from_std(l) else {
                            continue;
                        };
                        let site = Arc::new(Site {
                            dir: root.join(&name),
                            name: name.clone(),
                            origins: origins.clone(),
                        });
                        let app = Router::new().fallback(serve).with_state(site);
                        let mut stop = stop_rx.clone();
                        tasks.push(tokio::spawn(async move {
                            let _ = axum::serve(listener, app)
                                .with_graceful_shutdown(async move {
                                    let _ = stop.changed().await;
                                })
                                .await;
                        }));
                    }
                    for t in tasks {
                        let _ = t.await;
                    }
                });
            })?;
        Ok(FixtureSites {
            sites,
            _stop: stop_tx,
        })
    }

    /// The shipped fixture sites.
    pub fn spawn_bundled() -> std::io::Result<FixtureSites> {
        Self::spawn(&fixtures_root())
    }

    /// `http://NAME:PORT/`.
    pub fn url(&self, name: &str) -> Option<String> {
        self.sites
            .get(name)
            .map(|a| format!("http://{name}:{}/", a.port()))
    }

    /// `http://127.0.0.1:PORT/` (for callers that cannot resolve names).
    pub fn ip_url(&self, name: &str) -> Option<String> {
        self.sites.get(name).map(|a| format!("http://{a}/"))
    }

    /// Every host name to 127.0.0.1.
    pub fn resolver() -> StaticResolver {
        StaticResolver::new().everything_to(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
}

/// A crawler for fixture sites: loopback allowed, every name resolved to
/// 127.0.0.1, 5 s per request.
pub fn loopback_crawler() -> Crawler {
    Crawler::with_resolver(
        CrawlOptions {
            fetch: FetchOptions {
                allow_private_network: true,
                timeout: Duration::from_secs(5),
                ..FetchOptions::default()
            },
            ..CrawlOptions::default()
        },
        Arc::new(FixtureSites::resolver()),
    )
    .expect("building the fixture crawler")
}

async fn serve(State(site): State<Arc<Site>>, uri: Uri) -> Response {
    let path = uri.path();
    if path == "/__slow" {
        tokio::time::sleep(Duration::from_secs(3)).await;
        return html("<p>slow</p>".into());
    }
    if path == "/__big" {
        let mut body = String::from("<html><body><p>big@bigpage.test</p>");
        while body.len() < 4 << 20 {
            body.push_str("<p>lorem ipsum dolor sit amet, consectetur adipiscing elit</p>\n");
        }
        return html(body);
    }
    if let Ok(redirects) = std::fs::read_to_string(site.dir.join("_redirects.txt")) {
        for line in redirects.lines() {
            let mut parts = line.split_whitespace();
            if let (Some(from), Some(status), Some(to)) = (parts.next(), parts.next(), parts.next())
                && from == path
            {
                let mut to = to.to_owned();
                for (n, o) in site.origins.iter() {
                    to = to.replace(&format!("{{site:{n}}}"), o);
                }
                if let Some(port) = site
                    .origins
                    .get(&site.name)
                    .and_then(|o| o.rsplit(':').next())
                {
                    to = to.replace("{port}", port);
                }
                let status = status
                    .parse()
                    .ok()
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::FOUND);
                return (status, [("location", to)]).into_response();
            }
        }
    }
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|p| p == ".." || p.starts_with('_')) || rel == "truth.json" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let candidates = if rel.is_empty() {
        vec![site.dir.join("index.html")]
    } else if rel.ends_with(".txt") {
        vec![site.dir.join(rel)]
    } else {
        let r = rel.trim_end_matches('/');
        vec![
            site.dir.join(format!("{r}.html")),
            site.dir.join(r).join("index.html"),
        ]
    };
    for c in candidates {
        if let Ok(body) = std::fs::read_to_string(&c) {
            let status = if body.starts_with("<!-- status 500 -->") {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            };
            let ct = if rel.ends_with(".txt") {
                "text/plain"
            } else {
                "text/html; charset=utf-8"
            };
            let mut resp = (status, [("content-type", ct)], body).into_response();
            add_headers(&site.dir, path, &mut resp).await;
            return resp;
        }
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn html(body: String) -> Response {
    ([("content-type", "text/html; charset=utf-8")], body).into_response()
}

async fn add_headers(dir: &Path, path: &str, resp: &mut Response) {
    let Ok(text) = std::fs::read_to_string(dir.join("_headers.txt")) else {
        return;
    };
    for line in text.lines() {
        let Some((p, rest)) = line.split_once(' ') else {
            continue;
        };
        if p != path && p != "*" {
            continue;
        }
        if let Some((k, v)) = rest.split_once(':')
            && let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.trim().as_bytes()),
                HeaderValue::from_str(v.trim()),
            )
        {
            resp.headers_mut().append(k, v);
        }
    }
}
