//! The hub's HTTP side: Aircall's webhooks in (`POST /webhooks/aircall`),
//! `GET /healthz` and `GET /metrics` (Prometheus text). A webhook is
//! answered only after its event is committed to the log, and fast: Aircall
//! disables a webhook that keeps failing.

use crate::event_log::{Appended, EventLog, WebhookEvent};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Aircall's events are a few KiB; anything much larger is not one.
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

/// The webhook token Aircall sends in every event (kept from the webhook's
/// creation). Never printed.
#[derive(Clone)]
pub struct WebhookToken(String);

impl WebhookToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// Compares in constant time, so that timing tells nothing of the token.
    fn matches(&self, given: &str) -> bool {
        !self.0.is_empty() && bool::from(self.0.as_bytes().ct_eq(given.as_bytes()))
    }
}

impl std::fmt::Debug for WebhookToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookToken(…)")
    }
}

/// What the hub counts for `/metrics`.
#[derive(Default)]
pub struct Counters {
    pub events_in: AtomicU64,
    pub duplicates: AtomicU64,
    pub refused: AtomicU64,
}

#[derive(Clone)]
pub struct Hub {
    log: Arc<dyn EventLog>,
    token: WebhookToken,
    counters: Arc<Counters>,
    clock: fn() -> i64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Hub {
    pub fn new(log: Arc<dyn EventLog>, token: WebhookToken) -> Self {
        Self {
            log,
            token,
            counters: Arc::default(),
            clock: now_ms,
        }
    }

    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.log
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/webhooks/aircall", post(receive_webhook))
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
            .with_state(self.clone())
    }
}

#[derive(Deserialize)]
struct Envelope {
    resource: String,
    event: String,
    timestamp: i64,
    #[serde(default)]
    token: String,
    data: serde_json::Value,
}

fn answer(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn receive_webhook(State(hub): State<Hub>, body: Bytes) -> Response {
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(envelope) => envelope,
        Err(error) => {
            hub.counters.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, "a webhook that is not an Aircall event was refused");
            return answer(StatusCode::BAD_REQUEST, "not an Aircall webhook event");
        }
    };
    if !hub.token.matches(&envelope.token) {
        hub.counters.refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(event = %envelope.event, "a webhook with a wrong token was refused");
        return answer(StatusCode::UNAUTHORIZED, "wrong webhook token");
    }
    let event = WebhookEvent {
        resource: envelope.resource,
        event: envelope.event,
        timestamp: envelope.timestamp,
        data: envelope.data,
    };
    let log = hub.log.clone();
    let received_ms = (hub.clock)();
    // SQLite blocks: off the async workers, so that other deliveries go on.
    let appended = tokio::task::spawn_blocking(move || log.append(&event, received_ms)).await;
    match appended {
        Ok(Ok(Appended::New(seq))) => {
            hub.counters.events_in.fetch_add(1, Ordering::Relaxed);
            (StatusCode::OK, Json(json!({ "seq": seq, "duplicate": false }))).into_response()
        }
        Ok(Ok(Appended::Duplicate(seq))) => {
            hub.counters.duplicates.fetch_add(1, Ordering::Relaxed);
            (StatusCode::OK, Json(json!({ "seq": seq, "duplicate": true }))).into_response()
        }
        Ok(Err(error)) => {
            // Not committed: Aircall must deliver it again.
            tracing::error!(%error, "a webhook event could not be stored");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "the event could not be stored; deliver it again",
            )
        }
        Err(error) => {
            tracing::error!(%error, "the event log task failed");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "the event could not be stored; deliver it again",
            )
        }
    }
}

async fn healthz(State(hub): State<Hub>) -> Response {
    let log = hub.log.clone();
    match tokio::task::spawn_blocking(move || log.len()).await {
        Ok(Ok(_)) => (StatusCode::OK, "ok\n").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "the event log cannot be read\n").into_response(),
    }
}

async fn metrics(State(hub): State<Hub>) -> Response {
    let log = hub.log.clone();
    let stored = tokio::task::spawn_blocking(move || log.len())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0);
    let counters = &hub.counters;
    let body = format!(
        "# HELP callcard_hub_events_in_total Webhook events stored.\n\
         # TYPE callcard_hub_events_in_total counter\n\
         callcard_hub_events_in_total {}\n\
         # HELP callcard_hub_duplicate_events_total Webhook deliveries that repeated a stored event.\n\
         # TYPE callcard_hub_duplicate_events_total counter\n\
         callcard_hub_duplicate_events_total {}\n\
         # HELP callcard_hub_refused_webhooks_total Webhook deliveries refused (wrong token, not an event).\n\
         # TYPE callcard_hub_refused_webhooks_total counter\n\
         callcard_hub_refused_webhooks_total {}\n\
         # HELP callcard_hub_stored_events Events in the log.\n\
         # TYPE callcard_hub_stored_events gauge\n\
         callcard_hub_stored_events {}\n",
        counters.events_in.load(Ordering::Relaxed),
        counters.duplicates.load(Ordering::Relaxed),
        counters.refused.load(Ordering::Relaxed),
        stored,
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_matches_only_itself_and_never_prints() {
        let token = WebhookToken::new("s3cret-token");
        assert!(token.matches("s3cret-token"));
        assert!(!token.matches("s3cret-tokeN"));
        assert!(!token.matches(""));
        assert!(
            !WebhookToken::new("").matches(""),
            "an unset token accepts nothing"
        );
        assert!(!format!("{token:?}").contains("s3cret"));
    }
}
