//! The hub's HTTP side, one module per concern: Aircall's webhooks in
//! ([`webhook`]); desktops out, each with its own token — the stream and
//! the pages of the events that concern the desktop's Aircall user
//! ([`stream`]), the write claims ([`claims`]), the JobAdder token broker
//! ([`broker`]); `GET /healthz` and `GET /metrics` ([`metrics`]). This
//! module holds the hub's state, its router and what the handlers share:
//! refusals and the desktop a token opens. A webhook is answered only
//! after its event is committed to the log, and fast: Aircall disables a
//! webhook that keeps failing.

mod broker;
mod claims;
mod metrics;
mod stream;
pub mod streams;
mod webhook;

pub use metrics::Counters;
pub use webhook::{previous_token_file, WebhookToken, MAX_WEBHOOK_BYTES, PREVIOUS_TOKEN_GRACE};

use crate::store::desktops::{Desktop, Desktops};
use crate::store::events::{EventLog, StoredEvent};
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use callcard_hub_contract::{paths, ErrorAnswer};
use std::sync::Arc;

#[derive(Clone)]
pub struct Hub {
    log: Arc<dyn EventLog>,
    desktops: Arc<Desktops>,
    token: WebhookToken,
    counters: Arc<Counters>,
    /// Each new event, for the desktops' streams (which read the log for
    /// anything they missed).
    fresh: tokio::sync::broadcast::Sender<StoredEvent>,
    /// Ends the desktops' streams (which never end by themselves) at shutdown.
    closing: tokio_util::sync::CancellationToken,
    /// The desktops' open streams (for their limits) and the revocations
    /// that end them.
    streams: Arc<streams::OpenStreams>,
    revocations: Arc<streams::Revocations>,
    /// The JobAdder partner app, when this hub brokers its tokens.
    jobadder: Option<crate::broker::JobAdderClient>,
    http: reqwest::Client,
    clock: fn() -> i64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Hub {
    pub fn new(log: Arc<dyn EventLog>, desktops: Arc<Desktops>, token: WebhookToken) -> Self {
        Self {
            log,
            desktops,
            token,
            counters: Arc::default(),
            fresh: tokio::sync::broadcast::channel(1024).0,
            closing: tokio_util::sync::CancellationToken::new(),
            streams: Arc::default(),
            revocations: Arc::default(),
            jobadder: None,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            clock: now_ms,
        }
    }

    /// Brokers JobAdder's token requests for the desktops with this client.
    pub fn with_jobadder(mut self, client: crate::broker::JobAdderClient) -> Self {
        self.jobadder = Some(client);
        self
    }

    /// Ends every desktop stream, so that a graceful shutdown can finish.
    pub fn close_streams(&self) {
        self.closing.cancel();
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route(paths::WEBHOOK, post(webhook::receive))
            .route(paths::EVENTS, get(stream::page_of_events))
            .route(paths::STREAM, get(stream::stream_events))
            .route(paths::JOBADDER_TOKEN, post(broker::jobadder_token))
            .route(paths::CLAIMS, post(claims::claim_write))
            .route(paths::CLAIMS_WRITTEN, post(claims::claim_written))
            .route(paths::HEALTHZ, get(metrics::healthz))
            .route(paths::METRICS, get(metrics::metrics))
            .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
            .with_state(self.clone())
    }
}

pub(super) fn answer(status: StatusCode, message: &str) -> Response {
    let body = ErrorAnswer {
        error: message.to_owned(),
    };
    (status, Json(body)).into_response()
}

/// The desktop a request's `Authorization: Bearer` token opens.
pub(super) async fn desktop_of(hub: &Hub, headers: &HeaderMap) -> Result<Desktop, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let desktops = hub.desktops.clone();
    match tokio::task::spawn_blocking(move || desktops.authenticate(&token)).await {
        Ok(Ok(Some(desktop))) => Ok(desktop),
        Ok(Ok(None)) => Err(answer(
            StatusCode::UNAUTHORIZED,
            "unknown or revoked desktop token",
        )),
        _ => Err(answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the hub cannot check tokens now",
        )),
    }
}
