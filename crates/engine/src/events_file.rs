//! `--events FILE`: one JSON line per call event, `{"t_ms", "kind",
//! "call_id"}`, with `t_ms` in Unix milliseconds (the sandbox's request log
//! uses the same clock), and one per step of catch-up after an absence,
//! `{"t_ms", "kind": "catch_up", "progress": {"done_secs", "total_secs"} or
//! null once caught up}`, and one each time calls start coming from
//! elsewhere, `{"t_ms", "kind": "call_source", "source": "hub" | "polling" |
//! "polling_until_hub_is_back"}`, for measurements and end-to-end tests.

use callcard_core::{Service, ServiceEvent};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

pub fn spawn_writer(service: &Arc<Service>, path: PathBuf) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let mut events = service.subscribe();
    let shutdown = service.shutdown_token();
    let service_clock = service.clock();
    service.spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => break,
                received = events.recv() => received,
            };
            match received {
                Ok(ServiceEvent::Call { event, t_ms }) => {
                    let mut line = serde_json::to_value(event).unwrap_or_default();
                    line["t_ms"] = json!(t_ms);
                    if writeln!(file, "{line}").and_then(|_| file.flush()).is_err() {
                        tracing::warn!(path = %path.display(), "cannot write the events file");
                    }
                }
                Ok(ServiceEvent::CatchUp { progress }) => {
                    let line =
                        json!({"t_ms": service_clock.now_ms(), "kind": "catch_up", "progress": progress});
                    if writeln!(file, "{line}").and_then(|_| file.flush()).is_err() {
                        tracing::warn!(path = %path.display(), "cannot write the events file");
                    }
                }
                Ok(ServiceEvent::CallSource { source }) => {
                    let line =
                        json!({"t_ms": service_clock.now_ms(), "kind": "call_source", "source": source});
                    if writeln!(file, "{line}").and_then(|_| file.flush()).is_err() {
                        tracing::warn!(path = %path.display(), "cannot write the events file");
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
        }
    });
    Ok(())
}
