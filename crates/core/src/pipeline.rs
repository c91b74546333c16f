//! The call pipeline's rules, as plain functions of values.
//!
//! Every final call, its AI update and every SMS must reach each CRM the
//! user selected. Which CRMs still miss a piece, which of them may take it
//! now (signed in, reachable, not resting after a failure), whether a piece
//! is read from Aircall in this tick or waits, when it is done, and what a
//! failure means: all of it is decided here, from values the engine reads
//! — no store, no clock, no async. The engine carries each [`Step`] out
//! (`callcard-engine`'s `watch::logging`), so each rule has a plain unit
//! test below and the engine's end-to-end tests check the wiring.

use crate::call_log::CallLogError;
use crate::crm::CrmError;
use crate::status::CrmWait;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What must reach the CRMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Piece {
    /// A final call's first writes (read from Aircall).
    Call,
    /// The AI update of a call already written (read from Aircall).
    Ai,
    /// An SMS the team hub pushed (already here: nothing to read).
    Sms,
}

impl Piece {
    /// Whether carrying it out reads from Aircall, on the company's budget.
    pub fn reads_aircall(self) -> bool {
        matches!(self, Self::Call | Self::Ai)
    }
}

/// How long a CRM that failed a write is left alone before the next try
/// (the other CRMs go on meanwhile).
pub const CRM_REST: Duration = Duration::from_secs(30);

/// The CRMs of a watch at one moment.
#[derive(Debug, Clone, Default)]
pub struct Lanes {
    /// The CRMs every piece must reach.
    pub selected: Vec<String>,
    /// The selected CRMs signed in and reachable, in the registry's order.
    pub ready: Vec<String>,
    /// CRMs resting after a failure, until when (ms on the caller's clock:
    /// the rules only compare and add durations; the engine uses the
    /// milliseconds since its watch began).
    pub resting: BTreeMap<String, i64>,
}

impl Lanes {
    pub fn new(selected: Vec<String>) -> Self {
        Self {
            selected,
            ..Self::default()
        }
    }

    /// The selected CRMs that do not have the piece yet, given those that do.
    pub fn missing(&self, taken: &[String]) -> Vec<String> {
        self.selected
            .iter()
            .filter(|crm| !taken.contains(crm))
            .cloned()
            .collect()
    }

    /// Whether every selected CRM has the piece: then it is done (the late
    /// CRM of two gets every call when it is back, since until then the
    /// call is not done).
    pub fn all_have(&self, taken: &[String]) -> bool {
        self.missing(taken).is_empty()
    }

    /// Among `missing`, the CRMs that may take a piece at `now_ms`: ready,
    /// and not resting after a failure. In the order of `ready`.
    pub fn ready_among(&self, missing: &[String], now_ms: i64) -> Vec<String> {
        self.ready
            .iter()
            .filter(|crm| missing.contains(crm))
            .filter(|crm| self.resting.get(*crm).is_none_or(|until| now_ms >= *until))
            .cloned()
            .collect()
    }

    /// A CRM failed a write at `now_ms`: it rests for [`CRM_REST`].
    pub fn rest(&mut self, crm: &str, now_ms: i64) {
        self.resting
            .insert(crm.to_owned(), now_ms + CRM_REST.as_millis() as i64);
    }

    /// A CRM took a write: it no longer rests. True when it was resting
    /// (what the tray and the history said about it is over).
    pub fn recovered(&mut self, crm: &str) -> bool {
        self.resting.remove(crm).is_some()
    }

    /// A CRM signed in (or came back): it joins the ready ones, once.
    pub fn join(&mut self, crm: &str, registry_order: impl Fn(&str) -> usize) {
        if !self.ready.iter().any(|c| c == crm) {
            self.ready.push(crm.to_owned());
            self.ready.sort_by_key(|c| registry_order(c));
        }
    }
}

