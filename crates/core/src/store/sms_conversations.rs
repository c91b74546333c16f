//! SMS conversations in conversation mode: per CRM account and record, the
//! note SMS are being written into — its text so far, when it last changed,
//! and the outbox item of its last line (the next line's write follows it,
//! so lines go out in order and each write carries the whole text: written
//! twice after a crash, it is the same note, never a line twice).

use super::outbox::{enqueue_in, rewrite_in};
use super::{sql, Store, StoreError};
use crate::crm::Write;
use crate::outbox::ItemKey;
use rusqlite::{params, OptionalExtension};

/// Migration 13.
pub const MIGRATION: &str = "
CREATE TABLE sms_conversations (
    crm            TEXT    NOT NULL,
    account        TEXT    NOT NULL,
    target         TEXT    NOT NULL,
    -- The outbox key (call_id column) of the last SMS written into the note.
    last_item      TEXT    NOT NULL,
    text           TEXT    NOT NULL,
    -- The note's lines with their SMS's time and id (JSON), kept in the
    -- SMS's order even when Aircall delivers them out of order.
    lines          TEXT    NOT NULL DEFAULT '[]',
    last_change_ms INTEGER NOT NULL,
    PRIMARY KEY (crm, account, target)
);
";

/// The note a record's SMS are written into now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsConversation {
    pub last_item: String,
    pub text: String,
    pub last_change_ms: i64,
    pub lines: Vec<SmsLine>,
}

/// One line of a conversation note, with what orders it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SmsLine {
    pub at_ms: i64,
    pub id: String,
    pub line: String,
}

impl SmsLine {
    /// The SMS's order: its time, then its id (ids grow; a longer one is later).
    pub fn order(&self) -> (i64, usize, &str) {
        (self.at_ms, self.id.len(), self.id.as_str())
    }
}

impl Store {
    pub fn sms_conversation(
        &self,
        crm: &str,
        account: &str,
        target: &str,
    ) -> Result<Option<SmsConversation>, StoreError> {
        self.conn()
            .query_row(
                "SELECT last_item, text, last_change_ms, lines FROM sms_conversations WHERE crm = ?1 AND account = ?2 AND target = ?3",
                params![crm, account, target],
                |r| {
                    let lines: String = r.get(3)?;
                    Ok(SmsConversation {
                        last_item: r.get(0)?,
                        text: r.get(1)?,
                        last_change_ms: r.get(2)?,
                        lines: serde_json::from_str(&lines).unwrap_or_default(),
                    })
                },
            )
            .optional()
            .map_err(sql("reading an SMS conversation"))
    }

    /// The CRM refused to extend a note (too long): the SMS `first` starts a
    /// new note on its own, and the lines queued after it extend that one
    /// instead. `rewrites` are the new writes (the first one's, then each
    /// follower's, with its whole new text); `lines` the new note's lines.
    /// The record's open conversation becomes the new note when it was this
    /// chain. One transaction: after a crash, the first SMS starts the new
    /// note, never overwrites the old one with a single line.
    pub fn restart_sms_note(
        &self,
        first: &ItemKey,
        rewrites: &[(i64, Write)],
        lines: &[SmsLine],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting an SMS transaction"))?;
        for (n, (id, write)) in rewrites.iter().enumerate() {
            rewrite_in(&tx, *id, write, n == 0, now_ms)?;
        }
        let text = lines
            .iter()
            .map(|l| l.line.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let json = serde_json::to_string(lines).map_err(StoreError::CorruptSettings)?;
        let chain: Vec<String> = lines.iter().map(|l| format!("sms:{}", l.id)).collect();
        let open: Option<String> = tx
            .query_row(
                "SELECT last_item FROM sms_conversations WHERE crm = ?1 AND account = ?2 AND target = ?3",
                params![first.crm, first.account, first.target],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading an SMS conversation"))?;
        if open.is_some_and(|last| chain.contains(&last)) {
            tx.execute(
                "UPDATE sms_conversations SET text = ?4, lines = ?5 WHERE crm = ?1 AND account = ?2 AND target = ?3",
                params![first.crm, first.account, first.target, text, json],
            )
            .map_err(sql("restarting an SMS conversation"))?;
        }
        tx.commit().map_err(sql("committing a new SMS note"))
    }

    /// Queues one SMS's write and makes its note the record's open
    /// conversation (`lines` being the note's lines now, in order), in one
    /// transaction. An SMS already queued changes nothing: `false`.
    pub fn enqueue_sms(
        &self,
        key: &ItemKey,
        write: &Write,
        follows: Option<&ItemKey>,
        lines: &[SmsLine],
        at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let text = lines
            .iter()
            .map(|l| l.line.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let lines = serde_json::to_string(lines).map_err(StoreError::CorruptSettings)?;
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting an SMS transaction"))?;
        let (_, added) = enqueue_in(&tx, key, write, follows, now_ms)?;
        if added {
            tx.execute(
                "INSERT INTO sms_conversations (crm, account, target, last_item, text, last_change_ms, lines)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (crm, account, target) DO UPDATE SET last_item = excluded.last_item,
                     text = excluded.text, last_change_ms = MAX(last_change_ms, excluded.last_change_ms),
                     lines = excluded.lines",
                params![key.crm, key.account, key.target, key.call_id, text, at_ms, lines],
            )
            .map_err(sql("keeping an SMS conversation"))?;
        }
        tx.commit().map_err(sql("committing an SMS"))?;
        Ok(added)
    }
}
