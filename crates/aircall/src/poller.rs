//! The budgeted poller: it turns the company's call list (or what the team
//! hub pushed) into the tracker's events, each request taking its turn in
//! the company's budget ([`crate::pacer`]). It hands out domain values
//! ([`crate::calls`]): the calls that started ringing, and — through its
//! [`CallReader`] — the calls that are over, for their logs.
//!
//! Every tick starts with one request for the newest calls
//! (`GET /v1/calls?from=…&order=desc`, first page only: Aircall has no user
//! filter on the list that includes unanswered inbound calls, so the page is
//! filtered here by the connected numbers), so a ringing call is seen within
//! one interval however busy the company is. What that page could not hold
//! (an absence, a burst) becomes a stretch to catch up, read after the head
//! a few pages per tick (as many as fit in about four seconds), newest first, by moving `to` down rather than paging
//! (Aircall refuses to page past 10,000 results). A call still open here
//! that the head no longer covers is asked for by id, one per tick.

pub use crate::call_reader::CallReader;
use crate::calls::RingingCall;
use crate::client::{Aircall, AircallError};
pub use crate::error::PollError;
use crate::hub::{HubEvent, Pushed};
use crate::model::{Call, Insights, Status};
pub use crate::pacer::{Pacer, SharedPacer};
use callcard_core::clock::Clock;
use callcard_core::store::CatchUp;
use callcard_core::tracker::{CallEvent, CallSnapshot};
use callcard_core::Store;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The checkpoint name of releases before this one (one for every account).
pub const CHECKPOINT: &str = "aircall_polled_until";

/// Where polling is for one Aircall company (its API) and user: switching
/// accounts (the demo's sandbox, then a real company) is a first start.
pub fn checkpoint_for(api_base: &str, user_id: i64) -> String {
    format!("{CHECKPOINT}:{}:{user_id}", api_base.trim_end_matches('/'))
}

#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// This computer's share of the company's requests per minute.
    pub budget_per_minute: u32,
    /// The Aircall user at this computer.
    pub user_id: i64,
    /// Calls on other numbers are ignored.
    pub connected_numbers: Vec<i64>,
    pub settle_ms: i64,
    pub ai_wait_ms: i64,
    /// How long after it ends a call's AI data is asked for again.
    pub ai_retry_ms: i64,
    pub look_back_ms: i64,
    /// The slowest the poller goes when backing off.
    pub max_interval: Duration,
}

impl PollerConfig {
    /// The interval that spends exactly the budget.
    pub fn base_interval(&self) -> Duration {
        crate::pacer::base_interval(self.budget_per_minute)
    }
}

/// What a tick found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tick {
    pub events: Vec<CallEvent>,
    /// The calls that started ringing in this tick: what the card needs.
    pub ringing: Vec<RingingCall>,
    pub requests: u32,
    pub throttled: bool,
    /// Past calls still to read, when catching up.
    pub catch_up: Option<CatchUp>,
}

pub struct Poller {
    client: Arc<Aircall>,
    store: Arc<Mutex<Store>>,
    clock: Arc<dyn Clock>,
    config: PollerConfig,
    pacer: SharedPacer,
    /// The newest start (Unix s) a head read put in the backlog.
    backlogged_to: Option<i64>,
    checkpoint: String,
    /// Whether old open calls were swept (once, at the first tick).
    swept: bool,
    /// Following the team hub: a final call and its AI results are read
    /// from what the hub pushed, and Aircall is asked only for what is
    /// missing there.
    pushed: Arc<AtomicBool>,
}

/// Re-read this much before the last poll: a call created while the last
/// poll was under way may not have been in its answer.
const OVERLAP_SECS: i64 = 10;

/// Calls per request: Aircall's maximum.
const PER_PAGE: u32 = 50;

/// The last page Aircall serves (10,000 results at 50 a page).
const MAX_PAGE: u32 = 10_000 / PER_PAGE;

/// How far back the head read reaches to follow a call still open here
/// (a long call); older open calls are asked for by id.
const HEAD_REACH_SECS: i64 = 3_600;