/// What is known of one piece when the pipeline looks at it.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub piece: Piece,
    /// The CRMs that have the piece.
    pub taken: &'a [String],
    /// For an AI update: the CRMs that have the call's first writes (only
    /// what was written first is updated).
    pub call_taken: &'a [String],
    /// Whether its own back-off after a failure is over (see [`Retries`]).
    pub retry_due: bool,
}

/// The circumstances of one pass over the waiting pieces.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pass {
    /// The user paused logging.
    pub paused: bool,
    /// The "AI summary and topics" setting.
    pub log_ai: bool,
    /// A piece of this kind was read from Aircall already in this pass.
    pub aircall_spent: bool,
    pub now_ms: i64,
}

/// What to do with one piece now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Every selected CRM has it (or it is not wanted): mark it done.
    MarkDone,
    /// Logging is paused: paused means never written, not written later.
    /// The piece is marked done unwritten (a call's AI update with it).
    DropPaused,
    /// Nothing to do with it now.
    Wait(Waiting),
    /// Read what it needs (from Aircall for a call or an AI update) and
    /// queue it in these CRMs.
    Queue { into: Vec<String> },
    /// This pass already read one piece from Aircall: the next poll of new
    /// calls comes first; the rest wait for the next pass.
    EndPass,
}

/// Why a piece waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// The CRMs missing it are not signed in, not reachable, or resting.
    ForACrm,
    /// It failed lately on its own: it waits its back-off while the others go on.
    ItsTurn,
}

/// The next step for one piece.
pub fn next_step(lanes: &Lanes, facts: Facts<'_>, pass: Pass) -> Step {
    match facts.piece {
        // An AI update belongs to a call written before: it follows that
        // call (the pause decided when the call itself came).
        Piece::Call | Piece::Sms if pass.paused => return Step::DropPaused,
        Piece::Ai if !pass.log_ai => return Step::MarkDone,
        _ => {}
    }
    let mut missing = lanes.missing(facts.taken);
    if missing.is_empty() {
        return Step::MarkDone;
    }
    if facts.piece == Piece::Ai {
        missing.retain(|crm| facts.call_taken.contains(crm));
    }
    let into = lanes.ready_among(&missing, pass.now_ms);
    if into.is_empty() {
        return Step::Wait(Waiting::ForACrm);
    }
    if !facts.retry_due {
        return Step::Wait(Waiting::ItsTurn);
    }
    if facts.piece.reads_aircall() && pass.aircall_spent {
        return Step::EndPass;
    }
    Step::Queue { into }
}

/// Why reading a piece from Aircall failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFailure {
    /// Aircall's company limit: stop this pass, nothing is the call's fault.
    Throttled,
    /// Aircall says the call does not exist.
    NotFound,
    /// Anything else about this call.
    Other,
}

/// What a failure to queue a piece in one CRM means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    /// The CRM refused this piece alone: it waits its own back-off while the
    /// CRM takes the others. The reason is the CRM's.
    RetryPiece { reason: String },
    /// The CRM cannot take writes now: it rests, and the tray and history
    /// say why; its pieces wait for it.
    RestCrm { wait: CrmWait },
}

/// The consequence of a failure to queue a piece in one CRM.
pub fn after_failure(piece: Piece, error: &CallLogError) -> AfterFailure {
    match error {
        // An SMS is retried with the CRM: it has no back-off of its own.
        CallLogError::Crm(CrmError::Rejected(why)) if piece != Piece::Sms => {
            AfterFailure::RetryPiece { reason: why.clone() }
        }
        CallLogError::Crm(CrmError::NeedsReconnect(_)) => AfterFailure::RestCrm {
            wait: CrmWait::NeedsSignIn,
        },
        _ => AfterFailure::RestCrm {
            wait: CrmWait::NotAnswering,
        },
    }
}

/// Whether a failure sets the tray's trouble (a new sign-in is the user's
/// to do; a CRM that does not answer only makes its calls wait).
pub fn needs_the_user(wait: CrmWait) -> bool {
    wait == CrmWait::NeedsSignIn
}

