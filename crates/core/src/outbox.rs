//! The outbox: every CRM write waits here, in SQLite, until the CRM has it.
//!
//! Each item has a dedupe key — CRM, account, call id, kind, and the record it
//! goes to (one call may be logged on a contact and on a candidate) — with a
//! unique constraint, so enqueuing twice is harmless. State changes are single
//! transactions; an item found `in_flight` when the app starts was being
//! written when the app died, so it is retried only after looking the record
//! up by reference (`needs_check`): nothing is lost, nothing written twice.

use crate::crm::{RemoteRef, Write};
use serde::Serialize;

/// What kind of write an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// The call's first write (note, phone call).
    Call,
    /// The same call's write again with AI data; waits for the first.
    CallUpdate,
    Sms,
}

impl ItemKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Call => "call",
            Self::CallUpdate => "call_update",
            Self::Sms => "sms",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "call" => Some(Self::Call),
            "call_update" => Some(Self::CallUpdate),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemKey {
    pub crm: String,
    pub account: String,
    pub call_id: String,
    pub kind: ItemKind,
    /// The record written to, e.g. `candidate:123`.
    pub target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Pending,
    InFlight,
    Done,
    Failed,
}

impl ItemState {
    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "in_flight" => Self::InFlight,
            "done" => Self::Done,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxItem {
    pub id: i64,
    pub key: ItemKey,
    pub write: Write,
    pub state: ItemState,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub remote: Option<RemoteRef>,
    pub needs_check: bool,
    pub depends_on: Option<i64>,
    /// The remote record of the item this one depends on, once written.
    pub dependency_remote: Option<RemoteRef>,
}

/// How a failed attempt is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub error: String,
    pub next_attempt_ms: i64,
    /// An earlier attempt may have been written: look it up first next time.
    pub needs_check: bool,
    /// Rate limits and expired logins are not the item's fault: they do not
    /// count towards parking it.
    pub counts: bool,
    /// It cannot go until the user signs in to its CRM again.
    pub waits_for_login: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OutboxCounts {
    pub pending: u64,
    pub in_flight: u64,
    pub done: u64,
    pub failed: u64,
}
