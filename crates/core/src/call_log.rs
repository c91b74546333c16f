//! From a call to what the CRM receives, CRM-agnostic: who the caller is
//! (the local phone index first, the CRM's live search as a fallback), the
//! card a ringing call shows and the record the user picked on it, and the
//! writes a final call puts in the outbox (and the update once AI data
//! arrives). The CRM decides the shape of its writes through
//! [`Crm::call_writes`]; this module decides when and to whom.

use crate::activity::{FinalCall, LogOptions};
use crate::crm::{Crm, CrmAccount, CrmError, CrmRecord, RecordKind, RecordRef};
use crate::outbox::{ItemKey, ItemKind};
use crate::phone::E164;
use crate::settings::Settings;
use crate::store::{sql, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// Migration 5: cards, the user's picks, the local phone index, AI logged.
pub const MIGRATION: &str = "
ALTER TABLE tracked_calls ADD COLUMN ai_logged INTEGER NOT NULL DEFAULT 0;
CREATE TABLE call_cards (
    call_id    INTEGER PRIMARY KEY,
    number     TEXT    NOT NULL,
    direction  TEXT    NOT NULL,
    crm        TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    matches    TEXT    NOT NULL,
    chosen     TEXT,
    seen_ms    INTEGER NOT NULL
);
CREATE TABLE number_choices (
    crm     TEXT NOT NULL,
    account TEXT NOT NULL,
    number  TEXT NOT NULL,
    record  TEXT NOT NULL,
    PRIMARY KEY (crm, account, number)
);
CREATE TABLE phone_index (
    crm        TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    number     TEXT    NOT NULL,
    record     TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (crm, account, kind, id, number)
);
CREATE INDEX phone_index_number ON phone_index (crm, account, number);
CREATE TABLE contact_map (
    crm                TEXT    NOT NULL,
    account            TEXT    NOT NULL,
    number             TEXT    NOT NULL,
    record             TEXT    NOT NULL,
    aircall_contact_id INTEGER NOT NULL,
    synced_ms          INTEGER NOT NULL,
    PRIMARY KEY (crm, account, number)
);
";

/// Migration 6: a card per call *and CRM*, for several CRMs at once.
pub const MIGRATION_CARDS_PER_CRM: &str = "
CREATE TABLE call_cards_per_crm (
    call_id    INTEGER NOT NULL,
    number     TEXT    NOT NULL,
    direction  TEXT    NOT NULL,
    crm        TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    matches    TEXT    NOT NULL,
    chosen     TEXT,
    seen_ms    INTEGER NOT NULL,
    PRIMARY KEY (call_id, crm)
);
INSERT INTO call_cards_per_crm SELECT call_id, number, direction, crm, account, matches, chosen, seen_ms FROM call_cards;
DROP TABLE call_cards;
ALTER TABLE call_cards_per_crm RENAME TO call_cards;
";

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
    pub direction: String,
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

fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

impl Store {
    /// Replaces a record's entries in the phone index (one row per number).
    pub fn index_records(&self, account: &CrmAccount, records: &[CrmRecord]) -> Result<(), StoreError> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting an index update"))?;
        for record in records {
            let kind = json_text(&record.record.kind);
            tx.execute(
                "DELETE FROM phone_index WHERE crm = ?1 AND account = ?2 AND kind = ?3 AND id = ?4",
                params![account.crm, account.account, kind, record.record.id],
            )
            .map_err(sql("updating the phone index"))?;
            let text = json_text(record);
            for number in &record.phones {
                tx.execute(
                    "INSERT OR REPLACE INTO phone_index (crm, account, kind, id, number, record, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        account.crm,
                        account.account,
                        kind,
                        record.record.id,
                        number.as_str(),
                        text,
                        record.updated_ms
                    ],
                )
                .map_err(sql("updating the phone index"))?;
            }
        }
        tx.commit().map_err(sql("committing the phone index"))
    }

    /// The indexed records with this number.
    pub fn index_lookup(&self, account: &CrmAccount, number: &E164) -> Result<Vec<CrmRecord>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached("SELECT record FROM phone_index WHERE crm = ?1 AND account = ?2 AND number = ?3")
            .map_err(sql("reading the phone index"))?;
        let rows = statement
            .query_map(params![account.crm, account.account, number.as_str()], |r| {
                r.get::<_, String>(0)
            })
            .map_err(sql("reading the phone index"))?;
        let mut found = Vec::new();
        for text in rows {
            let text = text.map_err(sql("reading the phone index"))?;
            // Rows are only written from records; an unreadable one is skipped, not fatal.
            if let Ok(record) = serde_json::from_str(&text) {
                found.push(record);
            }
        }
        Ok(found)
    }

    pub fn index_size(&self, account: &CrmAccount) -> Result<u64, StoreError> {
        self.conn()
            .query_row(
                "SELECT COUNT(DISTINCT kind || ':' || id) FROM phone_index WHERE crm = ?1 AND account = ?2",
                params![account.crm, account.account],
                |r| r.get(0),
            )
            .map_err(sql("counting the phone index"))
    }

    pub fn save_card(&self, card: &Card, now_ms: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO call_cards (call_id, number, direction, crm, account, matches, chosen, seen_ms)
                 VALUES (?1, ?2, ?3, ?4, ?8, ?5, ?6, ?7)
                 ON CONFLICT (call_id, crm) DO UPDATE SET matches = excluded.matches,
                     chosen = COALESCE(call_cards.chosen, excluded.chosen)",
                params![
                    card.call_id,
                    card.number,
                    card.direction,
                    card.crm,
                    json_text(&card.matches),
                    card.chosen.as_ref().map(json_text),
                    now_ms,
                    card.account
                ],
            )
            .map_err(sql("saving a card"))?;
        Ok(())
    }

    /// The card a CRM made for a call.
    pub fn card(&self, call_id: i64, crm: &str) -> Result<Option<Card>, StoreError> {
        self.conn()
            .query_row(
                "SELECT call_id, number, direction, crm, matches, chosen, account FROM call_cards
                 WHERE call_id = ?1 AND crm = ?2",
                params![call_id, crm],
                card_row,
            )
            .optional()
            .map_err(sql("reading a card"))
    }

    /// Every CRM's card for a call (several CRMs may be on).
    pub fn cards(&self, call_id: i64) -> Result<Vec<Card>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached(
                "SELECT call_id, number, direction, crm, matches, chosen, account FROM call_cards
                 WHERE call_id = ?1 ORDER BY crm",
            )
            .map_err(sql("reading cards"))?;
        let rows = statement
            .query_map(params![call_id], card_row)
            .map_err(sql("reading cards"))?;
        rows.collect::<Result<_, _>>().map_err(sql("reading cards"))
    }

    /// The most recent cards, newest first (the history window).
    pub fn recent_cards(&self, limit: u32) -> Result<Vec<(Card, i64)>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached(
                "SELECT call_id, number, direction, crm, matches, chosen, account, seen_ms FROM call_cards
                 ORDER BY seen_ms DESC, call_id DESC LIMIT ?1",
            )
            .map_err(sql("reading recent cards"))?;
        let rows = statement
            .query_map(params![limit], |r| Ok((card_row(r)?, r.get(7)?)))
            .map_err(sql("reading recent cards"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("reading recent cards"))
    }

    /// The user picked `record` on the card: used for this call's log and
    /// remembered for the number.
    pub fn choose(&self, call_id: i64, crm: &str, record: &RecordRef) -> Result<bool, StoreError> {
        let Some(card) = self.card(call_id, crm)? else {
            return Ok(false);
        };
        let account = CrmAccount {
            crm: card.crm.clone(),
            account: card.account.clone(),
        };
        if !card.matches.iter().any(|m| &m.record == record) {
            return Ok(false);
        }
        let text = json_text(record);
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("saving a choice"))?;
        tx.execute(
            "UPDATE call_cards SET chosen = ?2 WHERE call_id = ?1 AND crm = ?3",
            params![call_id, text, crm],
        )
        .map_err(sql("saving a choice"))?;
        tx.execute(
            "INSERT OR REPLACE INTO number_choices (crm, account, number, record) VALUES (?1, ?2, ?3, ?4)",
            params![account.crm, account.account, card.number, text],
        )
        .map_err(sql("remembering a choice"))?;
        tx.commit().map_err(sql("saving a choice"))?;
        Ok(true)
    }

    pub fn number_choice(&self, account: &CrmAccount, number: &str) -> Result<Option<RecordRef>, StoreError> {
        let text: Option<String> = self
            .conn()
            .query_row(
                "SELECT record FROM number_choices WHERE crm = ?1 AND account = ?2 AND number = ?3",
                params![account.crm, account.account, number],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading a remembered choice"))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// The Aircall contact that carries this number for a CRM record.
    pub fn map_contact(
        &self,
        account: &CrmAccount,
        number: &E164,
        record: &RecordRef,
        aircall_contact_id: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO contact_map (crm, account, number, record, aircall_contact_id, synced_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![account.crm, account.account, number.as_str(), target_key(record), aircall_contact_id, now_ms],
            )
            .map_err(sql("mapping a contact"))?;
        Ok(())
    }

    /// The Aircall contact mapped to a number: its id, the CRM record
    /// (`contact:42`) and when it was last brought in step.
    pub fn mapped_contact(
        &self,
        account: &CrmAccount,
        number: &E164,
    ) -> Result<Option<(i64, String, i64)>, StoreError> {
        self.conn()
            .query_row(
                "SELECT aircall_contact_id, record, synced_ms FROM contact_map
                 WHERE crm = ?1 AND account = ?2 AND number = ?3",
                params![account.crm, account.account, number.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(sql("reading the contact map"))
    }

    /// Calls whose AI data arrived and whose update is not yet in the outbox.
    pub fn ai_to_log(&self) -> Result<Vec<i64>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached(
                "SELECT call_id FROM tracked_calls WHERE stage = 'ai_ready' AND logged = 1 AND ai_logged = 0",
            )
            .map_err(sql("finding AI updates"))?;
        let rows = statement
            .query_map([], |r| r.get(0))
            .map_err(sql("finding AI updates"))?;
        rows.collect::<Result<_, _>>().map_err(sql("finding AI updates"))
    }

    pub fn mark_ai_logged(&self, call_id: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE tracked_calls SET ai_logged = 1 WHERE call_id = ?1",
                params![call_id],
            )
            .map_err(sql("marking AI logged"))?;
        Ok(())
    }
}

fn card_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Card> {
    let matches: String = r.get(4)?;
    let chosen: Option<String> = r.get(5)?;
    Ok(Card {
        call_id: r.get(0)?,
        number: r.get(1)?,
        direction: r.get(2)?,
        crm: r.get(3)?,
        matches: serde_json::from_str(&matches).unwrap_or_default(),
        chosen: chosen.and_then(|c| serde_json::from_str(&c).ok()),
        account: r.get(6)?,
        from_index: false,
    })
}

/// One CRM, seen from the call pipeline.
pub struct CallLog {
    store: Arc<Mutex<Store>>,
    crm: Arc<dyn Crm>,
}

fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, thiserror::Error)]
pub enum CallLogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crm(#[from] CrmError),
}

