//! The call tracker: what webhooks would have said, derived from polling.
//!
//! Each call moves ringing → answered → ended → final (the settle delay after
//! it ended, when Aircall has completed tags, notes and duration) → AI ready
//! (or AI given up after the wait). The stage of every call is kept in SQLite,
//! so a restart resumes where it was and no event is sent twice; a final call
//! stays "to log" until its log is in the outbox, so a crash in between
//! cannot lose it. The poll checkpoint lives here too, for catch-up.

use crate::store::{sql, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

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

/// What polling saw of a call, in the tracker's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSnapshot {
    pub call_id: i64,
    /// Unix seconds.
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// Aircall's `status` is `done`.
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Ringing,
    Answered,
    Ended,
    Final,
    AiReady,
    AiGivenUp,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ringing => "ringing",
            Self::Answered => "answered",
            Self::Ended => "ended",
            Self::Final => "final",
            Self::AiReady => "ai_ready",
            Self::AiGivenUp => "ai_given_up",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "answered" => Self::Answered,
            "ended" => Self::Ended,
            "final" => Self::Final,
            "ai_ready" => Self::AiReady,
            "ai_given_up" => Self::AiGivenUp,
            _ => Self::Ringing,
        }
    }
}

/// The events on the service's channel; `--events` writes them as JSON lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallEvent {
    CallRinging {
        call_id: i64,
    },
    CallAnswered {
        call_id: i64,
    },
    CallEnded {
        call_id: i64,
    },
    CallFinal {
        call_id: i64,
    },
    AiReady {
        call_id: i64,
    },
    /// The caller's card is known (found or not) and can be shown.
    CardReady {
        call_id: i64,
    },
}

impl CallEvent {
    pub fn call_id(self) -> i64 {
        match self {
            Self::CallRinging { call_id }
            | Self::CallAnswered { call_id }
            | Self::CallEnded { call_id }
            | Self::CallFinal { call_id }
            | Self::AiReady { call_id }
            | Self::CardReady { call_id } => call_id,
        }
    }
}

