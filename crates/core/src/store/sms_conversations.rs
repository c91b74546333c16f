//! SMS conversations in conversation mode: per CRM account and record, the
//! note SMS are being written into — its text so far, when it last changed,
//! and the outbox item of its last line (the next line's write follows it,
//! so lines go out in order and each write carries the whole text: written
//! twice after a crash, it is the same note, never a line twice).

use super::outbox::enqueue_in;
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
                "SELECT last_item, text, last_change_ms FROM sms_conversations WHERE crm = ?1 AND account = ?2 AND target = ?3",
                params![crm, account, target],
                |r| {
                    Ok(SmsConversation {
                        last_item: r.get(0)?,
                        text: r.get(1)?,
                        last_change_ms: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(sql("reading an SMS conversation"))
    }

    /// Queues one SMS's write and makes its note the record's open
    /// conversation (`text` being the note's whole text now), in one
    /// transaction. An SMS already queued changes nothing: `false`.
    pub fn enqueue_sms(
        &self,
        key: &ItemKey,
        write: &Write,
        follows: Option<&ItemKey>,
        text: &str,
        at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting an SMS transaction"))?;
        let (_, added) = enqueue_in(&tx, key, write, follows, now_ms)?;
        if added {
            tx.execute(
                "INSERT INTO sms_conversations (crm, account, target, last_item, text, last_change_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (crm, account, target) DO UPDATE SET last_item = excluded.last_item,
                     text = excluded.text, last_change_ms = excluded.last_change_ms",
                params![key.crm, key.account, key.target, key.call_id, text, at_ms],
            )
            .map_err(sql("keeping an SMS conversation"))?;
        }
        tx.commit().map_err(sql("committing an SMS"))?;
        Ok(added)
    }
}
