//! `POST /webhooks/aircall`: Aircall's webhooks in. The token is checked
//! in constant time; the event is committed to the log before Aircall is
//! answered 200 (a retried delivery is stored once), then announced to the
//! desktops' streams.

use super::{answer, Hub};
use crate::store::events::{Appended, StoredEvent, WebhookEvent};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use callcard_hub_contract::{WebhookEnvelope, WebhookReceipt};
use std::sync::atomic::Ordering;
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
        /// The token before the last rotation ([`previous_token_file`]), and
        /// when it was replaced (the file's modification time).
        previous: std::sync::Mutex<(Option<std::time::SystemTime>, String)>,
    },
}

/// Aircall retries a failed delivery for up to 12 hours: for that long
/// after a rotation, deliveries signed with the token before are taken.
pub const PREVIOUS_TOKEN_GRACE: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// Where `webhook rotate` keeps the token it replaced: beside the token
/// file, `NAME.previous`.
pub fn previous_token_file(token_file: &std::path::Path) -> std::path::PathBuf {
    let mut name = token_file.as_os_str().to_owned();
    name.push(".previous");
    name.into()
}

/// What `path` holds now, read again only when its modification time
/// changed (a missing file holds nothing).
fn reread(path: &std::path::Path, read: &mut (Option<std::time::SystemTime>, String)) {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    if modified == read.0 {
        return;
    }
    if modified.is_none() {
        *read = (None, String::new());
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(text) => *read = (modified, text.trim().to_owned()),
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "cannot read a webhook token again; keeping the one read before")
        }
    }
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
            previous: std::sync::Mutex::new((None, String::new())),
        })))
    }

    /// The token now, and the one before a rotation less than
    /// [`PREVIOUS_TOKEN_GRACE`] ago.
    fn accepted(&self) -> (String, Option<String>) {
        match &*self.0 {
            TokenSource::Fixed(token) => (token.clone(), None),
            TokenSource::File { path, read, previous } => {
                let mut read = read.lock().unwrap_or_else(|p| p.into_inner());
                reread(path, &mut read);
                let mut previous = previous.lock().unwrap_or_else(|p| p.into_inner());
                reread(&previous_token_file(path), &mut previous);
                let recent = previous
                    .0
                    .and_then(|replaced| replaced.elapsed().ok())
                    .is_some_and(|age| age < PREVIOUS_TOKEN_GRACE);
                (read.1.clone(), recent.then(|| previous.1.clone()))
            }
        }
    }

    /// Compares in constant time, so that timing tells nothing of the token.
    fn matches(&self, given: &str) -> bool {
        let same = |token: &str| !token.is_empty() && bool::from(token.as_bytes().ct_eq(given.as_bytes()));
        let (current, previous) = self.accepted();
        same(&current) || previous.as_deref().is_some_and(same)
    }
}

impl std::fmt::Debug for WebhookToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookToken(…)")
    }
}

/// The start of a refused body for the log: at most 200 characters, with
/// newlines and control characters escaped, so that a delivery cannot
/// forge log lines.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let mut shown: String = text.escape_debug().collect();
    if body.len() > 200 {
        shown.push('…');
    }
    shown
}

pub(super) async fn receive(State(hub): State<Hub>, body: Bytes) -> Response {
    let (envelope, timestamp, odd) = match WebhookEnvelope::read(&body) {
        Ok(read) => read,
        Err(error) => {
            hub.counters.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, body = %excerpt(&body), "a webhook that is not an Aircall event was refused");
            return answer(
                StatusCode::BAD_REQUEST,
                &format!("not an Aircall webhook event: {error}"),
            );
        }
    };
    if !hub.token.matches(&envelope.token) {
        hub.counters.refused.fetch_add(1, Ordering::Relaxed);
        // The event's name is a plain lowercase name (checked above).
        tracing::warn!(event = %envelope.event, "a webhook with a wrong token was refused");
        return answer(StatusCode::UNAUTHORIZED, "wrong webhook token");
    }
    let received_ms = (hub.clock)();
    if !odd.is_empty() {
        // Kept: a 400 would have Aircall disable the webhook over a detail
        // of its own format. Said loudly, so that the operator looks.
        tracing::error!(
            event = %envelope.event,
            odd = ?odd,
            body = %excerpt(&body),
            "an Aircall webhook came in an unexpected shape; kept as it is"
        );
    }
    let event = WebhookEvent {
        resource: envelope.resource,
        event: envelope.event,
        timestamp: timestamp.unwrap_or(received_ms / 1000),
        data: envelope.data,
    };
    let log = hub.log.clone();
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
            hub.counters.store_failures.fetch_add(1, Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_body_is_logged_short_and_on_one_line() {
        let forged = b"{\"event\": \"x\"}\n2026-12-08T00:00:00Z  INFO forged line\r\n\x1b[31m";
        let shown = excerpt(forged);
        assert!(
            !shown.contains('\n') && !shown.contains('\r') && !shown.contains('\x1b'),
            "{shown}"
        );
        assert!(shown.contains("\\n2026"), "escaped, still readable: {shown}");
        let long = excerpt(&[b'a'; 5000]);
        assert_eq!(long.chars().count(), 201, "200 characters and an ellipsis");
    }

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
    fn the_token_before_a_rotation_is_taken_for_twelve_hours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webhook-token");
        std::fs::write(&path, "second").unwrap();
        let previous = previous_token_file(&path);
        assert_eq!(previous, dir.path().join("webhook-token.previous"));
        let token = WebhookToken::from_file(&path).unwrap();
        assert!(!token.matches("first"), "no rotation yet");
        std::fs::write(&previous, "first\n").unwrap();
        assert!(token.matches("first") && token.matches("second"));
        assert!(!token.matches(""));
        // Twelve hours and a minute later, Aircall has stopped retrying.
        let old = std::time::SystemTime::now() - PREVIOUS_TOKEN_GRACE - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&previous)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(!token.matches("first"));
        assert!(token.matches("second"));
        std::fs::remove_file(&previous).unwrap();
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
