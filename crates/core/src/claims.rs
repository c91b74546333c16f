//! Who makes a write when several computers follow the same call: one user
//! on two computers, every agent of a shared number for a missed call. Each
//! queues the call in its own outbox; before a write that creates something
//! in the CRM, the dispatcher claims it from a place all of them share (the
//! team hub), so that one computer writes and the others take it as done.
//! See `docs/exactly-once.md` for the design and its remaining window.

use crate::crm::RemoteRef;
use crate::outbox::ItemKey;
use std::time::Duration;

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This computer writes it. `taken_over`: another held it and went
    /// silent, so it may have written it: look it up first.
    Granted { taken_over: bool },
    /// Another computer wrote it, there.
    WrittenElsewhere(RemoteRef),
    /// Another computer is writing it: ask again later.
    Held { retry_after: Duration },
}

#[async_trait::async_trait]
pub trait WriteClaims: Send + Sync {
    /// Asks to be the computer that makes the write `key`.
    async fn claim(&self, key: &str) -> Result<Claim, String>;
    /// The write `key` is made, there.
    async fn written(&self, key: &str, remote: &RemoteRef) -> Result<(), String>;
}

/// The claim of an outbox item: the same on every computer of the company
/// for the same write (the CRM account, the call, what is written). The
/// target is left out: one computer writes the call wherever its rules say.
pub fn claim_key(key: &ItemKey) -> String {
    format!(
        "{}:{}:{}:{}",
        key.crm,
        key.account,
        key.call_id,
        key.kind.as_str()
    )
}
