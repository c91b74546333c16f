//! The hub's HTTP side: Aircall's webhooks in (`POST /webhooks/aircall`);
//! desktops out, each with its own token (`GET /v1/stream`, Server-Sent
//! Events resuming after the last event seen, and `GET /v1/events` to page
//! through what was missed), only the events that concern the desktop's
//! Aircall user; `GET /healthz` and `GET /metrics` (Prometheus text). A
//! webhook is answered only after its event is committed to the log, and
//! fast: Aircall disables a webhook that keeps failing.

use crate::store::desktops::{Desktop, Desktops};
use crate::store::events::{Appended, EventLog, StoredEvent, WebhookEvent};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use callcard_hub_contract::claims::MAX_CLAIM_KEY;
use callcard_hub_contract::{
    paths, ClaimRequest, ErrorAnswer, EventPage, Frame, HubEvent, PageQuery, StreamQuery, WebhookEnvelope,
    WebhookReceipt,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Aircall's events are a few KiB; anything much larger is not one.
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

/// The webhook token Aircall sends in every event (kept from the webhook's
/// creation). Never printed. Kept in a file, it is read again when the file
/// changes, so that `callcard-hub webhook rotate` needs no restart.
#[derive(Clone)]
pub struct WebhookToken(Arc<TokenSource>);

enum TokenSource {
    Fixed(String),
    File {
        path: std::path::PathBuf,
        /// The file's modification time when it was read, and what it held.
        read: std::sync::Mutex<(Option<std::time::SystemTime>, String)>,
    },
}

impl WebhookToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(Arc::new(TokenSource::Fixed(token.into())))
    }

    /// The token in `path`, read now and again whenever the file changes.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<Self> {
        let modified = std::fs::metadata(path)?.modified().ok();
        let token = std::fs::read_to_string(path)?.trim().to_owned();
        Ok(Self(Arc::new(TokenSource::File {
            path: path.to_owned(),
            read: std::sync::Mutex::new((modified, token)),
        })))
    }

    fn current(&self) -> String {
        match &*self.0 {
            TokenSource::Fixed(token) => token.clone(),
            TokenSource::File { path, read } => {
                let mut read = read.lock().unwrap_or_else(|p| p.into_inner());
                let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
                if modified != read.0 {
                    match std::fs::read_to_string(path) {
                        Ok(text) => *read = (modified, text.trim().to_owned()),
                        Err(error) => {
                            tracing::warn!(%error, path = %path.display(), "cannot read the webhook token again; keeping the one read before")
                        }
                    }
                }
                read.1.clone()
            }
        }
    }

    /// Compares in constant time, so that timing tells nothing of the token.
    fn matches(&self, given: &str) -> bool {
        let token = self.current();
        !token.is_empty() && bool::from(token.as_bytes().ct_eq(given.as_bytes()))
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
    pub desktops_connected: AtomicU64,
    /// Events sent on desktops' streams, and the sum of how long each had
    /// been in the log then (ms): the delivery lag.
    pub delivered: AtomicU64,
    pub delivery_lag_ms: AtomicU64,
}

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
            .route(paths::WEBHOOK, post(receive_webhook))
            .route(paths::EVENTS, get(page_of_events))
            .route(paths::STREAM, get(stream_events))
            .route(paths::JOBADDER_TOKEN, post(jobadder_token))
            .route(paths::CLAIMS, post(claim_write))
            .route(paths::CLAIMS_WRITTEN, post(claim_written))
            .route(paths::HEALTHZ, get(healthz))
            .route(paths::METRICS, get(metrics))
            .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
            .with_state(self.clone())
    }
}

fn answer(status: StatusCode, message: &str) -> Response {
    let body = ErrorAnswer {
        error: message.to_owned(),
    };
    (status, Json(body)).into_response()
}