/// How long an open call the head does not cover waits between two checks.
const OPEN_CALL_RECHECK_MS: i64 = 15_000;

/// Whether a call concerns this person: on a connected number, and theirs —
/// they are its user, it was transferred to them, or nobody answered it (an
/// inbound call ringing on their number, or missed there).
pub fn is_mine(call: &Call, config: &PollerConfig) -> bool {
    let on_my_number = call
        .number
        .as_ref()
        .is_some_and(|n| config.connected_numbers.contains(&n.id));
    let user = call.user.as_ref().map(|u| u.id);
    let transferred_to_me = call
        .transferred_to
        .as_ref()
        .is_some_and(|u| u.id == config.user_id);
    on_my_number && (user.is_none() || user == Some(config.user_id) || transferred_to_me)
}

pub fn snapshot(call: &Call) -> CallSnapshot {
    CallSnapshot {
        call_id: call.id,
        started_at: call.started_at.unwrap_or(0),
        answered_at: call.answered_at,
        ended_at: call.ended_at,
        done: call.status == Status::Done,
    }
}

/// The oldest start among a page's calls (Unix s).
fn oldest_start(calls: &[Call]) -> Option<i64> {
    calls.iter().filter_map(|c| c.started_at).min()
}

impl Poller {
    pub fn new(
        client: Arc<Aircall>,
        store: Arc<Mutex<Store>>,
        clock: Arc<dyn Clock>,
        config: PollerConfig,
    ) -> Self {
        let pacer = SharedPacer::new(Pacer::new(config.budget_per_minute, config.max_interval));
        let checkpoint = checkpoint_for(client.base(), config.user_id);
        Self {
            checkpoint,
            client,
            store,
            clock,
            config,
            pacer,
            backlogged_to: None,
            swept: false,
            pushed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether calls come from the team hub now (see [`Poller::observe_pushed`]).
    pub fn follow_pushed(&mut self, pushed: bool) {
        self.pushed.store(pushed, Ordering::Relaxed);
        self.pacer.set_spaced(!pushed);
    }

    /// What the team hub pushed: a call resource is kept (its log is
    /// written from it) and moves the tracker on as a poll's answer would;
    /// an AI result is kept and makes a final call's AI update ready. No
    /// request to Aircall.
    pub fn observe_pushed(&mut self, event: &HubEvent) -> Result<Tick, PollError> {
        let mut tick = Tick::default();
        let now = self.clock.now_ms();
        match Pushed::read(event) {
            Pushed::Call(call) => {
                let store = self.store();
                // A call that is over never goes back: an earlier event
                // delivered late (in the same second, or retried) does not
                // replace it; among the last ones, the latest time wins.
                let over = store
                    .pushed_call(call.id)?
                    .and_then(|json| serde_json::from_str::<Call>(&json).ok())
                    .is_some_and(|kept| kept.status == Status::Done);
                if !over || call.status == Status::Done {
                    store.keep_pushed_call(call.id, event.timestamp, &event.data.to_string(), now)?;
                }
                drop(store);
                self.observe(&call, &mut tick, true)?;
            }
            Pushed::RingingOnAgent(call) => {
                // `user` is the agent it rings on: for this user, a call
                // ringing here that nobody has answered; for a colleague,
                // nothing (their ringing does not take the call away).
                if call.user.as_ref().is_some_and(|u| u.id == self.config.user_id) {
                    let mut ringing = *call;
                    ringing.user = None;
                    self.observe(&ringing, &mut tick, true)?;
                }
            }
            Pushed::Ai { call_id, piece } => {
                let store = self.store();
                let mut insights: Insights = store
                    .pushed_insights(call_id)?
                    .and_then(|json| serde_json::from_str(&json).ok())
                    .unwrap_or_default();
                piece.fill(&mut insights);
                let json = serde_json::to_string(&insights).unwrap_or_default();
                store.keep_pushed_insights(call_id, &json, now)?;
                if insights.summary.is_some() {
                    tick.events.extend(store.mark_ai_ready(call_id, now)?);
                }
            }
            Pushed::Sms(sms) => {
                // On one of this person's numbers: theirs to log.
                if sms
                    .number_id
                    .is_some_and(|n| self.config.connected_numbers.contains(&n))
                {
                    // Kept before the hub's checkpoint moves past it: the
                    // hub sends it once, so a crash must not lose it.
                    let log = sms.to_log();
                    let json = serde_json::to_string(&log).unwrap_or_default();
                    self.store().add_sms(&log.id, &json, now)?;
                }
            }
            Pushed::Message(_) | Pushed::Other => {}
        }
        Ok(tick)
    }

    /// With the team hub, what time alone moves on, without a request:
    /// calls whose settle delay is over become final, those whose AI
    /// results were pushed get their update, AI waits that ran out end.
    pub fn pushed_tick(&mut self) -> Result<Tick, PollError> {
        let mut tick = Tick::default();
        self.sweep()?;
        let now = self.clock.now_ms();
        let store = self.store();
        tick.events
            .extend(store.take_due_finals(self.config.ai_wait_ms, now)?);
        for call_id in store.ai_checks_due(now)? {
            let pushed = store
                .pushed_insights(call_id)?
                .and_then(|json| serde_json::from_str::<Insights>(&json).ok())
                .is_some_and(|i| i.summary.is_some());
            if pushed {
                tick.events.extend(store.mark_ai_ready(call_id, now)?);
            } else {
                store.schedule_ai_check(call_id, now + self.config.ai_retry_ms)?;
            }
        }
        Ok(tick)
    }

    /// Polling takes over from the team hub: it reads from `since` (Unix s),
    /// when the hub was last heard, so nothing between is missed.
    pub fn poll_from(&mut self, since: i64) -> Result<(), PollError> {
        let store = self.store();
        let kept = store.checkpoint(&self.checkpoint)?;
        if kept.is_none_or(|kept| kept < since) {
            store.set_checkpoint(&self.checkpoint, since)?;
        }
        Ok(())
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads calls that are over for their logs, on this poller's budget
    /// and from what the hub pushed while it is followed.
    pub fn reader(&self) -> CallReader {
        CallReader::new(
            self.client.clone(),
            self.store.clone(),
            self.clock.clone(),
            self.pacer.clone(),
            self.pushed.clone(),
        )
    }

    pub fn client(&self) -> &Arc<Aircall> {
        &self.client
    }

    pub fn pacer(&self) -> &SharedPacer {
        &self.pacer
    }

    /// Since when calls have all been read (Unix s): the last complete head
    /// read, never before the look-back (a longer absence is not caught up
    /// further back). The very first start reads from the moment of
    /// connection: calls from before it are not this installation's to log.
    fn read_until(&self, now_ms: i64) -> Result<i64, callcard_core::StoreError> {
        let floor = (now_ms - self.config.look_back_ms) / 1000;
        let store = self.store();
        // A release before this one kept one checkpoint for every account.
        let polled = match store.checkpoint(&self.checkpoint)? {
            Some(polled) => Some(polled),
            None => store.checkpoint(CHECKPOINT)?,
        };
        Ok(match polled {
            Some(polled) => polled.max(floor),
            None => {
                store.set_checkpoint(&self.checkpoint, now_ms / 1000)?;
                now_ms / 1000
            }
        })
    }

    /// The checkpoint this poller keeps (see [`checkpoint_for`]).
    pub fn checkpoint(&self) -> &str {
        &self.checkpoint
    }

    /// What Aircall said about one call: the tracker's stage moves on, or the
    /// call is closed here when it is no longer this person's.
    fn observe(&self, call: &Call, tick: &mut Tick, live: bool) -> Result<(), PollError> {
        let now = self.clock.now_ms();
        if is_mine(call, &self.config) {
            let events = self
                .store()
                .observe_call(&snapshot(call), self.config.settle_ms, now)?;
            if live && events.iter().any(|e| matches!(e, CallEvent::CallRinging { .. })) {
                tick.ringing.push(RingingCall::of(call));
            }
            tick.events.extend(events);
        } else if let Some(event) = self.store().observe_elsewhere(call.id, now)? {
            tick.events.push(event);
        }
        Ok(())
    }

    /// One request within the budget; `None` when Aircall throttled it.
    async fn request<T>(
        &mut self,
        tick: &mut Tick,
        answer: impl Future<Output = Result<T, AircallError>>,
    ) -> Result<Option<T>, PollError> {
        self.pacer.wait_turn().await;
        tick.requests += 1;
        match answer.await {
            Ok(found) => {
                self.pacer.on_answer(self.client.last_rate(), self.clock.now_ms());
                Ok(Some(found))
            }
            Err(AircallError::RateLimited { reset_ms }) => {
                self.pacer.on_throttled(reset_ms, self.clock.now_ms());
                tick.throttled = true;
                Ok(None)
            }
            Err(error) => Err(PollError::Aircall(error)),
        }
    }

    /// Once per watch: calls an older release left open past the look-back
    /// are forgotten, and what the hub pushed about calls that old.
    fn sweep(&mut self) -> Result<(), PollError> {
        if self.swept {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let floor = (now - self.config.look_back_ms) / 1000;
        let store = self.store();
        let forgotten = store.forget_open_calls_before(floor, now)?;
        if forgotten > 0 {
            tracing::info!(
                forgotten,
                "calls left open before the look-back are no longer followed"
            );
        }
        store.forget_pushed_before(floor * 1000)?;
        drop(store);
        self.swept = true;
        Ok(())
    }

    /// One poll: the newest calls first (a ringing call is seen at once),
    /// then one page of catch-up, one open call the head no longer covers,
    /// the calls that became final, and one AI check.
    pub async fn tick(&mut self) -> Result<Tick, PollError> {
        let mut tick = Tick::default();
        self.sweep()?;
        let Some(covered_from) = self.read_head(&mut tick).await? else {
            return Ok(tick);
        };
        // Catch-up takes what the head leaves of about four seconds (at
        // least one page per tick): a fast budget catches up quickly, a slow
        // one still reads the newest calls every other request.
        let pages = ((4.0 / self.pacer.interval().as_secs_f64().max(0.001)) as usize)
            .saturating_sub(1)
            .clamp(1, 4);
        for _ in 0..pages {
            if tick.throttled || !self.read_backlog(&mut tick).await? {
                break;
            }
        }
        if !tick.throttled {
            self.recheck_open_call(&mut tick, covered_from).await?;
        }
        tick.catch_up = self.store().catch_up()?;
        let now = self.clock.now_ms();
        tick.events
            .extend(self.store().take_due_finals(self.config.ai_wait_ms, now)?);
        if !tick.throttled {
            self.check_ai(&mut tick, now).await?;
        }
        Ok(tick)
    }

    /// The newest calls since the last complete read (and back to an open
    /// call, within reach). What one page cannot hold goes to the backlog.
    /// Returns the oldest start the read covered (Unix s), `None` when throttled.
    async fn read_head(&mut self, tick: &mut Tick) -> Result<Option<i64>, PollError> {
        let now = self.clock.now_ms();
        let since = self.read_until(now)? - OVERLAP_SECS;
        let open = self.store().oldest_open_call()?.unwrap_or(i64::MAX);
        let from = since.min(open.max(now / 1000 - HEAD_REACH_SECS));
        let client = self.client.clone();
        let Some(page) = self
            .request(tick, client.newest_calls(from, None, PER_PAGE))
            .await?
        else {
            return Ok(None);
        };
        for call in &page.calls {
            self.observe(call, tick, true)?;
        }
        let more = page.meta.next_page_link.is_some() || page.meta.total > page.calls.len() as u64;
        let covered_from = match (more, oldest_start(&page.calls)) {
            (true, Some(oldest)) => {
                // More new calls than a page since the last read: the rest
                // of the never-read stretch waits its turn.
                // What an earlier head already put in the backlog is not
                // added again (a dense stretch stays in the head's window
                // for a few ticks).
                let from = self.backlogged_to.map_or(since, |to| since.max(to + 1));
                self.store().add_backlog(from, oldest)?;
                self.backlogged_to = Some(self.backlogged_to.map_or(oldest, |to| to.max(oldest)));
                oldest
            }
            _ => from,
        };
        self.store().set_checkpoint(&self.checkpoint, now / 1000)?;
        Ok(Some(covered_from))
    }

    /// One page of the newest stretch still to catch up; false when there
    /// was nothing to read.
    async fn read_backlog(&mut self, tick: &mut Tick) -> Result<bool, PollError> {
        let Some(slice) = self.store().next_backlog()? else {
            return Ok(false);
        };
        let client = self.client.clone();
        let Some(page) = self
            .request(
                tick,
                client.newest_calls_page(slice.from, Some(slice.to), PER_PAGE, slice.page),
            )
            .await?
        else {
            return Ok(false);
        };
        for call in &page.calls {
            self.observe(call, tick, false)?;
        }
        let full = page.calls.len() as u32 >= PER_PAGE;
        let store = self.store();
        match oldest_start(&page.calls) {
            // Calls at the oldest second may go on in the next page: read it again.
            Some(oldest) if full && oldest < slice.to => store.shrink_backlog(slice.id, oldest)?,
            // A whole page in one second (a burst): that second is paged
            // through; one second cannot hold 10,000 calls.
            Some(_) if full && slice.from == slice.to && slice.page < MAX_PAGE => {
                store.next_backlog_page(slice.id)?
            }
            Some(_) if full && slice.from < slice.to => store.split_backlog_second(&slice)?,
            _ => store.shrink_backlog(slice.id, slice.from - 1)?,
        }
        Ok(true)
    }

    /// An open call the head read did not cover (a call longer than its
    /// reach, or one lost in a burst): asked for by id, the least recently
    /// checked first, one per tick.
    async fn recheck_open_call(&mut self, tick: &mut Tick, covered_from: i64) -> Result<(), PollError> {
        let now = self.clock.now_ms();
        let Some(call_id) = self
            .store()
            .open_calls_before(covered_from, 1)?
            .into_iter()
            .next()
        else {
            return Ok(());
        };
        if self
            .store()
            .call_checked_ms(call_id)?
            .is_some_and(|t| now - t < OPEN_CALL_RECHECK_MS)
        {
            return Ok(());
        }
        let client = self.client.clone();
        match self.request(tick, client.call(call_id)).await {
            Ok(Some(call)) => {
                self.observe(&call, tick, false)?;
                self.store().mark_call_checked(call_id, now)?;
            }
            Ok(None) => {}
            Err(PollError::Aircall(AircallError::NotFound)) => {
                // Deleted in Aircall: nothing more will come of it here.
                if let Some(event) = self.store().observe_elsewhere(call_id, now)? {
                    tick.events.push(event);
                }
            }
            Err(error) => return Err(error),
        }
        Ok(())
    }

    /// One AI check per tick at most: new calls matter more than AI data,
    /// which may take minutes anyway.
    async fn check_ai(&mut self, tick: &mut Tick, now: i64) -> Result<(), PollError> {
        let Some(call_id) = self.store().ai_checks_due(now)?.into_iter().next() else {
            return Ok(());
        };
        let client = self.client.clone();
        match self.request(tick, client.ai_ready(call_id)).await {
            Ok(Some(true)) => {
                if let Some(event) = self.store().mark_ai_ready(call_id, self.clock.now_ms())? {
                    tick.events.push(event);
                }
            }
            Ok(Some(false)) => self
                .store()
                .schedule_ai_check(call_id, now + self.config.ai_retry_ms)?,
            Ok(None) => {}
            Err(PollError::Aircall(error)) => {
                tracing::warn!(call_id, %error, "cannot read AI data");
                self.store()
                    .schedule_ai_check(call_id, now + self.config.ai_retry_ms)?;
            }
            Err(error) => return Err(error),
        }
        Ok(())
    }
}
