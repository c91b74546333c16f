//! A caller card: what the card window shows for a call in one CRM, and how
//! a record is named in keys (`candidate:12`). Plain data; the card is built
//! by `crate::call_log` and kept by the store (`store::cards`).

use crate::activity::Direction;
use crate::crm::{CrmRecord, RecordKind, RecordRef};
use serde::{Deserialize, Serialize};

/// `candidate:123`: how a record is named in outbox keys and the store.
pub fn target_key(record: &RecordRef) -> String {
    let kind = match record.kind {
        RecordKind::Candidate => "candidate",
        RecordKind::Contact => "contact",
        RecordKind::Company => "company",
        RecordKind::Individual => "individual",
    };
    format!("{kind}:{}", record.id)
}

/// What the card window shows for a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Card {
    pub call_id: i64,
    pub number: String,
    pub direction: Direction,
    pub crm: String,
    pub account: String,
    /// Every match, best first.
    pub matches: Vec<CrmRecord>,
    /// The record the call will be logged to, when the user picked one.
    pub chosen: Option<RecordRef>,
    /// Found in the local index (then worth completing with a live search).
    #[serde(skip)]
    pub from_index: bool,
}