/// The stage a snapshot shows, and the events for going there from `previous`.
/// A call first seen after it ended (catch-up) gets no ringing event: its
/// card would come far too late.
pub fn transition(previous: Option<Stage>, snapshot: &CallSnapshot) -> (Stage, Vec<CallEvent>) {
    let id = snapshot.call_id;
    let seen = if snapshot.done || snapshot.ended_at.is_some() {
        Stage::Ended
    } else if snapshot.answered_at.is_some() {
        Stage::Answered
    } else {
        Stage::Ringing
    };
    let mut events = Vec::new();
    match previous {
        Some(stage) if stage >= seen => return (stage, events),
        None if seen != Stage::Ended => events.push(CallEvent::CallRinging { call_id: id }),
        _ => {}
    }
    if seen >= Stage::Answered && snapshot.answered_at.is_some() && previous < Some(Stage::Answered) {
        events.push(CallEvent::CallAnswered { call_id: id });
    }
    if seen == Stage::Ended {
        events.push(CallEvent::CallEnded { call_id: id });
    }
    (seen, events)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(answered: bool, ended: bool) -> CallSnapshot {
        CallSnapshot {
            call_id: 1,
            started_at: 1_000,
            answered_at: answered.then_some(1_010),
            ended_at: ended.then_some(1_100),
            done: ended,
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_call_rings_is_answered_and_ends_with_one_event_each() {
        assert_eq!(
            transition(None, &snap(false, false)),
            (Stage::Ringing, vec![CallEvent::CallRinging { call_id: 1 }])
        );
        assert_eq!(
            transition(Some(Stage::Ringing), &snap(true, false)),
            (Stage::Answered, vec![CallEvent::CallAnswered { call_id: 1 }])
        );
        assert_eq!(
            transition(Some(Stage::Answered), &snap(true, true)),
            (Stage::Ended, vec![CallEvent::CallEnded { call_id: 1 }])
        );
        assert_eq!(
            transition(Some(Stage::Ended), &snap(true, true)).1,
            vec![],
            "seen again: nothing new"
        );
    }

    #[test]
    fn a_call_first_seen_answered_still_rings_then_answers() {
        let (_, events) = transition(None, &snap(true, false));
        assert_eq!(
            events,
            [
                CallEvent::CallRinging { call_id: 1 },
                CallEvent::CallAnswered { call_id: 1 }
            ]
        );
    }

    #[test]
    fn a_call_first_seen_after_it_ended_does_not_ring() {
        let (_, events) = transition(None, &snap(true, true));
        assert_eq!(
            events,
            [
                CallEvent::CallAnswered { call_id: 1 },
                CallEvent::CallEnded { call_id: 1 }
            ]
        );
        let (_, missed) = transition(None, &snap(false, true));
        assert_eq!(missed, [CallEvent::CallEnded { call_id: 1 }]);
    }

    #[test]
    fn a_call_becomes_final_once_after_the_settle_delay() {
        let (_d, store) = store();
        store.observe_call(&snap(true, true), 60_000, 1_100_000).unwrap();
        assert!(store
            .take_due_finals(1_800_000, 1_100_000 + 59_999)
            .unwrap()
            .is_empty());
        assert_eq!(
            store.take_due_finals(1_800_000, 1_160_000).unwrap(),
            [CallEvent::CallFinal { call_id: 1 }]
        );
        assert!(
            store.take_due_finals(1_800_000, 2_000_000).unwrap().is_empty(),
            "once"
        );
        assert_eq!(store.finals_to_log().unwrap(), [1]);
        store.mark_logged(1).unwrap();
        assert!(store.finals_to_log().unwrap().is_empty());
    }

    #[test]
    fn observing_again_after_a_restart_sends_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let first = Store::open(&path)
            .unwrap()
            .observe_call(&snap(false, false), 60_000, 1)
            .unwrap();
        assert_eq!(first.len(), 1);
        let again = Store::open(&path)
            .unwrap()
            .observe_call(&snap(false, false), 60_000, 2)
            .unwrap();
        assert!(again.is_empty());
    }

    #[test]
    fn ai_is_checked_until_ready_or_given_up_after_the_wait() {
        let (_d, store) = store();
        store.observe_call(&snap(true, true), 0, 1_100_000).unwrap();
        store.take_due_finals(600_000, 1_100_000).unwrap();
        assert_eq!(store.ai_checks_due(1_100_000).unwrap(), [1]);
        store.schedule_ai_check(1, 1_160_000).unwrap();
        assert!(store.ai_checks_due(1_150_000).unwrap().is_empty());
        assert_eq!(
            store.mark_ai_ready(1, 1_200_000).unwrap(),
            Some(CallEvent::AiReady { call_id: 1 })
        );
        assert_eq!(store.mark_ai_ready(1, 1_200_001).unwrap(), None, "once");

        let mut other = snap(true, true);
        other.call_id = 2;
        store.observe_call(&other, 0, 1_100_000).unwrap();
        store.take_due_finals(600_000, 1_100_000).unwrap();
        assert!(
            store.ai_checks_due(1_700_000).unwrap().is_empty(),
            "given up after the wait"
        );
        assert_eq!(store.call_stage(2).unwrap(), Some(Stage::AiGivenUp));
    }

    #[test]
    fn checkpoints_and_open_calls_drive_the_poll_window() {
        let (_d, store) = store();
        assert_eq!(store.checkpoint("aircall").unwrap(), None);
        store.set_checkpoint("aircall", 42).unwrap();
        assert_eq!(store.checkpoint("aircall").unwrap(), Some(42));
        store.observe_call(&snap(false, false), 60_000, 1).unwrap();
        assert_eq!(store.oldest_open_call().unwrap(), Some(1_000));
        store.observe_call(&snap(true, true), 60_000, 2).unwrap();
        assert_eq!(store.oldest_open_call().unwrap(), None);
    }
}
