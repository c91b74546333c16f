//! Desktops out: `GET /v1/events` pages through what a desktop missed, and
//! `GET /v1/stream` follows its events as Server-Sent Events (what it
//! missed first, then each new event as it arrives), only the events that
//! concern the desktop's Aircall user.

use super::metrics::Counters;
use super::{answer, desktop_of, Hub};
use crate::store::desktops::Desktop;
use crate::store::events::{EventLog, LogIdentity, StoredEvent};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use callcard_hub_contract::{paths, EventPage, Frame, HubEvent, PageQuery, StreamQuery};
use std::sync::atomic::Ordering;
use std::sync::Arc;

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

/// `GET /v1/events?after=N&limit=M`: what a desktop missed, a page at a time.
pub(super) async fn page_of_events(
    State(hub): State<Hub>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let desktop = match desktop_of(&hub, &headers).await {
        Ok(desktop) => desktop,
        Err(refused) => return refused,
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let identity = match identity_of(&hub.log).await {
        Ok(identity) => identity,
        Err(failed) => return failed,
    };
    match concerning_after(&hub.log, &desktop, query.after.max(0), limit).await {
        Ok((events, next_after)) => Json(EventPage {
            events: events.into_iter().map(HubEvent::from).collect(),
            next_after,
            log_id: Some(identity.id),
        })
        .into_response(),
        Err(failed) => failed,
    }
}

/// Which log this is and how far it has counted (see `paths::LOG_ID`).
async fn identity_of(log: &Arc<dyn EventLog>) -> Result<LogIdentity, Response> {
    let log = log.clone();
    match tokio::task::spawn_blocking(move || log.identity()).await {
        Ok(Ok(identity)) => Ok(identity),
        _ => Err(answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the event log cannot be read",
        )),
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
    revoked: tokio::sync::watch::Receiver<Arc<std::collections::HashSet<i64>>>,
    registered: super::streams::Registered,
    after: i64,
    pending: std::collections::VecDeque<StoredEvent>,
    fresh: tokio::sync::broadcast::Receiver<StoredEvent>,
    _connected: Connected,
}

/// `GET /v1/stream?after=N` (or `Last-Event-ID`): Server-Sent Events, first
/// what the desktop missed after N, then each new event as it arrives.
pub(super) async fn stream_events(
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
    let identity = match identity_of(&hub.log).await {
        Ok(identity) => identity,
        Err(failed) => return failed,
    };
    let computer = headers
        .get(paths::COMPUTER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|c| callcard_hub_contract::claims::valid_computer(c));
    let registered = match hub.streams.register(desktop.id, computer) {
        Ok(registered) => registered,
        Err(super::streams::Refusal::OtherComputer) => {
            tracing::warn!(
                desktop = desktop.id,
                "a second computer on one desktop token was refused"
            );
            return answer(
                StatusCode::CONFLICT,
                "this desktop token is following the hub on another computer now: give each computer \
                 its own token (callcard-hub user add)",
            );
        }
        Err(super::streams::Refusal::TooMany) => {
            return answer(
                StatusCode::TOO_MANY_REQUESTS,
                "too many streams open on this desktop token; close one and try again",
            )
        }
    };
    let revoked = hub.revocations.follow(&hub.desktops, &hub.closing);
    hub.counters.desktops_connected.fetch_add(1, Ordering::Relaxed);
    let state = StreamState {
        // Subscribed before the log is read: nothing falls between the two.
        fresh: hub.fresh.subscribe(),
        _connected: Connected(hub.counters.clone()),
        hub,
        desktop,
        revoked,
        registered,
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
                // A newer stream of the same computer took over.
                _ = state.registered.superseded.cancelled() => return None,
                changed = state.revoked.changed() => {
                    // `user revoke`: this token's streams end now.
                    if changed.is_err() || state.revoked.borrow_and_update().contains(&state.desktop.id) {
                        tracing::info!(desktop = state.desktop.id, "a revoked desktop's stream was ended");
                        return None;
                    }
                    continue;
                }
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
    // Read before the first event: a desktop compares them with its
    // checkpoint and reconnects at once if this is not the log it followed.
    let log_headers = [
        (paths::LOG_ID, identity.id),
        (paths::LOG_END, identity.end.to_string()),
    ];
    (
        log_headers,
        Sse::new(events).keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15))),
    )
        .into_response()
}
