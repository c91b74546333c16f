//! What the history window shows: the recent calls with what was logged
//! where (and the link to it), and the outbox's pending and failed items
//! with their last error, so the user can retry them.

use crate::activity::Direction;
use crate::call_log::target_key;
use crate::outbox::{ItemKind, ItemState, OutboxCounts, OutboxItem};
use crate::store::{CatchUp, Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LogEntry {
    /// The outbox item, for the Retry button.
    pub id: i64,
    /// The CRM's id.
    pub crm: String,
    /// `candidate:12`.
    pub target: String,
    /// The record's name when the card knew it.
    pub target_name: Option<String>,
    pub kind: ItemKind,
    pub state: ItemState,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Where the written note or activity can be opened.
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistoryCall {
    pub call_id: i64,
    /// Empty for a call first seen after it ended (catch-up).
    pub number: String,
    /// Unknown for a call first seen after it ended (catch-up).
    pub direction: Option<Direction>,
    /// The record the call is about: the user's pick, else the best match.
    pub caller: Option<String>,
    /// Unix ms of the first sighting, or of the first log for catch-up calls.
    pub seen_ms: i64,
    pub logs: Vec<LogEntry>,
    /// Given up on: why the call was not logged.
    pub not_logged: Option<String>,
}

/// An SMS logged (or waiting to be), with where it was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistorySms {
    /// The phone system's message id.
    pub message_id: String,
    /// When it was queued (Unix ms).
    pub seen_ms: i64,
    pub logs: Vec<LogEntry>,
    /// From a number no record has: not logged (then the number is given).
    pub no_record: bool,
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct History {
    pub calls: Vec<HistoryCall>,
    /// The SMS next to the calls, newest first.
    pub messages: Vec<HistorySms>,
    pub counts: OutboxCounts,
    /// Past calls still being read after an absence.
    pub catching_up: Option<CatchUp>,
    /// CRMs that cannot take their writes now, and the calls waiting for them.
    pub waiting: Vec<CrmWaiting>,
}

/// A selected CRM that cannot sign in or answer: its calls wait (the other
/// CRMs go on), and go in once it is back.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CrmWaiting {
    /// The CRM's id.
    pub crm: String,
    /// Why, as a code each window translates.
    pub reason: crate::status::CrmWait,
    /// Final calls not yet in its outbox.
    pub calls: u32,
}

/// Record ids are a CRM's own: names are kept per CRM and target.
fn name_key(crm: &str, target: &str) -> String {
    format!("{crm}/{target}")
}

fn entry(item: &OutboxItem, names: &BTreeMap<String, String>) -> LogEntry {
    LogEntry {
        id: item.id,
        crm: item.key.crm.clone(),
        target: item.key.target.clone(),
        target_name: names.get(&name_key(&item.key.crm, &item.key.target)).cloned(),
        kind: item.key.kind,
        state: item.state,
        attempts: item.attempts,
        last_error: item.last_error.clone(),
        link: item.remote.as_ref().and_then(|r| r.link.clone()),
    }
}

impl Store {
    /// The newest `limit` calls, with every outbox item that belongs to them.
    pub fn history(&self, limit: u32) -> Result<History, StoreError> {
        let items = self.outbox_items(limit.saturating_mul(4).max(100))?;
        let mut by_call: BTreeMap<i64, Vec<&OutboxItem>> = BTreeMap::new();
        let mut by_sms: BTreeMap<String, Vec<&OutboxItem>> = BTreeMap::new();
        for item in &items {
            if let Ok(call_id) = item.key.call_id.parse::<i64>() {
                by_call.entry(call_id).or_default().push(item);
            } else if let Some(id) = item.key.call_id.strip_prefix("sms:") {
                by_sms.entry(id.to_owned()).or_default().push(item);
            }
        }
        let mut messages: Vec<HistorySms> = by_sms
            .into_iter()
            .map(|(message_id, items)| HistorySms {
                message_id,
                seen_ms: items.iter().map(|i| i.next_attempt_ms).min().unwrap_or(0),
                logs: items.into_iter().map(|i| entry(i, &BTreeMap::new())).collect(),
                no_record: false,
                number: String::new(),
            })
            .collect();
        for (message_id, number, at_ms) in self.sms_without_record(limit)? {
            messages.push(HistorySms {
                message_id,
                seen_ms: at_ms,
                logs: Vec::new(),
                no_record: true,
                number,
            });
        }
        messages.sort_by_key(|m| std::cmp::Reverse((m.seen_ms, m.message_id.clone())));
        messages.truncate(limit as usize);
        let mut calls: Vec<HistoryCall> = Vec::new();
        let mut names: BTreeMap<i64, BTreeMap<String, String>> = BTreeMap::new();
        // One entry per call, whichever CRMs made a card for it.
        for (card, seen_ms) in self.recent_cards(limit)? {
            names.entry(card.call_id).or_default().extend(
                card.matches
                    .iter()
                    .map(|m| (name_key(&card.crm, &target_key(&m.record)), m.name.clone())),
            );
            let caller = card.best_record().map(|m| m.name.clone());
            match calls.iter_mut().find(|c| c.call_id == card.call_id) {
                Some(known) => known.caller = known.caller.take().or(caller),
                None => calls.push(HistoryCall {
                    call_id: card.call_id,
                    number: card.number,
                    direction: Some(card.direction),
                    caller,
                    seen_ms,
                    logs: Vec::new(),
                    not_logged: None,
                }),
            }
        }
        for call in &mut calls {
            let names = names.remove(&call.call_id).unwrap_or_default();
            call.logs = by_call
                .remove(&call.call_id)
                .unwrap_or_default()
                .into_iter()
                .map(|i| entry(i, &names))
                .collect();
        }
        // Calls logged without a card (caught up after the fact).
        for (call_id, items) in by_call {
            let seen_ms = items.iter().map(|i| i.next_attempt_ms).min().unwrap_or(0);
            calls.push(HistoryCall {
                call_id,
                number: String::new(),
                direction: None,
                caller: None,
                seen_ms,
                logs: items.into_iter().map(|i| entry(i, &BTreeMap::new())).collect(),
                not_logged: None,
            });
        }
        for (call_id, reason, at_ms) in self.calls_not_logged(limit)? {
            match calls.iter_mut().find(|c| c.call_id == call_id) {
                Some(known) => known.not_logged = Some(reason),
                None => calls.push(HistoryCall {
                    call_id,
                    number: String::new(),
                    direction: None,
                    caller: None,
                    seen_ms: at_ms,
                    logs: Vec::new(),
                    not_logged: Some(reason),
                }),
            }
        }
        calls.sort_by_key(|c| std::cmp::Reverse((c.seen_ms, c.call_id)));
        calls.truncate(limit as usize);
        Ok(History {
            calls,
            messages,
            counts: self.outbox_counts()?,
            catching_up: None,
            waiting: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::crm::Write;
    use crate::outbox::{ItemKey, ItemKind};
    use crate::Store;

    #[test]
    fn sms_are_listed_next_to_calls_with_where_they_went() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let key = |call_id: &str, kind| ItemKey {
            crm: "jobadder".into(),
            account: "a".into(),
            call_id: call_id.into(),
            kind,
            target: "candidate:7".into(),
        };
        let write = Write {
            reference: "r".into(),
            payload: serde_json::json!({}),
        };
        store
            .enqueue(&key("41", ItemKind::Call), &write, None, 1_000)
            .unwrap();
        store
            .enqueue(&key("sms:SM1", ItemKind::Sms), &write, None, 2_000)
            .unwrap();
        store
            .enqueue(&key("sms:SM2", ItemKind::Sms), &write, None, 3_000)
            .unwrap();
        store
            .note_sms_without_record("SM0", "+447700900123", 500)
            .unwrap();
        let history = store.history(10).unwrap();
        assert_eq!(history.calls.len(), 1);
        let ids: Vec<&str> = history.messages.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["SM2", "SM1", "SM0"], "newest first");
        assert!(history.messages[2].no_record && history.messages[2].logs.is_empty());
        assert_eq!(history.messages[2].number, "+447700900123");
        assert_eq!(history.messages[0].logs[0].target, "candidate:7");
        assert_eq!(history.messages[0].logs[0].kind, ItemKind::Sms);
    }
}
