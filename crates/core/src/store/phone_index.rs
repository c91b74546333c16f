//! The local phone index: E.164 number → the CRM records that hold it,
//! filled from each CRM's change feed so a card shows without a live search.

use super::{json_text, sql, Store, StoreError};
use crate::crm::{CrmAccount, CrmRecord};
use crate::phone::E164;
use rusqlite::params;

/// Migration 5 (part).
pub const MIGRATION: &str = "
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
";

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
}
