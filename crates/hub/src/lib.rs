//! The team hub (`callcard-hub`): a small server a company runs once. It
//! receives Aircall's webhooks for the whole company and keeps them in a
//! durable, ordered event log; desktops subscribe to the events that
//! concern their user instead of each polling Aircall (see DESIGN §1.9).
//! No Tauri, no WebKit: it runs on a server or in a container.
//!
//! The HTTP side ([`server`]: webhook intake, the desktops' stream and
//! pages, write claims, the JobAdder route, metrics) speaks the wire
//! contract of `callcard-hub-contract`; the database ([`store`]: one module
//! per table, one list of migrations) holds the log, the desktops with their
//! token hashes, the claims and the hub's state. Beside them: the
//! configuration ([`config`]), the webhook's registration with Aircall
//! ([`webhook_admin`]), the JobAdder token exchange ([`broker`]) and a hub
//! inside another program for the demo and the tests ([`local`]).
//!
//! It does not interpret events for a CRM (the desktops do), and it passes
//! JobAdder's tokens through without keeping them.

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
pub use store::events::{
    Appended, EventLog, LogError, LogIdentity, SqliteEventLog, StoredEvent, WebhookEvent,
};
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
