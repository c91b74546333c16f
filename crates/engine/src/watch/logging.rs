//! Logging: final calls, their AI updates and SMS into each ready CRM's
//! outbox, as one loop over the three kinds of piece. What to do with each
//! piece is decided by the core's pure rules (`callcard_core::pipeline`):
//! this handler only reads the facts (from the store), carries the step out
//! and reports failures back to the rules.

use super::aircall_lane::AircallLane;
use super::in_store;
use super::ringing::{identify_caller, sync_caller_contact, Moment};
use crate::connected::SharedLogs;
use crate::crms::descriptor as descriptor_of;
use callcard_aircall::calls::FinishedCall;
use callcard_aircall::poller::{CallReader, PollError};
use callcard_aircall::AircallError;
use callcard_core::call_log::{CallLog, CallLogError};
use callcard_core::phone::E164;
use callcard_core::pipeline::{
    after_failure, needs_the_user, next_step, AfterFailure, Facts, Failure, Lanes, Pass, Piece, ReadFailure,
    Retries, Step,
};
use callcard_core::sms::SmsLog;
use callcard_core::store::Queued;
use callcard_core::{Service, Status, Trouble};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One waiting piece, as the store lists it.
enum Item {
    Call(i64),
    Ai(i64),
    Sms {
        id: String,
        json: String,
        taken: Vec<String>,
    },
}

impl Item {
    fn piece(&self) -> Piece {
        match self {
            Self::Call(_) => Piece::Call,
            Self::Ai(_) => Piece::Ai,
            Self::Sms { .. } => Piece::Sms,
        }
    }

    /// The key of its own back-off (SMS have none: they wait with their CRM).
    fn retry_key(&self) -> Option<(i64, Queued)> {
        match self {
            Self::Call(id) => Some((*id, Queued::Call)),
            Self::Ai(id) => Some((*id, Queued::Ai)),
            Self::Sms { .. } => None,
        }
    }
}

/// A piece read and ready to queue.
enum Content {
    /// A final call, for its first writes.
    Final(FinishedCall),
    /// The same call with its AI data, for the update.
    Ai(FinishedCall),
    Sms(SmsLog, Option<E164>),
}

/// The logging handler.
pub(super) struct Logging {
    pub service: Arc<Service>,
    pub reader: CallReader,
    pub lane: AircallLane,
    pub logs: SharedLogs,
    pub lanes: Lanes,
    pub retries: Retries<(i64, Queued)>,
    pub stop: CancellationToken,
    /// The rules' clock: milliseconds since the watch began, on tokio's
    /// clock (rests and back-offs are durations, not dates).
    pub started: tokio::time::Instant,
}

impl Logging {
    pub(super) fn new(
        service: Arc<Service>,
        reader: CallReader,
        lane: AircallLane,
        logs: SharedLogs,
        selected: Vec<String>,
        call_give_up: Option<Duration>,
        stop: CancellationToken,
    ) -> Self {
        Self {
            service,
            reader,
            lane,
            logs,
            lanes: Lanes::new(selected),
            retries: Retries::new(call_give_up),
            stop,
            started: tokio::time::Instant::now(),
        }
    }

