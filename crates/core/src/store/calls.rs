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

/// Migration 11 (part): what each call's log has been queued in, per CRM
/// (a call is logged once every selected CRM has it, so a CRM that cannot
/// sign in today gets its calls later), and the open calls' index.
/// Migration 14: calls given up on (Aircall never let them be read, or no
/// CRM would take them), with the reason the history shows.
pub const MIGRATION_NOT_LOGGED: &str = "
CREATE TABLE calls_not_logged (
    call_id INTEGER PRIMARY KEY,
    reason  TEXT    NOT NULL,
    at_ms   INTEGER NOT NULL
);
CREATE INDEX calls_not_logged_at ON calls_not_logged (at_ms);
";

pub const MIGRATION_LOGGED_PER_CRM: &str = "
CREATE TABLE call_crm_logs (
    call_id INTEGER NOT NULL,
    crm     TEXT    NOT NULL,
    what    TEXT    NOT NULL CHECK (what IN ('call', 'ai')),
    PRIMARY KEY (call_id, crm, what)
) WITHOUT ROWID;
CREATE INDEX tracked_calls_open ON tracked_calls (stage, started_at);
";

/// What of a call is queued for a CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queued {
    /// The call's first writes.
    Call,
    /// The AI update.
    Ai,
}

impl Queued {
    fn as_str(self) -> &'static str {
        match self {
            Self::Call => "call",
            Self::Ai => "ai",
        }
    }
}

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

    /// Aircall says the call is no longer this person's (a colleague answered
    /// it, it was transferred elsewhere): a call still open here is closed,
    /// with its event, once. A call that ended here stays as it is.
    pub fn observe_elsewhere(&self, call_id: i64, now_ms: i64) -> Result<Option<CallEvent>, StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE tracked_calls SET stage = 'elsewhere', updated_ms = ?2
                 WHERE call_id = ?1 AND stage IN ('ringing', 'answered')",
                params![call_id, now_ms],
            )
            .map_err(sql("closing a call taken elsewhere"))?;
        Ok((changed == 1).then_some(CallEvent::CallElsewhere { call_id }))
    }

    /// Open calls that started before `before` (Unix s, the look-back) are
    /// forgotten: too old to follow or log (calls a release before this one
    /// left open when a colleague answered them). Returns how many.
    pub fn forget_open_calls_before(&self, before: i64, now_ms: i64) -> Result<usize, StoreError> {
        self.conn()
            .execute(
                "UPDATE tracked_calls SET stage = 'elsewhere', updated_ms = ?2
                 WHERE stage IN ('ringing', 'answered') AND started_at < ?1",
                params![before, now_ms],
            )
            .map_err(sql("forgetting old open calls"))
    }

    /// Open calls (ringing or answered here) that started before `before`
    /// (Unix s), least recently checked first: those a poll of recent calls
    /// no longer covers, to be asked for one by one.
    pub fn open_calls_before(&self, before: i64, limit: u32) -> Result<Vec<i64>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached(
                "SELECT call_id FROM tracked_calls WHERE stage IN ('ringing', 'answered') AND started_at < ?1
                 ORDER BY updated_ms LIMIT ?2",
            )
            .map_err(sql("finding open calls"))?;
        let rows = statement
            .query_map(params![before, limit], |r| r.get(0))
            .map_err(sql("finding open calls"))?;
        rows.collect::<Result<_, _>>().map_err(sql("finding open calls"))
    }

    /// When the call's stage last changed or it was last checked (Unix ms).
    pub fn call_checked_ms(&self, call_id: i64) -> Result<Option<i64>, StoreError> {
        self.conn()
            .query_row(
                "SELECT updated_ms FROM tracked_calls WHERE call_id = ?1",
                params![call_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading when a call was checked"))
    }

    /// The call was asked for and is unchanged: others take their turn first.
    pub fn mark_call_checked(&self, call_id: i64, now_ms: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE tracked_calls SET updated_ms = ?2 WHERE call_id = ?1",
                params![call_id, now_ms],
            )
            .map_err(sql("marking a call checked"))?;
        Ok(())
    }

    /// The CRMs `what` of the call is queued in.
    pub fn queued_in(&self, call_id: i64, what: Queued) -> Result<Vec<String>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached("SELECT crm FROM call_crm_logs WHERE call_id = ?1 AND what = ?2 ORDER BY crm")
            .map_err(sql("reading where a call is queued"))?;
        let rows = statement
            .query_map(params![call_id, what.as_str()], |r| r.get(0))
            .map_err(sql("reading where a call is queued"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("reading where a call is queued"))
    }

    /// Final calls whose writes are not yet in this CRM's outbox (it cannot
    /// sign in or answer): they wait for it.
    pub fn calls_waiting_for(&self, crm: &str) -> Result<u32, StoreError> {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM tracked_calls t WHERE t.stage IN ('final', 'ai_ready', 'ai_given_up')
                 AND t.logged = 0 AND NOT EXISTS (SELECT 1 FROM call_crm_logs l
                 WHERE l.call_id = t.call_id AND l.crm = ?1 AND l.what = 'call')",
                params![crm],
                |r| r.get(0),
            )
            .map_err(sql("counting calls waiting for a CRM"))
    }

    /// `what` of the call is in the CRM's outbox.
    pub fn mark_queued_in(&self, call_id: i64, crm: &str, what: Queued) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO call_crm_logs (call_id, crm, what) VALUES (?1, ?2, ?3)",
                params![call_id, crm, what.as_str()],
            )
            .map_err(sql("marking a call queued in a CRM"))?;
        Ok(())
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
    /// Calls whose AI data arrived and whose update is not yet in every
    /// CRM's outbox (a CRM gets it once the call's first writes are there).
    pub fn ai_to_log(&self) -> Result<Vec<i64>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached(
                "SELECT call_id FROM tracked_calls WHERE stage = 'ai_ready' AND ai_logged = 0
                 AND (logged = 1 OR EXISTS (SELECT 1 FROM call_crm_logs l WHERE l.call_id = tracked_calls.call_id))",
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

    /// Gives up on a call for good: it leaves the calls to log (and its AI
    /// update with it), and the history shows it as not logged, with `reason`.
    pub fn give_up_on_call(&self, call_id: i64, reason: &str, at_ms: i64) -> Result<(), StoreError> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("giving up on a call"))?;
        tx.execute(
            "INSERT INTO calls_not_logged (call_id, reason, at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (call_id) DO UPDATE SET reason = excluded.reason, at_ms = excluded.at_ms",
            params![call_id, reason, at_ms],
        )
        .map_err(sql("giving up on a call"))?;
        tx.execute(
            "UPDATE tracked_calls SET logged = 1, ai_logged = 1 WHERE call_id = ?1",
            params![call_id],
        )
        .map_err(sql("giving up on a call"))?;
        tx.commit().map_err(sql("giving up on a call"))
    }

    /// The newest `limit` calls given up on: `(call_id, reason, at_ms)`.
    pub fn calls_not_logged(&self, limit: u32) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached(
                "SELECT call_id, reason, at_ms FROM calls_not_logged ORDER BY at_ms DESC LIMIT ?1",
            )
            .map_err(sql("reading the calls not logged"))?;
        let rows = statement
            .query_map(params![limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql("reading the calls not logged"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("reading the calls not logged"))
    }
}