async fn receive_webhook(State(hub): State<Hub>, body: Bytes) -> Response {
    let envelope: WebhookEnvelope = match serde_json::from_slice(&body) {
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
    let stored = event.clone();
    let appended = tokio::task::spawn_blocking(move || log.append(&stored, received_ms)).await;
    match appended {
        Ok(Ok(Appended::New(seq))) => {
            hub.counters.events_in.fetch_add(1, Ordering::Relaxed);
            // An AI result goes to whoever had its call: the parties the
            // log found when it stored it.
            let subject = match event.call_id() {
                Some(call_id) if event.resource != "call" => {
                    let log = hub.log.clone();
                    tokio::task::spawn_blocking(move || log.parties_of_call(call_id))
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .flatten()
                }
                _ => None,
            };
            // No stream listening is fine: streams read the log when they start.
            let _ = hub.fresh.send(StoredEvent {
                seq,
                resource: event.resource,
                event: event.event,
                timestamp: event.timestamp,
                received_ms,
                data: event.data,
                subject,
            });
            let receipt = WebhookReceipt {
                seq,
                duplicate: false,
            };
            (StatusCode::OK, Json(receipt)).into_response()
        }
        Ok(Ok(Appended::Duplicate(seq))) => {
            hub.counters.duplicates.fetch_add(1, Ordering::Relaxed);
            let receipt = WebhookReceipt { seq, duplicate: true };
            (StatusCode::OK, Json(receipt)).into_response()
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
         callcard_hub_stored_events {}\n\
         # HELP callcard_hub_desktops_connected Desktops following the stream now.\n\
         # TYPE callcard_hub_desktops_connected gauge\n\
         callcard_hub_desktops_connected {}\n\
         # HELP callcard_hub_delivery_lag_seconds From an event's arrival to its sending on a desktop's stream (a desktop away catches up late).\n\
         # TYPE callcard_hub_delivery_lag_seconds summary\n\
         callcard_hub_delivery_lag_seconds_sum {:.3}\n\
         callcard_hub_delivery_lag_seconds_count {}\n",
        counters.events_in.load(Ordering::Relaxed),
        counters.duplicates.load(Ordering::Relaxed),
        counters.refused.load(Ordering::Relaxed),
        stored,
        counters.desktops_connected.load(Ordering::Relaxed),
        counters.delivery_lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        counters.delivered.load(Ordering::Relaxed),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
        .into_response()
}

/// The desktop a request's `Authorization: Bearer` token opens.
async fn desktop_of(hub: &Hub, headers: &HeaderMap) -> Result<Desktop, Response> {
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

/// How many log rows one read scans.
const SCAN: u32 = 500;

/// The events after `after` that concern `desktop`, up to `limit`, and the
/// last sequence number scanned (where to resume).
async fn concerning_after(
    log: &Arc<dyn EventLog>,
    desktop: &Desktop,
    mut after: i64,
    limit: usize,
) -> Result<(Vec<StoredEvent>, i64), Response> {
    let mut found = Vec::new();
    loop {
        let log = log.clone();
        let rows = match tokio::task::spawn_blocking(move || log.after(after, SCAN)).await {
            Ok(Ok(rows)) => rows,
            _ => {
                return Err(answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the event log cannot be read",
                ))
            }
        };
        let Some(last) = rows.last().map(|e| e.seq) else {
            return Ok((found, after));
        };
        for event in rows {
            if found.len() == limit {
                return Ok((found, after));
            }
            after = event.seq;
            if desktop.concerns(event.parties()) {
                found.push(event);
            }
        }
        after = last;
    }
}

/// The desktop behind a claim request, once its token and key are good.
async fn claimant(hub: &Hub, headers: &HeaderMap, request: &ClaimRequest) -> Result<Desktop, Response> {
    let desktop = desktop_of(hub, headers).await?;
    if request.key.is_empty() || request.key.len() > MAX_CLAIM_KEY {
        return Err(answer(
            StatusCode::BAD_REQUEST,
            "a claim needs a key of at most 300 bytes",
        ));
    }
    Ok(desktop)
}

/// `POST /v1/claims`: a desktop asks to be the one that writes `key` (see `claims`).
async fn claim_write(
    State(hub): State<Hub>,
    headers: HeaderMap,
    Json(request): Json<ClaimRequest>,
) -> Response {
    let desktop = match claimant(&hub, &headers, &request).await {
        Ok(desktop) => desktop,
        Err(refused) => return refused,
    };
    let desktops = hub.desktops.clone();
    let now = (hub.clock)();
    let lease = if request.lease_ms > 0 {
        request.lease_ms
    } else {
        120_000
    };
    match tokio::task::spawn_blocking(move || desktops.claim(&request.key, desktop.id, lease, now)).await {
        Ok(Ok(claim)) => (StatusCode::OK, Json(claim)).into_response(),
        _ => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the hub cannot record claims now",
        ),
    }
}

/// `POST /v1/claims/written`: the holder wrote `key`, there.
async fn claim_written(
    State(hub): State<Hub>,
    headers: HeaderMap,
    Json(request): Json<ClaimRequest>,
) -> Response {
    let desktop = match claimant(&hub, &headers, &request).await {
        Ok(desktop) => desktop,
        Err(refused) => return refused,
    };
    let desktops = hub.desktops.clone();
    let written = tokio::task::spawn_blocking(move || {
        desktops.claim_written(
            &request.key,
            desktop.id,
            request.remote_id.as_deref(),
            request.remote_link.as_deref(),
        )
    })
    .await;
    match written {
        Ok(Ok(true)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(false)) => answer(StatusCode::CONFLICT, "this desktop does not hold that claim"),
        _ => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the hub cannot record claims now",
        ),
    }
}

/// `POST /v1/jobadder/token`: a desktop's code exchange or refresh, with
/// the partner app's secret added here (see `broker`).
async fn jobadder_token(
    State(hub): State<Hub>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Err(refused) = desktop_of(&hub, &headers).await {
        return refused;
    }
    let Some(client) = &hub.jobadder else {
        return answer(StatusCode::NOT_FOUND, "this hub does not broker JobAdder tokens");
    };
    match client.exchange(&hub.http, &form).await {
        Ok(reply) => {
            let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, [(header::CONTENT_TYPE, reply.content_type)], reply.body).into_response()
        }
        Err(error @ crate::broker::BrokerError::Grant) => answer(StatusCode::BAD_REQUEST, &error.to_string()),
        Err(error) => {
            tracing::warn!(%error, "a JobAdder token request could not be brokered");
            answer(StatusCode::BAD_GATEWAY, &error.to_string())
        }
    }
}

