//! Which Aircall contact holds a CRM record's number (contact sync: one
//! Aircall contact per number, overwritten rather than doubled).

use super::{sql, Store, StoreError};
use crate::card::target_key;
use crate::crm::{CrmAccount, RecordRef};
use crate::phone::E164;
use rusqlite::{params, OptionalExtension};

/// Migration 5 (part).
pub const MIGRATION: &str = "
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

impl Store {
    /// How many numbers contact sync has put into Aircall.
    pub fn synced_contact_numbers(&self) -> Result<u64, StoreError> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM contact_map", [], |r| r.get(0))
            .map_err(sql("counting the synced contacts"))
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
}
