//! `leadgen serve`: the REST API, the dashboard and the operations endpoints
//! over the same application services as the CLI.
//!
//! [`router`] builds the whole app from an [`AppState`], so tests start it on
//! a random port; [`serve`] runs it until a shutdown signal.

pub mod api;
pub mod auth;
pub mod campaigns_api;
pub mod capture;
pub mod credentials;
pub mod error;
mod imports;
mod metrics;
pub mod settings_api;
mod state;
mod ui;
mod ui_campaigns;
mod ui_settings;
pub mod webhooks;
pub mod workers;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::trace::TraceLayer;

pub use state::{AppState, ServerOptions, WorkerSecret, now_ms};

use crate::error::ApiError;

/// The whole application: API, dashboard, health and metrics.
pub fn router(state: AppState) -> Router {
    let (api, _doc) = api::api_router().split_for_parts();
    let protected = Router::new()
        .merge(api)
        .merge(ui::pages())
        .fallback(not_found);
    let protected = if state.opts().public_metrics {
        protected
    } else {
        protected.route("/metrics", get(metrics_text))
    };
    let protected = protected.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::authenticate,
    ));
    let (capture, _) = capture::router().split_for_parts();
    let mut open = Router::new()
        .merge(capture.route(
            "/api/v1/capture",
            axum::routing::options(capture::preflight),
        ))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(
            "/integrations/instantly/webhook",
            axum::routing::post(webhooks::instantly),
        )
        .route(
            "/integrations/intent/{vendor}/webhook",
            axum::routing::post(webhooks::intent),
        )
        .merge(ui::public_pages())
        .merge(workers::router(state.clone()));
    if state.opts().public_metrics {
        open = open.route("/metrics", get(metrics_text));
    }
    open.merge(protected)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(state.opts().max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the store answers.
async fn readyz(State(st): State<AppState>) -> Response {
    match st
        .blocking(|s| Ok(s.queue_stats(leadgen_core::DEFAULT_WORKSPACE, now_ms())?))
        .await
    {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable").into_response()
        }
    }
}

async fn metrics_text(State(st): State<AppState>) -> Response {
    let mut out = String::new();
    st.inner.metrics.render(&mut out);
    let gauges = st
        .blocking(|s| {
            let mut g = String::new();
            metrics::queue_gauges(s, now_ms(), &mut g)?;
            Ok(g)
        })
        .await;
    match gauges {
        Ok(g) => out.push_str(&g),
        Err(e) => return e.into_response(),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then lets
/// requests in flight finish (at most `grace`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let app = router(state);
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        r = &mut server => r,
        _ = async {
            let _ = rx.wait_for(|v| *v).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("requests still running after the shutdown grace period; stopping");
            Ok(())
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
