//! Who is asking: an API key (`Authorization: Bearer`) or a dashboard
//! session (cookie), resolved once per request into a [`Principal`] that
//! carries the workspace every store call is scoped to.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use leadgen_core::WorkspaceId;
use leadgen_store::Role;

use crate::credentials::{hash_token, same_secret};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, now_ms};

pub const SESSION_COOKIE: &str = "leadgen_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FIELD: &str = "csrf_token";
/// Form bodies read to find their CSRF field; forms are small.
const FORM_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct Principal {
    pub workspace: WorkspaceId,
    pub role: Role,
    pub via: Via,
}

#[derive(Debug, Clone)]
pub enum Via {
    ApiKey {
        id: i64,
    },
    Session {
        user_id: i64,
        email: String,
        csrf_token: String,
        token_hash: String,
    },
}

impl Principal {
    /// 403 unless the caller's role is at least `role`.
    pub fn require(&self, role: Role) -> ApiResult<()> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {} role; yours is {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }

    pub fn csrf_token(&self) -> &str {
        match &self.via {
            Via::Session { csrf_token, .. } => csrf_token,
            Via::ApiKey { .. } => "",
        }
    }

    pub fn label(&self) -> String {
        match &self.via {
            Via::Session { email, .. } => email.clone(),
            Via::ApiKey { id } => format!("API key {id}"),
        }
    }
}

/// The session token from the `Cookie` header, if any.
pub fn session_cookie(req_headers: &axum::http::HeaderMap) -> Option<String> {
    req_headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Middleware for the API and the dashboard: resolves the caller, refuses
/// anonymous requests (401 for the API, a redirect to the login page for
/// dashboard pages), applies per-key rate limits and checks CSRF tokens on
/// state-changing requests made with a session.
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // A browser asking for a page is sent to the login form; anything else
    // (scripts, API clients, scrapers) gets the 401 error.
    let is_page = req.method() == Method::GET
        && !req.uri().path().starts_with("/api/")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
    match resolve(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(e) if is_page && e.code == "unauthorized" => Redirect::to("/login").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn resolve(state: &AppState, mut req: Request) -> ApiResult<Request> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let principal = if let Some(value) = bearer {
        let Some(key) = value.strip_prefix("Bearer ").map(str::trim) else {
            return Err(ApiError::unauthorized());
        };
        let key_hash = hash_token(key);
        let found = state
            .blocking(move |s| Ok(s.api_key_by_hash(&key_hash)?))
            .await?;
        let Some(k) = found.filter(|k| k.revoked_at.is_none()) else {
            return Err(ApiError::unauthorized());
        };
        if k.role == Role::Capture {
            // Published in web pages: good for capture and nothing else.
            return Err(ApiError::forbidden(
                "a capture key only posts leads to /api/v1/capture",
            ));
        }
        state
            .inner
            .limiter
            .take(k.id)
            .map_err(ApiError::rate_limited)?;
        let id = k.id;
        if state.inner.limiter.should_touch(id) {
            // Recording the use must not slow the request down.
            let touch = state.clone();
            tokio::spawn(async move {
                let _ = touch
                    .blocking(move |s| Ok(s.touch_api_key(id, now_ms())?))
                    .await;
            });
        }
        Principal {
            workspace: k.workspace,
            role: k.role,
            via: Via::ApiKey { id: k.id },
        }
    } else if let Some(token) = session_cookie(req.headers()) {
        let token_hash = hash_token(&token);
        let th = token_hash.clone();
        let found = state
            .blocking(move |s| Ok(s.session(&th, now_ms())?))
            .await?;
        let Some(su) = found else {
            return Err(ApiError::unauthorized());
        };
        let principal = Principal {
            workspace: su.user.workspace,
            role: su.user.role,
            via: Via::Session {
                user_id: su.user.id,
                email: su.user.email,
                csrf_token: su.csrf_token,
                token_hash,
            },
        };
        if !is_safe(req.method()) {
            req = check_csrf(req, principal.csrf_token()).await?;
        }
        principal
    } else {
        return Err(ApiError::unauthorized());
    };
    req.extensions_mut().insert(principal);
    Ok(req)
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn csrf_refused() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "csrf",
        "missing or wrong CSRF token: reload the page and submit again",
    )
}

/// The token comes in the `X-CSRF-Token` header (scripts) or the
/// `csrf_token` field of a url-encoded form (plain forms).
async fn check_csrf(req: Request, expected: &str) -> ApiResult<Request> {
    if let Some(h) = req.headers().get(CSRF_HEADER) {
        return if same_secret(h.to_str().unwrap_or(""), expected) {
            Ok(req)
        } else {
            Err(csrf_refused())
        };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(csrf_refused());
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| ApiError::bad_request("form too large"))?;
    let sent = form_urlencoded_value(&bytes, CSRF_FIELD).unwrap_or_default();
    if !same_secret(&sent, expected) {
        return Err(csrf_refused());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// One field of an `application/x-www-form-urlencoded` body.
fn form_urlencoded_value(body: &[u8], name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}