impl CallLog {
    pub fn new(store: Arc<Mutex<Store>>, crm: Arc<dyn Crm>) -> Self {
        Self { store, crm }
    }

    pub fn crm(&self) -> &Arc<dyn Crm> {
        &self.crm
    }

    /// Who has this number: the phone index when it knows, else the CRM's
    /// live search (whose answers then join the index).
    pub async fn find_caller(&self, number: &E164) -> Result<Vec<CrmRecord>, CallLogError> {
        Ok(self.find_caller_noting_source(number).await?.0)
    }

    /// The records, and whether they came from the index (true) or the live search.
    pub async fn find_caller_noting_source(
        &self,
        number: &E164,
    ) -> Result<(Vec<CrmRecord>, bool), CallLogError> {
        let account = self.crm.account();
        let indexed = lock(&self.store).index_lookup(&account, number)?;
        if !indexed.is_empty() {
            return Ok((self.crm.order_matches(indexed), true));
        }
        let found = self.crm.lookup(number).await?;
        lock(&self.store).index_records(&account, &found)?;
        Ok((self.crm.order_matches(found), false))
    }

    /// Brings the phone index up to date with the CRM's changes since the
    /// last refresh (everything, the first time). Returns the records seen.
    pub async fn refresh_index(&self, now_ms: i64) -> Result<usize, CallLogError> {
        let account = self.crm.account();
        let checkpoint = format!("index:{}:{}", account.crm, account.account);
        let since = lock(&self.store).checkpoint(&checkpoint)?.unwrap_or(0);
        let mut cursor: Option<String> = None;
        let mut seen = 0;
        loop {
            let page = self.crm.changed_since(since, cursor.as_deref()).await?;
            seen += page.records.len();
            lock(&self.store).index_records(&account, &page.records)?;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // A record changed during the read is read again next time: a minute of overlap.
        lock(&self.store).set_checkpoint(&checkpoint, (now_ms - 60_000).max(0))?;
        Ok(seen)
    }

    /// The card of a ringing call, saved for the window and the log.
    pub async fn card_for(
        &self,
        call_id: i64,
        number: &E164,
        direction: &str,
        now_ms: i64,
    ) -> Result<Card, CallLogError> {
        let (matches, from_index) = self.find_caller_noting_source(number).await?;
        let account = self.crm.account();
        let remembered = lock(&self.store).number_choice(&account, number.as_str())?;
        let chosen = crate::matching::remembered(&matches, remembered.as_ref()).map(|r| r.record.clone());
        let card = Card {
            call_id,
            number: number.as_str().to_owned(),
            direction: direction.to_owned(),
            crm: account.crm.clone(),
            account: account.account.clone(),
            matches,
            chosen,
            from_index,
        };
        lock(&self.store).save_card(&card, now_ms)?;
        Ok(card)
    }

    /// After a card was shown from the index: the live search confirms and
    /// completes it (a record the index does not know yet, a number stored
    /// in a form the index could not read). Returns whether the card changed.
    pub async fn complete_card(
        &self,
        call_id: i64,
        number: &E164,
        now_ms: i64,
    ) -> Result<bool, CallLogError> {
        let found = self.crm.lookup(number).await?;
        let account = self.crm.account();
        lock(&self.store).index_records(&account, &found)?;
        let Some(mut card) = lock(&self.store).card(call_id, &account.crm)? else {
            return Ok(false);
        };
        let mut changed = false;
        for mut record in found {
            match card.matches.iter_mut().find(|m| m.record == record.record) {
                Some(known) if *known != record => {
                    // A search hit carries less than a full record: keep what the index knew.
                    record.owner = record.owner.or(known.owner.take());
                    record.position = record.position.or(known.position.take());
                    record.company = record.company.or(known.company.take());
                    record.email = record.email.or(known.email.take());
                    record.company_id = record.company_id.or(known.company_id.take());
                    record.opportunity = record.opportunity.or(known.opportunity.take());
                    changed |= *known != record;
                    *known = record;
                }
                Some(_) => {}
                None => {
                    card.matches.push(record);
                    changed = true;
                }
            }
        }
        if changed {
            card.matches = self.crm.order_matches(card.matches);
            lock(&self.store).save_card(&card, now_ms)?;
        }
        Ok(changed)
    }

    /// Puts a final call's writes in the outbox and marks it logged, or marks
    /// it logged with nothing to write (no caller, the duplicates rule). The
    /// outbox's unique key makes a second run after a crash harmless.
    pub async fn log_final(
        &self,
        call: &FinalCall,
        number: Option<&E164>,
        settings: &Settings,
        now_ms: i64,
    ) -> Result<usize, CallLogError> {
        let queued = self.queue_final(call, number, settings, now_ms).await?;
        lock(&self.store).mark_logged(call.call_id)?;
        Ok(queued)
    }

    /// A final call's writes into the outbox, without marking the call
    /// logged: with several CRMs, the call is logged once all have queued.
    pub async fn queue_final(
        &self,
        call: &FinalCall,
        number: Option<&E164>,
        settings: &Settings,
        now_ms: i64,
    ) -> Result<usize, CallLogError> {
        let options = LogOptions {
            ai: settings.log_ai_info,
            recording_link: settings.log_recording_link,
        };
        let writes = self.planned_writes(call, number, settings, options).await?;
        let store = lock(&self.store);
        for (key, write) in &writes {
            store.enqueue(key, write, None, now_ms)?;
        }
        Ok(writes.len())
    }

    /// After AI data arrived: the same writes again, with it, as updates of
    /// the first ones. Nothing when the setting is off or nothing was written.
    pub async fn log_ai(
        &self,
        call: &FinalCall,
        number: Option<&E164>,
        settings: &Settings,
        now_ms: i64,
    ) -> Result<usize, CallLogError> {
        let queued = self.queue_ai(call, number, settings, now_ms).await?;
        lock(&self.store).mark_ai_logged(call.call_id)?;
        Ok(queued)
    }

    /// The AI updates into the outbox, without marking them done (see [`Self::queue_final`]).
    pub async fn queue_ai(
        &self,
        call: &FinalCall,
        number: Option<&E164>,
        settings: &Settings,
        now_ms: i64,
    ) -> Result<usize, CallLogError> {
        let mut count = 0;
        if settings.log_ai_info && call.ai.is_some() {
            let options = LogOptions {
                ai: true,
                recording_link: settings.log_recording_link,
            };
            let writes = self.planned_writes(call, number, settings, options).await?;
            let store = lock(&self.store);
            for (first, write) in &writes {
                // Only what was written first is updated.
                if store.outbox_key_exists(first)? {
                    let update = ItemKey {
                        kind: ItemKind::CallUpdate,
                        ..first.clone()
                    };
                    store.enqueue(&update, write, Some(first), now_ms)?;
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    /// The CRM's writes for a call, each under its first-write outbox key.
    async fn planned_writes(
        &self,
        call: &FinalCall,
        number: Option<&E164>,
        settings: &Settings,
        options: LogOptions,
    ) -> Result<Vec<(ItemKey, crate::crm::Write)>, CallLogError> {
        let (matches, chosen) = self.matches_for(call.call_id, number).await?;
        let account = self.crm.account();
        Ok(self
            .crm
            .call_writes(call, &matches, chosen.as_ref(), settings, options)
            .into_iter()
            .map(|(target, write)| {
                let key = ItemKey {
                    crm: account.crm.clone(),
                    account: account.account.clone(),
                    call_id: call.call_id.to_string(),
                    kind: ItemKind::Call,
                    target,
                };
                (key, write)
            })
            .collect())
    }

    /// The card's matches and pick when the call rang here; otherwise (a call
    /// caught up later, an outbound call) a fresh search and the remembered pick.
    async fn matches_for(
        &self,
        call_id: i64,
        number: Option<&E164>,
    ) -> Result<(Vec<CrmRecord>, Option<RecordRef>), CallLogError> {
        let account = self.crm.account();
        let card = lock(&self.store).card(call_id, &account.crm)?;
        if let Some(card) = card {
            let remembered = match &card.chosen {
                Some(chosen) => Some(chosen.clone()),
                None => lock(&self.store).number_choice(&account, &card.number)?,
            };
            let chosen =
                crate::matching::remembered(&card.matches, remembered.as_ref()).map(|r| r.record.clone());
            return Ok((card.matches, chosen));
        }
        let Some(number) = number else {
            return Ok((Vec::new(), None));
        };
        let matches = self.find_caller(number).await?;
        let remembered = lock(&self.store).number_choice(&account, number.as_str())?;
        let chosen = crate::matching::remembered(&matches, remembered.as_ref()).map(|r| r.record.clone());
        Ok((matches, chosen))
    }
}
