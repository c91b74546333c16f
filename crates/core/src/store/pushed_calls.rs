//! What the team hub pushed about each call: the latest call resource (by
//! Aircall's event time, since deliveries can come out of order) and the AI
//! results, so that a call is logged from what was pushed without asking
//! Aircall again. Kept as the text Aircall sent: the store does not read it.

use super::{sql, Store, StoreError};
use rusqlite::{params, OptionalExtension};

/// Migration 12.
pub const MIGRATION: &str = "
CREATE TABLE pushed_calls (
    call_id       INTEGER PRIMARY KEY,
    -- Aircall's timestamp (Unix s) of the event the call resource came with.
    event_ts      INTEGER NOT NULL,
    call_json     TEXT,
    insights_json TEXT,
    updated_ms    INTEGER NOT NULL
);
CREATE INDEX pushed_calls_updated ON pushed_calls (updated_ms);
";

impl Store {
    /// Keeps a pushed call resource unless a later event's is already kept.
    pub fn keep_pushed_call(
        &self,
        call_id: i64,
        event_ts: i64,
        call_json: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO pushed_calls (call_id, event_ts, call_json, updated_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (call_id) DO UPDATE SET event_ts = excluded.event_ts,
                     call_json = excluded.call_json, updated_ms = excluded.updated_ms
                 WHERE pushed_calls.call_json IS NULL OR excluded.event_ts >= pushed_calls.event_ts",
                params![call_id, event_ts, call_json, now_ms],
            )
            .map_err(sql("keeping a pushed call"))?;
        Ok(())
    }

    /// The latest pushed call resource, if the hub sent one.
    pub fn pushed_call(&self, call_id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT call_json FROM pushed_calls WHERE call_id = ?1",
                params![call_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map_err(sql("reading a pushed call"))?
            .flatten())
    }

    /// The pushed AI results of a call, as last kept.
    pub fn pushed_insights(&self, call_id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT insights_json FROM pushed_calls WHERE call_id = ?1",
                params![call_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map_err(sql("reading pushed AI results"))?
            .flatten())
    }

    pub fn keep_pushed_insights(
        &self,
        call_id: i64,
        insights_json: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO pushed_calls (call_id, event_ts, insights_json, updated_ms) VALUES (?1, 0, ?2, ?3)
                 ON CONFLICT (call_id) DO UPDATE SET insights_json = excluded.insights_json, updated_ms = excluded.updated_ms",
                params![call_id, insights_json, now_ms],
            )
            .map_err(sql("keeping pushed AI results"))?;
        Ok(())
    }

    /// Forgets what was pushed before `before_ms` (calls long logged).
    pub fn forget_pushed_before(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.conn()
            .execute(
                "DELETE FROM pushed_calls WHERE updated_ms < ?1",
                params![before_ms],
            )
            .map_err(sql("forgetting pushed calls"))
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    #[test]
    fn a_late_delivery_of_an_older_event_does_not_replace_the_newer_call() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        store.keep_pushed_call(7, 100, r#"{"v":"ended"}"#, 1).unwrap();
        store.keep_pushed_call(7, 90, r#"{"v":"created"}"#, 2).unwrap();
        assert_eq!(store.pushed_call(7).unwrap().as_deref(), Some(r#"{"v":"ended"}"#));
        store.keep_pushed_call(7, 100, r#"{"v":"tagged"}"#, 3).unwrap();
        assert_eq!(
            store.pushed_call(7).unwrap().as_deref(),
            Some(r#"{"v":"tagged"}"#)
        );
        store.keep_pushed_insights(8, r#"{"summary":"s"}"#, 4).unwrap();
        assert_eq!(store.pushed_call(8).unwrap(), None);
        store.keep_pushed_call(8, 50, r#"{"v":"ended"}"#, 5).unwrap();
        assert_eq!(
            store.pushed_insights(8).unwrap().as_deref(),
            Some(r#"{"summary":"s"}"#)
        );
        assert_eq!(store.forget_pushed_before(5).unwrap(), 1);
        assert_eq!(store.pushed_call(7).unwrap(), None);
    }
}
