//! Webhook delivery, as Aircall does it: a POST of
//! `{"resource","event","timestamp","token","data"}` to the configured URL.
//! The sandbox only ever delivers to plain-HTTP loopback receivers.

use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub url: String,
    pub token: String,
    /// Set when created through Aircall's API (`POST /v1/webhooks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_name: Option<String>,
    /// The events delivered; empty: all.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub created_at: String,
}

impl Target {
    /// A receiver set through the control API: every event.
    pub fn any_event(url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: token.into(),
            webhook_id: None,
            custom_name: None,
            events: Vec::new(),
            created_at: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub t_ms: i64,
    pub event: String,
    /// HTTP status of the receiver, or 0 when it could not be reached.
    pub status: u16,
    /// 1 for the first delivery, then each retry.
    pub attempt: u32,
}

/// How long after a failed delivery Aircall tries again: a growing delay,
/// then the event is given up (Aircall also deactivates a webhook that keeps
/// failing; the sandbox only gives up the event).
pub const RETRY_DELAYS_MS: [u64; 6] = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000];

#[derive(Default)]
pub struct Webhooks {
    target: Mutex<Option<Target>>,
    deliveries: Mutex<Vec<Delivery>>,
    /// Events sent whose delivery (with its retries) has not ended yet, so
    /// that a test can tell "everything delivered" from "a pause between".
    in_flight: std::sync::atomic::AtomicUsize,
}

impl Webhooks {
    pub fn set(&self, target: Target) {
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) = Some(target);
    }

    pub fn clear(&self) {
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.deliveries.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Events still being delivered or waiting for a retry.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn target(&self) -> Option<Target> {
        self.target.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Delivers in the background; the result lands in [`Webhooks::deliveries`].
    pub fn send(self: &std::sync::Arc<Self>, t_ms: i64, resource: &str, event: &str, data: Value) {
        let Some(target) = self.target() else { return };
        if !target.events.is_empty() && !target.events.iter().any(|e| e == event) {
            return;
        }
        let envelope = json!({
            "resource": resource, "event": event, "timestamp": t_ms / 1000, "token": target.token, "data": data,
        });
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(event, "no async runtime: webhook not delivered");
            return;
        };
        let this = self.clone();
        let event = event.to_owned();
        self.in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        runtime.spawn(async move {
            this.deliver(&target, &envelope, t_ms, &event).await;
            this.in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        });
    }

    /// One event's delivery with Aircall's retries.
    async fn deliver(&self, target: &Target, envelope: &Value, t_ms: i64, event: &str) {
        let mut attempt = 1;
        loop {
            let status = post_json(&target.url, envelope).await.unwrap_or(0);
            self.deliveries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Delivery {
                    t_ms,
                    event: event.to_owned(),
                    status,
                    attempt,
                });
            let delivered = (200..300).contains(&status);
            // A receiver removed meanwhile gets nothing more.
            let still_wanted = self.target().is_some_and(|t| t.url == target.url);
            let Some(delay) = RETRY_DELAYS_MS.get(attempt as usize - 1) else {
                tracing::warn!(%event, "webhook given up after its retries");
                return;
            };
            if delivered || !still_wanted {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(*delay)).await;
            attempt += 1;
        }
    }
}

async fn post_json(url: &str, body: &Value) -> Option<u16> {
    let url = url::Url::parse(url).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    let mut path = url.path().to_owned();
    if let Some(q) = url.query() {
        path = format!("{path}?{q}");
    }
    let payload = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nUser-Agent: Aircall-Webhooks (sandbox)\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    let mut stream = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    .ok()?
    .ok()?;
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = [0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut head))
        .await
        .ok()?
        .ok()?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace().nth(1)?.parse().ok()
}