/// `GET /v1/events?after=N&limit=M`: what a desktop missed, a page at a time.
async fn page_of_events(
    State(hub): State<Hub>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let desktop = match desktop_of(&hub, &headers).await {
        Ok(desktop) => desktop,
        Err(refused) => return refused,
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    match concerning_after(&hub.log, &desktop, query.after.max(0), limit).await {
        Ok((events, next_after)) => Json(EventPage {
            events: events.into_iter().map(HubEvent::from).collect(),
            next_after,
        })
        .into_response(),
        Err(failed) => failed,
    }
}

/// Counts a stream as connected while it lives.
struct Connected(Arc<Counters>);

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.desktops_connected.fetch_sub(1, Ordering::Relaxed);
    }
}

struct StreamState {
    hub: Hub,
    desktop: Desktop,
    after: i64,
    pending: std::collections::VecDeque<StoredEvent>,
    fresh: tokio::sync::broadcast::Receiver<StoredEvent>,
    _connected: Connected,
}

/// `GET /v1/stream?after=N` (or `Last-Event-ID`): Server-Sent Events, first
/// what the desktop missed after N, then each new event as it arrives.
async fn stream_events(
    State(hub): State<Hub>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Response {
    let desktop = match desktop_of(&hub, &headers).await {
        Ok(desktop) => desktop,
        Err(refused) => return refused,
    };
    let resume = headers
        .get(paths::LAST_EVENT_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = resume.or(query.after).unwrap_or(0).max(0);
    hub.counters.desktops_connected.fetch_add(1, Ordering::Relaxed);
    let state = StreamState {
        // Subscribed before the log is read: nothing falls between the two.
        fresh: hub.fresh.subscribe(),
        _connected: Connected(hub.counters.clone()),
        hub,
        desktop,
        after,
        pending: Default::default(),
    };
    let events = futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.pending.pop_front() {
                let lag = ((state.hub.clock)() - event.received_ms).max(0) as u64;
                let counters = &state.hub.counters;
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                counters.delivery_lag_ms.fetch_add(lag, Ordering::Relaxed);
                let sse = match Frame::of(&HubEvent::from(event)) {
                    Ok(frame) => SseEvent::default()
                        .id(frame.id)
                        .event(frame.event)
                        .data(frame.data),
                    Err(_) => SseEvent::default().comment("unprintable event"),
                };
                return Some((Ok::<_, std::convert::Infallible>(sse), state));
            }
            // Anything in the log after what was sent (the start, or after a lag).
            match concerning_after(&state.hub.log, &state.desktop, state.after, 100).await {
                Ok((found, scanned)) => {
                    let moved = scanned > state.after;
                    state.after = scanned;
                    state.pending.extend(found);
                    if moved {
                        continue;
                    }
                }
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            }
            let fresh = tokio::select! {
                _ = state.hub.closing.cancelled() => return None,
                fresh = state.fresh.recv() => fresh,
            };
            match fresh {
                // The next one in the log: nothing can be missing before it.
                // Deliveries are stored concurrently, so the announcements
                // can come out of order: after a gap, the log (committed in
                // sequence order) is read from the last event sent instead,
                // so no event is skipped.
                Ok(event) if event.seq == state.after + 1 => {
                    state.after = event.seq;
                    if state.desktop.concerns(event.parties()) {
                        state.pending.push_back(event);
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_kept_in_a_file_is_read_again_when_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let token = WebhookToken::from_file(&path).unwrap();
        assert!(token.matches("first"));
        // A rotation writes a new file (a new modification time).
        std::thread::sleep(std::time::Duration::from_millis(20));
        let fresh = dir.path().join("token.new");
        std::fs::write(&fresh, "second").unwrap();
        std::fs::rename(&fresh, &path).unwrap();
        assert!(token.matches("second"));
        assert!(!token.matches("first"));
    }

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