    /// A pass on each nudge, until the watch stops.
    pub(super) async fn run(mut self, mut nudges: mpsc::Receiver<()>) {
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return,
                nudge = nudges.recv() => if nudge.is_none() { return },
            }
            let stop = self.stop.clone();
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.pass() => {}
            }
        }
    }

    fn now_ms(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }

    fn ready_logs(&self) -> Vec<Arc<CallLog>> {
        self.logs.get().map(|logs| logs.to_vec()).unwrap_or_default()
    }

    /// Everything waiting, kind by kind: calls, then AI updates, then SMS.
    /// Each kind reads at most one piece from Aircall per pass, so that the
    /// next poll of new calls comes first.
    async fn pass(&mut self) {
        let logs = self.ready_logs();
        self.lanes.ready = logs.iter().map(|l| crm_of(l)).collect();
        let settings = self.service.settings();
        let mut throttled = false;
        for piece in [Piece::Call, Piece::Ai, Piece::Sms] {
            if throttled && piece.reads_aircall() {
                continue;
            }
            let mut pass = Pass {
                paused: self.service.status() == Status::Paused,
                log_ai: settings.log_ai_info,
                aircall_spent: false,
                now_ms: self.now_ms(),
            };
            for item in self.waiting(piece) {
                let taken = self.taken(&item);
                let call_taken = match &item {
                    Item::Ai(call_id) => self.queued_in(*call_id, Queued::Call),
                    _ => Vec::new(),
                };
                pass.now_ms = self.now_ms();
                let facts = Facts {
                    piece,
                    taken: &taken,
                    call_taken: &call_taken,
                    retry_due: item
                        .retry_key()
                        .is_none_or(|key| self.retries.due(&key, pass.now_ms)),
                };
                match next_step(&self.lanes, facts, pass) {
                    Step::MarkDone => self.mark_done(&item),
                    Step::DropPaused => self.drop_paused(&item),
                    Step::Wait(_) => {}
                    Step::EndPass => break,
                    Step::Queue { into } => {
                        pass.aircall_spent |= piece.reads_aircall();
                        match self.read(&item).await {
                            Ok(content) => {
                                let into: Vec<Arc<CallLog>> = logs
                                    .iter()
                                    .filter(|l| into.contains(&crm_of(l)))
                                    .cloned()
                                    .collect();
                                self.queue(&item, content, &into, taken).await;
                            }
                            Err((ReadFailure::Throttled, _)) => {
                                // Aircall's company limit: nothing more from it in this pass.
                                throttled = true;
                                break;
                            }
                            Err((failure, reason)) => self.retry_later(&item, failure.into(), &reason),
                        }
                    }
                }
            }
        }
    }

    /// The pieces of a kind waiting in the store.
    fn waiting(&self, piece: Piece) -> Vec<Item> {
        let listed = match piece {
            Piece::Call => in_store(&self.service, "cannot list the calls to log", |s| {
                Ok(s.finals_to_log()?.into_iter().map(Item::Call).collect())
            }),
            Piece::Ai => in_store(&self.service, "cannot list the AI updates to log", |s| {
                Ok(s.ai_to_log()?.into_iter().map(Item::Ai).collect())
            }),
            Piece::Sms => in_store(&self.service, "cannot list the SMS to log", |s| {
                Ok(s.sms_to_log()?
                    .into_iter()
                    .map(|(id, json, taken)| Item::Sms { id, json, taken })
                    .collect())
            }),
        };
        listed.unwrap_or_default()
    }

    fn queued_in(&self, call_id: i64, what: Queued) -> Vec<String> {
        in_store(&self.service, "cannot read where a call is queued", |s| {
            s.queued_in(call_id, what)
        })
        .unwrap_or_default()
    }

    /// The CRMs that have the piece.
    fn taken(&self, item: &Item) -> Vec<String> {
        match item {
            Item::Call(call_id) => self.queued_in(*call_id, Queued::Call),
            Item::Ai(call_id) => self.queued_in(*call_id, Queued::Ai),
            Item::Sms { taken, .. } => taken.clone(),
        }
    }

    /// Every selected CRM has it (or it is not wanted).
    fn mark_done(&self, item: &Item) {
        match item {
            Item::Call(call_id) => {
                in_store(&self.service, "cannot mark a call logged", |s| {
                    s.mark_logged(*call_id)
                });
            }
            Item::Ai(call_id) => {
                in_store(&self.service, "cannot mark an AI update logged", |s| {
                    s.mark_ai_logged(*call_id)
                });
            }
            Item::Sms { id, .. } => {
                in_store(&self.service, "cannot take a logged SMS out of the inbox", |s| {
                    s.forget_sms(id)
                });
                self.service.history_changed();
                self.service.wake_outbox();
            }
        }
    }

    /// Paused means never written, not written later.
    fn drop_paused(&self, item: &Item) {
        match item {
            Item::Call(call_id) => {
                tracing::info!(call_id, "logging is paused; this call is not logged");
                in_store(&self.service, "cannot mark a paused call", |s| {
                    s.mark_logged(*call_id)?;
                    s.mark_ai_logged(*call_id)
                });
            }
            Item::Sms { id, .. } => {
                tracing::info!(id, "logging is paused; this SMS is not logged");
                in_store(&self.service, "cannot drop a paused SMS", |s| s.forget_sms(id));
            }
            // An AI update follows its call (see `next_step`).
            Item::Ai(_) => {}
        }
    }

    /// What the piece needs before it is queued: the call from Aircall (or
    /// the hub's pushed copy), or the SMS kept in the inbox.
    async fn read(&self, item: &Item) -> Result<Content, (ReadFailure, String)> {
        let of_aircall = |error: PollError, what: &str| {
            let failure = match &error {
                PollError::Aircall(AircallError::RateLimited { .. }) => ReadFailure::Throttled,
                PollError::Aircall(AircallError::NotFound) => ReadFailure::NotFound,
                _ => ReadFailure::Other,
            };
            (failure, format!("Aircall did not give the {what}: {error}"))
        };
        match item {
            Item::Call(call_id) => self
                .reader
                .finished_call(*call_id)
                .await
                .map(Content::Final)
                .map_err(|e| of_aircall(e, "call")),
            Item::Ai(call_id) => self
                .reader
                .finished_with_ai(*call_id)
                .await
                .map(Content::Ai)
                .map_err(|e| of_aircall(e, "AI data")),
            Item::Sms { json, .. } => match serde_json::from_str::<SmsLog>(json) {
                Ok(sms) => {
                    let number = callcard_aircall::calls::other_party(&sms.other_party);
                    Ok(Content::Sms(sms, number))
                }
                Err(error) => Err((
                    ReadFailure::Other,
                    format!("the SMS kept to log cannot be read: {error}"),
                )),
            },
        }
    }

    /// The piece into each of `into`; marked done once every selected CRM
    /// has it.
    async fn queue(&mut self, item: &Item, content: Content, into: &[Arc<CallLog>], mut taken: Vec<String>) {
        let settings = self.service.settings();
        if let (Item::Call(call_id), Content::Final(call)) = (item, &content) {
            let no_card = in_store(&self.service, "cannot read a call's cards", |s| {
                for log in into {
                    if s.card(*call_id, &crm_of(log))?.is_some() {
                        return Ok(false);
                    }
                }
                Ok(true)
            })
            .unwrap_or(false);
            if no_card {
                // Caught up (or rang while the CRM was not ready): the same
                // card as a call seen ringing.
                identify_caller(
                    &self.service,
                    &self.lane,
                    into,
                    &call.as_rung(),
                    Moment::AfterTheFact,
                )
                .await;
            }
            // With the CRM that the contact follows, once (a call is queued
            // in a CRM once).
            sync_caller_contact(&self.service, &self.lane, into, &call.as_rung()).await;
        }
        for log in into {
            let crm = crm_of(log);
            let now = self.service.clock().now_ms();
            let queued = match &content {
                Content::Final(call) => {
                    log.queue_final(&call.log, call.other_party.as_ref(), &settings, now)
                        .await
                }
                Content::Ai(call) => {
                    log.queue_ai(&call.log, call.other_party.as_ref(), &settings, now)
                        .await
                }
                Content::Sms(sms, Some(number)) => log.queue_sms(sms, number, &settings, now).await,
                // A hidden or odd number: no record to log it on.
                Content::Sms(_, None) => Ok(0),
            };
            match queued {
                Ok(writes) => {
                    match item {
                        Item::Call(call_id) | Item::Ai(call_id) => {
                            let what = if matches!(item, Item::Call(_)) {
                                Queued::Call
                            } else {
                                Queued::Ai
                            };
                            self.retries.done(&(*call_id, what));
                            in_store(&self.service, "cannot note where a call is queued", |s| {
                                s.mark_queued_in(*call_id, &crm, what)
                            });
                            tracing::info!(call_id, crm = %crm, ?what, writes, "queued in the outbox");
                        }
                        Item::Sms { id, .. } => {
                            in_store(&self.service, "cannot note where an SMS is queued", |s| {
                                s.mark_sms_taken(id, &crm)
                            });
                            tracing::info!(id, crm = %crm, writes, "SMS queued in the outbox");
                        }
                    }
                    taken.push(crm.clone());
                    self.recovered(&crm);
                }
                Err(error) => self.failed(item, &crm, &error),
            }
        }
        if self.lanes.all_have(&taken) {
            self.mark_done(item);
        }
        self.service.history_changed();
        self.service.wake_outbox();
    }

    /// A CRM that failed took a write again: what the tray and history said
    /// about it is over.
    fn recovered(&mut self, crm: &str) {
        if self.lanes.recovered(crm) {
            self.service.set_crm_waiting(crm, None);
            self.service
                .clear_trouble(&Trouble::CrmNeedsSignIn { crm: crm.to_owned() });
        }
    }

    /// A CRM could not take the piece: the rules say whether the piece
    /// waits on its own or the CRM rests (and the tray and history say why).
    fn failed(&mut self, item: &Item, crm: &str, error: &CallLogError) {
        tracing::warn!(crm, %error, "cannot log this in the CRM yet");
        match after_failure(item.piece(), error) {
            AfterFailure::RetryPiece { reason } => {
                let name = descriptor_of(crm).map_or(crm, |d| d.name);
                self.retry_later(item, Failure::Other, &format!("{name} refused it: {reason}"));
            }
            AfterFailure::RestCrm { wait } => {
                self.lanes.rest(crm, self.now_ms());
                if needs_the_user(wait) {
                    self.service
                        .set_trouble(Trouble::CrmNeedsSignIn { crm: crm.to_owned() });
                }
                self.service.set_crm_waiting(crm, Some(wait));
            }
        }
    }

    /// A piece that failed on its own waits its back-off; after the bound
    /// it is given up on, and the history says why.
    fn retry_later(&mut self, item: &Item, failure: Failure, reason: &str) {
        let Some(key) = item.retry_key() else {
            // An SMS that cannot be read never will be: kept, it would be
            // read (and fail) on every pass.
            if let Item::Sms { id, .. } = item {
                tracing::warn!(id, reason, "an SMS kept to log cannot be read; dropped");
                in_store(&self.service, "cannot drop an unreadable SMS", |s| {
                    s.forget_sms(id)
                });
            }
            return;
        };
        if !self.retries.failed(key, failure, self.now_ms()) {
            tracing::warn!(call_id = key.0, what = ?key.1, reason, "this call waits; the calls after it go on");
            return;
        }
        self.retries.done(&key);
        tracing::error!(call_id = key.0, what = ?key.1, reason, "given up on this call");
        let now = self.service.clock().now_ms();
        in_store(&self.service, "cannot record a call given up on", |s| {
            match key.1 {
                Queued::Call => s.give_up_on_call(key.0, reason, now),
                Queued::Ai => s.mark_ai_logged(key.0),
            }
        });
        self.service.history_changed();
    }
}

fn crm_of(log: &CallLog) -> String {
    log.crm().account().crm
}
