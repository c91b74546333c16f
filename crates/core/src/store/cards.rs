//! The caller cards (one per call and CRM) and the record the user picked
//! for a number (`call_cards`, `number_choices`).

use super::{json_text, sql, Store, StoreError};
use crate::activity::Direction;
use crate::card::Card;
use crate::crm::{CrmAccount, RecordRef};
use rusqlite::{params, OptionalExtension};

/// Migration 5 (part): cards and the user's picks.
pub const MIGRATION: &str = "
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

fn card_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Card> {
    let matches: String = r.get(4)?;
    let chosen: Option<String> = r.get(5)?;
    Ok(Card {
        call_id: r.get(0)?,
        number: r.get(1)?,
        direction: direction_of(&r.get::<_, String>(2)?),
        crm: r.get(3)?,
        matches: serde_json::from_str(&matches).unwrap_or_default(),
        chosen: chosen.and_then(|c| serde_json::from_str(&c).ok()),
        account: r.get(6)?,
        from_index: false,
    })
}

impl Store {
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
                    direction_text(card.direction),
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
}

/// How a direction is written in `call_cards` (the words of the first schema).
fn direction_text(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}

fn direction_of(text: &str) -> Direction {
    match text {
        "outbound" => Direction::Outbound,
        _ => Direction::Inbound,
    }
}
