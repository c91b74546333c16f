//! SMS waiting to be logged: the team hub pushes each SMS once, so it is kept
//! here until every selected CRM has taken it (queued its writes, or found
//! no record for the number) — a CRM that signs in late still gets it.

use super::{sql, Store, StoreError};
use rusqlite::params;

/// Part of migration 13.
pub const MIGRATION: &str = "
CREATE TABLE sms_inbox (
    id        TEXT    PRIMARY KEY,
    json      TEXT    NOT NULL,
    added_ms  INTEGER NOT NULL
);
CREATE TABLE sms_taken (
    id   TEXT NOT NULL,
    crm  TEXT NOT NULL,
    PRIMARY KEY (id, crm)
);
-- SMS from a number no record has: not logged, shown in the history.
CREATE TABLE sms_without_record (
    id          TEXT    PRIMARY KEY,
    other_party TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL
);
CREATE INDEX sms_without_record_at ON sms_without_record (at_ms);
";

impl Store {
    /// Keeps an SMS to log (once: the same id again changes nothing).
    pub fn add_sms(&self, id: &str, json: &str, now_ms: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO sms_inbox (id, json, added_ms) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
                params![id, json, now_ms],
            )
            .map_err(sql("keeping an SMS"))?;
        Ok(())
    }

    /// The SMS still to log, oldest first, with the CRMs that took each.
    pub fn sms_to_log(&self) -> Result<Vec<(String, String, Vec<String>)>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT i.id, i.json, COALESCE(GROUP_CONCAT(t.crm), '') FROM sms_inbox i
                 LEFT JOIN sms_taken t ON t.id = i.id GROUP BY i.id ORDER BY i.added_ms, i.rowid",
            )
            .map_err(sql("reading SMS to log"))?;
        let rows = statement
            .query_map([], |r| {
                let taken: String = r.get(2)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    taken
                        .split(',')
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned)
                        .collect(),
                ))
            })
            .map_err(sql("reading SMS to log"))?;
        rows.collect::<Result<_, _>>().map_err(sql("reading SMS to log"))
    }

    /// `crm` took the SMS.
    pub fn mark_sms_taken(&self, id: &str, crm: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO sms_taken (id, crm) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![id, crm],
            )
            .map_err(sql("marking an SMS taken"))?;
        Ok(())
    }

    pub fn note_sms_without_record(&self, id: &str, other_party: &str, at_ms: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO sms_without_record (id, other_party, at_ms) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
                params![id, other_party, at_ms],
            )
            .map_err(sql("noting an SMS without a record"))?;
        Ok(())
    }

    /// The newest SMS that no record had: (id, other party, time).
    pub fn sms_without_record(&self, limit: u32) -> Result<Vec<(String, String, i64)>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT id, other_party, at_ms FROM sms_without_record ORDER BY at_ms DESC LIMIT ?1",
            )
            .map_err(sql("reading SMS without a record"))?;
        let rows = statement
            .query_map(params![limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql("reading SMS without a record"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("reading SMS without a record"))
    }

    /// Every CRM took it: it leaves the inbox.
    pub fn forget_sms(&self, id: &str) -> Result<(), StoreError> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting an SMS transaction"))?;
        tx.execute("DELETE FROM sms_inbox WHERE id = ?1", params![id])
            .map_err(sql("forgetting an SMS"))?;
        tx.execute("DELETE FROM sms_taken WHERE id = ?1", params![id])
            .map_err(sql("forgetting an SMS"))?;
        tx.commit().map_err(sql("committing an SMS"))
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    #[test]
    fn an_sms_stays_until_every_crm_took_it_and_is_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        store.add_sms("SM1", "{}", 1).unwrap();
        store.add_sms("SM2", "{}", 2).unwrap();
        store.add_sms("SM1", "{\"again\":1}", 3).unwrap();
        store.mark_sms_taken("SM1", "jobadder").unwrap();
        let waiting = store.sms_to_log().unwrap();
        assert_eq!(waiting.len(), 2);
        assert_eq!(waiting[0], ("SM1".into(), "{}".into(), vec!["jobadder".into()]));
        assert!(waiting[1].2.is_empty());
        store.forget_sms("SM1").unwrap();
        assert_eq!(store.sms_to_log().unwrap().len(), 1);
    }
}