/// The first wait after a piece failed on its own; doubled each time.
const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(10 * 60);
/// A call Aircall says does not exist (a demo call left over when the real
/// account was connected, a call of another company): tried for a while in
/// case Aircall was only behind, then given up on.
pub const GIVE_UP_NOT_FOUND: Duration = Duration::from_secs(10 * 60);
/// Anything else (Aircall or a CRM failing for this piece only): a day.
pub const GIVE_UP: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a piece failed on its own, for how long it is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The other side says it does not exist.
    NotFound,
    /// Anything else that is about this piece only.
    Other,
}

impl From<ReadFailure> for Failure {
    fn from(failure: ReadFailure) -> Self {
        match failure {
            ReadFailure::NotFound => Self::NotFound,
            _ => Self::Other,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Retry {
    first_ms: i64,
    next_ms: i64,
    delay: Duration,
}

/// The pieces waiting after a failure of their own, each on its back-off,
/// so that one stuck call never holds up the calls after it; after a bound
/// a piece is given up on (and the history says why).
#[derive(Debug)]
pub struct Retries<K> {
    waiting: HashMap<K, Retry>,
    give_up_override: Option<Duration>,
}

impl<K: std::hash::Hash + Eq> Retries<K> {
    /// `give_up_override`: one bound for every failure (tests).
    pub fn new(give_up_override: Option<Duration>) -> Self {
        Self {
            waiting: HashMap::new(),
            give_up_override,
        }
    }

    /// Whether `key` may be tried at `now_ms` (never failed, or its wait is over).
    pub fn due(&self, key: &K, now_ms: i64) -> bool {
        self.waiting.get(key).is_none_or(|retry| now_ms >= retry.next_ms)
    }

    /// Records a failure at `now_ms`; `true` when it is time to give up on `key`.
    pub fn failed(&mut self, key: K, failure: Failure, now_ms: i64) -> bool {
        let bound = self.give_up_override.unwrap_or(match failure {
            Failure::NotFound => GIVE_UP_NOT_FOUND,
            Failure::Other => GIVE_UP,
        });
        let retry = self.waiting.entry(key).or_insert(Retry {
            first_ms: now_ms,
            next_ms: now_ms,
            delay: FIRST_RETRY / 2,
        });
        if now_ms - retry.first_ms >= bound.as_millis() as i64 {
            return true;
        }
        retry.delay = (retry.delay * 2).min(MAX_RETRY);
        retry.next_ms = now_ms + retry.delay.as_millis() as i64;
        false
    }

    /// `key` went through (or was given up on): no more waiting.
    pub fn done(&mut self, key: &K) {
        self.waiting.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crms(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn lanes(selected: &[&str], ready: &[&str]) -> Lanes {
        Lanes {
            selected: crms(selected),
            ready: crms(ready),
            resting: BTreeMap::new(),
        }
    }

    fn facts<'a>(piece: Piece, taken: &'a [String]) -> Facts<'a> {
        Facts {
            piece,
            taken,
            call_taken: &[],
            retry_due: true,
        }
    }

    const NOW: i64 = 1_000_000;

    fn pass() -> Pass {
        Pass {
            log_ai: true,
            now_ms: NOW,
            ..Pass::default()
        }
    }

    #[test]
    fn a_call_is_queued_in_the_ready_crms_that_miss_it() {
        let both = lanes(&["jobadder", "sellsy"], &["jobadder", "sellsy"]);
        let taken = crms(&["jobadder"]);
        assert_eq!(
            next_step(&both, facts(Piece::Call, &taken), pass()),
            Step::Queue {
                into: crms(&["sellsy"])
            }
        );
        assert_eq!(
            next_step(&both, facts(Piece::Call, &[]), pass()),
            Step::Queue {
                into: crms(&["jobadder", "sellsy"])
            }
        );
    }

    #[test]
    fn a_call_is_logged_once_every_selected_crm_has_it() {
        let both = lanes(&["jobadder", "sellsy"], &["jobadder"]);
        let taken = crms(&["jobadder"]);
        assert!(!both.all_have(&taken), "Sellsy, not ready, still misses it");
        assert_eq!(
            next_step(&both, facts(Piece::Call, &taken), pass()),
            Step::Wait(Waiting::ForACrm),
            "waits for the late CRM rather than being marked logged"
        );
        let taken = crms(&["jobadder", "sellsy"]);
        assert!(both.all_have(&taken));
        assert_eq!(
            next_step(&both, facts(Piece::Call, &taken), pass()),
            Step::MarkDone
        );
    }

    #[test]
    fn paused_means_never_written_not_written_later() {
        let one = lanes(&["jobadder"], &["jobadder"]);
        let paused = Pass {
            paused: true,
            ..pass()
        };
        assert_eq!(next_step(&one, facts(Piece::Call, &[]), paused), Step::DropPaused);
        assert_eq!(
            next_step(&one, facts(Piece::Sms, &[]), paused),
            Step::DropPaused,
            "an SMS while paused is not written either"
        );
        // The AI update of a call written before the pause rides with it.
        let call_taken = crms(&["jobadder"]);
        let ai = Facts {
            call_taken: &call_taken,
            ..facts(Piece::Ai, &[])
        };
        assert_eq!(
            next_step(&one, ai, paused),
            Step::Queue {
                into: crms(&["jobadder"])
            }
        );
    }

    #[test]
    fn a_resting_crm_is_left_alone_until_its_rest_is_over_and_the_others_go_on() {
        let mut both = lanes(&["jobadder", "sellsy"], &["jobadder", "sellsy"]);
        both.rest("sellsy", NOW);
        assert_eq!(
            next_step(&both, facts(Piece::Call, &[]), pass()),
            Step::Queue {
                into: crms(&["jobadder"])
            }
        );
        let taken = crms(&["jobadder"]);
        assert_eq!(
            next_step(&both, facts(Piece::Call, &taken), pass()),
            Step::Wait(Waiting::ForACrm)
        );
        let rested = Pass {
            now_ms: NOW + CRM_REST.as_millis() as i64,
            ..pass()
        };
        assert_eq!(
            next_step(&both, facts(Piece::Call, &taken), rested),
            Step::Queue {
                into: crms(&["sellsy"])
            }
        );
        assert!(both.recovered("sellsy"));
        assert!(!both.recovered("sellsy"), "said once");
    }

    #[test]
    fn one_call_is_read_from_aircall_per_pass_and_sms_are_not_held_by_it() {
        let one = lanes(&["jobadder"], &["jobadder"]);
        let spent = Pass {
            aircall_spent: true,
            ..pass()
        };
        assert_eq!(next_step(&one, facts(Piece::Call, &[]), spent), Step::EndPass);
        assert_eq!(
            next_step(&one, facts(Piece::Sms, &[]), spent),
            Step::Queue {
                into: crms(&["jobadder"])
            }
        );
        // What needs no read is not held back by the spent read.
        let taken = crms(&["jobadder"]);
        assert_eq!(next_step(&one, facts(Piece::Call, &taken), spent), Step::MarkDone);
    }

    #[test]
    fn a_piece_that_failed_on_its_own_waits_its_turn_while_others_go_on() {
        let one = lanes(&["jobadder"], &["jobadder"]);
        let waiting = Facts {
            retry_due: false,
            ..facts(Piece::Call, &[])
        };
        assert_eq!(next_step(&one, waiting, pass()), Step::Wait(Waiting::ItsTurn));
        assert_eq!(
            next_step(&one, facts(Piece::Call, &[]), pass()),
            Step::Queue {
                into: crms(&["jobadder"])
            }
        );
    }

    #[test]
    fn an_ai_update_goes_only_where_the_call_was_written_and_only_when_wanted() {
        let both = lanes(&["jobadder", "sellsy"], &["jobadder", "sellsy"]);
        let call_taken = crms(&["sellsy"]);
        let ai = Facts {
            call_taken: &call_taken,
            ..facts(Piece::Ai, &[])
        };
        assert_eq!(
            next_step(&both, ai, pass()),
            Step::Queue {
                into: crms(&["sellsy"])
            }
        );
        let nothing_written = facts(Piece::Ai, &[]);
        assert_eq!(
            next_step(&both, nothing_written, pass()),
            Step::Wait(Waiting::ForACrm),
            "no CRM has the call yet: the update waits for it"
        );
        let off = Pass {
            log_ai: false,
            ..pass()
        };
        assert_eq!(next_step(&both, ai, off), Step::MarkDone);
    }

    #[test]
    fn a_refused_call_waits_on_its_own_and_a_lapsed_sign_in_rests_the_crm() {
        let refused = CallLogError::Crm(CrmError::Rejected("no such candidate".into()));
        assert_eq!(
            after_failure(Piece::Call, &refused),
            AfterFailure::RetryPiece {
                reason: "no such candidate".into()
            }
        );
        assert_eq!(
            after_failure(Piece::Sms, &refused),
            AfterFailure::RestCrm {
                wait: CrmWait::NotAnswering
            }
        );
        let lapsed = CallLogError::Crm(CrmError::NeedsReconnect("invalid_grant".into()));
        let wait = CrmWait::NeedsSignIn;
        assert_eq!(after_failure(Piece::Ai, &lapsed), AfterFailure::RestCrm { wait });
        assert!(needs_the_user(wait));
        let down = CallLogError::Crm(CrmError::Transient("503".into()));
        assert_eq!(
            after_failure(Piece::Call, &down),
            AfterFailure::RestCrm {
                wait: CrmWait::NotAnswering
            }
        );
        assert!(!needs_the_user(CrmWait::NotAnswering));
    }

    #[test]
    fn a_crm_that_signs_in_joins_in_the_registry_order_once() {
        let mut both = lanes(&["jobadder", "sellsy"], &[]);
        let order = |crm: &str| usize::from(crm != "jobadder");
        both.join("sellsy", order);
        both.join("jobadder", order);
        both.join("sellsy", order);
        assert_eq!(both.ready, crms(&["jobadder", "sellsy"]));
    }

    #[test]
    fn a_failed_piece_waits_longer_each_time_and_is_given_up_after_the_bound() {
        let mut retries = Retries::new(None);
        let first = FIRST_RETRY.as_millis() as i64;
        assert!(retries.due(&7, 0));
        assert!(!retries.failed(7, Failure::NotFound, 0));
        assert!(!retries.due(&7, 0), "waits after a failure");
        assert!(retries.due(&8, 0), "the next call does not wait");
        assert!(retries.due(&7, first));
        assert!(!retries.failed(7, Failure::NotFound, first));
        assert!(!retries.due(&7, 2 * first), "the second wait is longer");
        let later = GIVE_UP_NOT_FOUND.as_millis() as i64;
        assert!(
            retries.failed(7, Failure::NotFound, later),
            "given up after the bound"
        );
        retries.done(&7);
        assert!(retries.due(&7, later));
    }

    #[test]
    fn other_failures_are_tried_for_a_day_and_a_test_bound_applies_to_all() {
        let mut retries = Retries::new(None);
        assert!(!retries.failed(1, Failure::Other, 0));
        let twenty_minutes = 2 * GIVE_UP_NOT_FOUND.as_millis() as i64;
        assert!(!retries.failed(1, Failure::Other, twenty_minutes));
        assert!(retries.failed(1, Failure::Other, GIVE_UP.as_millis() as i64));
        let mut quick = Retries::new(Some(Duration::from_secs(1)));
        assert!(!quick.failed(2, Failure::Other, 0));
        assert!(quick.failed(2, Failure::Other, 1_000));
        assert_eq!(Failure::from(ReadFailure::NotFound), Failure::NotFound);
        assert_eq!(Failure::from(ReadFailure::Other), Failure::Other);
    }
}
