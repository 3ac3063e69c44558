//! `serve`'s HTTP endpoint: `/healthz` (JSON, per-source state; 503 while any
//! source is failing) and `/metrics` (Prometheus text format).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

use super::health::{Health, HealthStatus};
use crate::error::{Error, Result};

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    metrics: Option<PrometheusHandle>,
}

/// Installs the process-wide metrics recorder. Only the first call in a
/// process installs one (tests may start several servers).
fn recorder() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                None
            }
        })
        .clone()
}

/// Binds `listen` now (so a taken port fails `serve` at start, loudly) and
/// serves until `stop` turns true.
pub async fn start(
    listen: &str,
    health: Arc<Health>,
    mut stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>> {
    let metrics = recorder();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Invalid(format!("key http.listen: cannot listen on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("http listener", e))?;
    tracing::info!(address = %local, "health and metrics endpoint listening (/healthz, /metrics)");
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(prometheus))
        .with_state(AppState { health, metrics });
    Ok(tokio::spawn(async move {
        let shutdown = async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "http endpoint failed");
        }
    }))
}

async fn healthz(State(s): State<AppState>) -> Response {
    let snap = s.health.snapshot();
    let code = if snap.status == HealthStatus::Ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_string_pretty(&snap).unwrap_or_else(|_| "{}".into());
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn prometheus(State(s): State<AppState>) -> Response {
    let body = s.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
