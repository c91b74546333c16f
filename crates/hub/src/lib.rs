//! The team hub (`callcard-hub`): a small server a company runs once. It
//! receives Aircall's webhooks for the whole company and keeps them in a
//! durable, ordered event log; desktops will subscribe to the events that
//! concern their user instead of each polling Aircall (see DESIGN §1.9).
//! No Tauri, no WebKit: it runs on a server or in a container.
//!
//! In place: the webhook receiver (constant-time token check, size cap,
//! committed before 200, duplicates stored once); desktops with their own
//! tokens (hash kept, revocable) and a stream of the events that concern
//! their user, resumable, with paging; `/healthz`, `/metrics`, retention.
//! `webhook create/show/rotate/remove` with Aircall; the JobAdder token
//! broker. Desktops follow it (`callcard-engine`'s hub feed); the demo
//! runs one in-process ([`local`]).

pub mod broker;
pub mod config;
pub mod local;
pub mod server;
pub mod store;
pub mod webhook_admin;

pub use config::{ConfigError, HubConfig};
pub use local::LocalHub;
pub use server::{Hub, WebhookToken, MAX_WEBHOOK_BYTES};
pub use store::desktops::{Desktop, Desktops};
pub use store::events::{Appended, EventLog, SqliteEventLog, StoredEvent, WebhookEvent};
pub use store::{Store, StoreError};

/// SHA-256 in lower-case hex: event fingerprints, desktop token hashes.
pub(crate) fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part);
    }
    digest.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
