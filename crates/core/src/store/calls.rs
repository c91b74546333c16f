//! The call tracker's tables: where each call is in its life
//! (`tracked_calls`: stage, logged, AI logged, insight card posted) and the
//! poll checkpoints (positions in feeds: the Aircall poll, a CRM's phone
//! index, contact sync). The stages' rules are `crate::tracker`'s.

use super::{sql, Store, StoreError};
use crate::tracker::{transition, CallEvent, CallSnapshot, Stage};
use rusqlite::{params, OptionalExtension};

/// Migration 5 (part): whether a call's AI update is in the outbox.
pub const MIGRATION_AI_LOGGED: &str =
    "ALTER TABLE tracked_calls ADD COLUMN ai_logged INTEGER NOT NULL DEFAULT 0;";

/// Migration 3 of the store.
pub const MIGRATION: &str = "
CREATE TABLE tracked_calls (
    call_id          INTEGER PRIMARY KEY,
    stage            TEXT    NOT NULL,
    started_at       INTEGER NOT NULL,
    final_due_ms     INTEGER,
    ai_deadline_ms   INTEGER,
    ai_next_check_ms INTEGER,
    logged           INTEGER NOT NULL DEFAULT 0,
    updated_ms       INTEGER NOT NULL
);
CREATE INDEX tracked_calls_stage ON tracked_calls (stage);
CREATE TABLE checkpoints (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// Migration 4: whether the call's insight card was posted to Aircall.
pub const MIGRATION_CARDS: &str =
    "ALTER TABLE tracked_calls ADD COLUMN card_posted INTEGER NOT NULL DEFAULT 0;";

impl Store {
    fn stage_of(&self, call_id: i64) -> Result<Option<Stage>, StoreError> {
        let stage: Option<String> = self
            .conn()
            .query_row(
                "SELECT stage FROM tracked_calls WHERE call_id = ?1",
                params![call_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading a call's stage"))?;
        Ok(stage.as_deref().map(Stage::parse))
    }

    /// Records what polling saw; returns the events it causes, once.
    pub fn observe_call(
        &self,
        snapshot: &CallSnapshot,
        settle_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<CallEvent>, StoreError> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting a tracker transaction"))?;
        let previous = self.stage_of(snapshot.call_id)?;
        let (stage, events) = transition(previous, snapshot);
        if previous != Some(stage) {
            let ended_ms = snapshot.ended_at.map(|s| s * 1000).unwrap_or(now_ms);
            let final_due = (stage == Stage::Ended).then_some(ended_ms + settle_ms);
            tx.execute(
                "INSERT INTO tracked_calls (call_id, stage, started_at, final_due_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (call_id) DO UPDATE SET stage = excluded.stage, final_due_ms = excluded.final_due_ms,
                 updated_ms = excluded.updated_ms",
                params![snapshot.call_id, stage.as_str(), snapshot.started_at, final_due, now_ms],
            )
            .map_err(sql("recording a call's stage"))?;
        }
        tx.commit().map_err(sql("committing a call's stage"))?;
        Ok(events)
    }

    /// Ended calls whose settle delay is over become final, once.
    pub fn take_due_finals(&self, ai_wait_ms: i64, now_ms: i64) -> Result<Vec<CallEvent>, StoreError> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting a tracker transaction"))?;
        let ids: Vec<i64> = {
            let mut statement = tx
                .prepare_cached("SELECT call_id FROM tracked_calls WHERE stage = 'ended' AND final_due_ms <= ?1 ORDER BY final_due_ms")
                .map_err(sql("finding due calls"))?;
            let rows = statement
                .query_map(params![now_ms], |r| r.get(0))
                .map_err(sql("finding due calls"))?;
            rows.collect::<Result<_, _>>().map_err(sql("finding due calls"))?
        };
        for id in &ids {
            tx.execute(
                "UPDATE tracked_calls SET stage = 'final', ai_deadline_ms = ?2, ai_next_check_ms = ?3, updated_ms = ?3
                 WHERE call_id = ?1",
                params![id, now_ms + ai_wait_ms, now_ms],
            )
            .map_err(sql("marking a call final"))?;
        }
        tx.commit().map_err(sql("committing final calls"))?;
        Ok(ids
            .into_iter()
            .map(|call_id| CallEvent::CallFinal { call_id })
            .collect())
    }

    /// Final calls whose log is not yet in the outbox (after a crash, say).
    pub fn finals_to_log(&self) -> Result<Vec<i64>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached("SELECT call_id FROM tracked_calls WHERE stage IN ('final', 'ai_ready', 'ai_given_up') AND logged = 0")
            .map_err(sql("finding calls to log"))?;
        let rows = statement
            .query_map([], |r| r.get(0))
            .map_err(sql("finding calls to log"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("finding calls to log"))
    }

    /// The call's log is in the outbox.
    pub fn mark_logged(&self, call_id: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE tracked_calls SET logged = 1 WHERE call_id = ?1",
                params![call_id],
            )
            .map_err(sql("marking a call logged"))?;
        Ok(())
    }

    /// Final calls whose AI data should be asked for now.
    pub fn ai_checks_due(&self, now_ms: i64) -> Result<Vec<i64>, StoreError> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting a tracker transaction"))?;
        tx.execute(
            "UPDATE tracked_calls SET stage = 'ai_given_up' WHERE stage = 'final' AND ai_deadline_ms <= ?1",
            params![now_ms],
        )
        .map_err(sql("giving up on AI data"))?;
        let ids: Vec<i64> = {
            let mut statement = tx
                .prepare_cached(
                    "SELECT call_id FROM tracked_calls WHERE stage = 'final' AND ai_next_check_ms <= ?1",
                )
                .map_err(sql("finding AI checks"))?;
            let rows = statement
                .query_map(params![now_ms], |r| r.get(0))
                .map_err(sql("finding AI checks"))?;
            rows.collect::<Result<_, _>>().map_err(sql("finding AI checks"))?
        };
        tx.commit().map_err(sql("committing AI checks"))?;
        Ok(ids)
    }

    /// AI data is not there yet: ask again at `next_ms`.
    pub fn schedule_ai_check(&self, call_id: i64, next_ms: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE tracked_calls SET ai_next_check_ms = ?2 WHERE call_id = ?1",
                params![call_id, next_ms],
            )
            .map_err(sql("scheduling an AI check"))?;
        Ok(())
    }

    /// AI data arrived: the event, once.
    pub fn mark_ai_ready(&self, call_id: i64, now_ms: i64) -> Result<Option<CallEvent>, StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE tracked_calls SET stage = 'ai_ready', updated_ms = ?2 WHERE call_id = ?1 AND stage = 'final'",
                params![call_id, now_ms],
            )
            .map_err(sql("marking AI ready"))?;
        Ok((changed == 1).then_some(CallEvent::AiReady { call_id }))
    }

    /// The oldest start (Unix s) of a call not yet ended: polling must keep
    /// re-reading from there, since Aircall has no "updated since".
    pub fn oldest_open_call(&self) -> Result<Option<i64>, StoreError> {
        self.conn()
            .query_row(
                "SELECT MIN(started_at) FROM tracked_calls WHERE stage IN ('ringing', 'answered')",
                [],
                |r| r.get(0),
            )
            .map_err(sql("finding open calls"))
    }

    /// Whether the call still wants its insight card: live (ringing or
    /// answered) and none posted yet.
    pub fn wants_card(&self, call_id: i64) -> Result<bool, StoreError> {
        let wants: Option<bool> = self
            .conn()
            .query_row(
                "SELECT stage IN ('ringing', 'answered') AND card_posted = 0 FROM tracked_calls WHERE call_id = ?1",
                params![call_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading a call's card state"))?;
        Ok(wants.unwrap_or(false))
    }

    pub fn mark_card_posted(&self, call_id: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE tracked_calls SET card_posted = 1 WHERE call_id = ?1",
                params![call_id],
            )
            .map_err(sql("marking a card posted"))?;
        Ok(())
    }

    pub fn call_stage(&self, call_id: i64) -> Result<Option<Stage>, StoreError> {
        self.stage_of(call_id)
    }

    pub fn checkpoint(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.conn()
            .query_row(
                "SELECT value FROM checkpoints WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading a checkpoint"))
    }

    pub fn set_checkpoint(&self, name: &str, value: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO checkpoints (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )
            .map_err(sql("saving a checkpoint"))?;
        Ok(())
    }
}

impl Store {
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
