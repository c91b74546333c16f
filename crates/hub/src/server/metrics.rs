//! What the hub counts, and `GET /healthz` and `GET /metrics`
//! (Prometheus text) that tell it.

use super::Hub;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicU64, Ordering};

/// What the hub counts for `/metrics`.
#[derive(Default)]
pub struct Counters {
    pub events_in: AtomicU64,
    pub duplicates: AtomicU64,
    pub refused: AtomicU64,
    pub desktops_connected: AtomicU64,
    /// Events sent on desktops' streams, and the sum of how long each had
    /// been in the log then (ms): the delivery lag.
    pub delivered: AtomicU64,
    pub delivery_lag_ms: AtomicU64,
    /// Writes to the database that failed (a delivery not stored, a health
    /// check that could not write).
    pub store_failures: AtomicU64,
}

/// `GET /healthz`: 200 only while the log can be read *and* written (a hub
/// that cannot store a delivery answers Aircall 503s: it is not healthy).
pub(super) async fn healthz(State(hub): State<Hub>) -> Response {
    let log = hub.log.clone();
    let now_ms = (hub.clock)();
    let checked = tokio::task::spawn_blocking(move || {
        log.len()
            .map_err(|e| ("the event log cannot be read", e.to_string()))?;
        log.check_writable(now_ms)
            .map_err(|e| ("the event log cannot be written", e.to_string()))
    })
    .await;
    match checked {
        Ok(Ok(())) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err((what, error))) => {
            hub.counters.store_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%error, "health check: {what}");
            (StatusCode::SERVICE_UNAVAILABLE, format!("{what}\n")).into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the health check failed\n").into_response(),
    }
}

pub(super) async fn metrics(State(hub): State<Hub>) -> Response {
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
         callcard_hub_stored_events {}\n\
         # HELP callcard_hub_desktops_connected Desktops following the stream now.\n\
         # TYPE callcard_hub_desktops_connected gauge\n\
         callcard_hub_desktops_connected {}\n\
         # HELP callcard_hub_delivery_lag_seconds From an event's arrival to its sending on a desktop's stream (a desktop away catches up late).\n\
         # TYPE callcard_hub_delivery_lag_seconds summary\n\
         callcard_hub_delivery_lag_seconds_sum {:.3}\n\
         callcard_hub_delivery_lag_seconds_count {}\n\
         # HELP callcard_hub_store_failures_total Database writes that failed (deliveries answered 503, health checks).\n\
         # TYPE callcard_hub_store_failures_total counter\n\
         callcard_hub_store_failures_total {}\n",
        counters.events_in.load(Ordering::Relaxed),
        counters.duplicates.load(Ordering::Relaxed),
        counters.refused.load(Ordering::Relaxed),
        stored,
        counters.desktops_connected.load(Ordering::Relaxed),
        counters.delivery_lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        counters.delivered.load(Ordering::Relaxed),
        counters.store_failures.load(Ordering::Relaxed),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
        .into_response()
}
