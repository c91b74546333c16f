//! The call tracker: what webhooks would have said, derived from polling.
//!
//! Each call moves ringing → answered → ended → final (the settle delay after
//! it ended, when Aircall has completed tags, notes and duration) → AI ready
//! (or AI given up after the wait). The stage of every call is kept in SQLite,
//! so a restart resumes where it was and no event is sent twice; a final call
//! stays "to log" until its log is in the outbox, so a crash in between
//! cannot lose it. The poll checkpoint lives here too, for catch-up.

use serde::Serialize;

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
    /// Aircall says the call is no longer this person's: a colleague
    /// answered it or it was transferred elsewhere. Not logged here; it
    /// comes back if it is transferred to them.
    Elsewhere,
}

impl Stage {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ringing => "ringing",
            Self::Answered => "answered",
            Self::Ended => "ended",
            Self::Final => "final",
            Self::AiReady => "ai_ready",
            Self::AiGivenUp => "ai_given_up",
            Self::Elsewhere => "elsewhere",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "answered" => Self::Answered,
            "ended" => Self::Ended,
            "final" => Self::Final,
            "ai_ready" => Self::AiReady,
            "ai_given_up" => Self::AiGivenUp,
            "elsewhere" => Self::Elsewhere,
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
    /// A colleague answered the call, or it was transferred elsewhere: it is
    /// not this person's any more (its card can close; it is not logged here).
    CallElsewhere {
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
            | Self::CardReady { call_id }
            | Self::CallElsewhere { call_id } => call_id,
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
    // A call that went to a colleague and came back (transferred to this
    // person) already rang here: it goes on from ringing.
    let previous = match previous {
        Some(Stage::Elsewhere) => Some(Stage::Ringing),
        other => other,
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

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
    fn a_call_taken_elsewhere_then_transferred_back_goes_on_without_ringing_again() {
        let (_d, store) = store();
        store.observe_call(&snap(false, false), 60_000, 1).unwrap();
        assert_eq!(
            store.observe_elsewhere(1, 2).unwrap(),
            Some(CallEvent::CallElsewhere { call_id: 1 })
        );
        assert_eq!(store.observe_elsewhere(1, 3).unwrap(), None, "once");
        assert_eq!(store.oldest_open_call().unwrap(), None, "no longer open");
        assert_eq!(store.observe_elsewhere(9, 3).unwrap(), None, "never tracked");
        // Transferred to this person, then ended.
        assert_eq!(
            store.observe_call(&snap(true, true), 60_000, 4).unwrap(),
            [
                CallEvent::CallAnswered { call_id: 1 },
                CallEvent::CallEnded { call_id: 1 }
            ]
        );
        // A call of this person's that ended is not taken away afterwards.
        assert_eq!(store.observe_elsewhere(1, 5).unwrap(), None);
        assert_eq!(store.call_stage(1).unwrap(), Some(Stage::Ended));
    }

    #[test]
    fn calls_left_open_before_the_look_back_are_forgotten_not_logged() {
        let (_d, store) = store();
        store.observe_call(&snap(false, false), 60_000, 1).unwrap();
        let mut recent = snap(false, false);
        recent.call_id = 2;
        recent.started_at = 5_000;
        store.observe_call(&recent, 60_000, 1).unwrap();
        assert_eq!(store.forget_open_calls_before(2_000, 2).unwrap(), 1);
        assert_eq!(store.call_stage(1).unwrap(), Some(Stage::Elsewhere));
        assert_eq!(store.call_stage(2).unwrap(), Some(Stage::Ringing));
        assert!(store.finals_to_log().unwrap().is_empty());
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
