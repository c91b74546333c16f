//! The budgeted poller. Aircall's rate limit is shared by the whole company,
//! so polling treats requests as a budget: at most `budget_per_minute` in any
//! minute, whatever happens; an interval that backs off multiplicatively on
//! 429 and on a low `X-AircallApi-Remaining` and recovers additively (AIMD,
//! like TCP), so that many instances settle under the company limit.
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

use crate::client::{Aircall, AircallError, RateInfo};
use crate::hub::{HubEvent, Pushed};
use crate::model::{Call, Insights, Status};
use callcard_core::clock::Clock;
use callcard_core::store::CatchUp;
use callcard_core::tracker::{CallEvent, CallSnapshot};
use callcard_core::Store;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

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
        Duration::from_secs_f64(60.0 / f64::from(self.budget_per_minute.max(1)))
    }
}

/// AIMD pacing under a hard per-minute budget.
#[derive(Debug)]
pub struct Pacer {
    budget: u32,
    base: Duration,
    max: Duration,
    interval: Duration,
    sent: VecDeque<Instant>,
    last: Option<Instant>,
    not_before: Option<Instant>,
    /// Polling spreads its requests evenly over the minute. Following the
    /// team hub, the few requests left (contact sync, the insight card, a
    /// detail read) go at once, still never more than the budget a minute.
    spaced: bool,
}

const MINUTE: Duration = Duration::from_secs(60);

impl Pacer {
    pub fn new(config: &PollerConfig) -> Self {
        let base = config.base_interval();
        Self {
            budget: config.budget_per_minute.max(1),
            base,
            max: config.max_interval.max(base),
            interval: base,
            sent: VecDeque::new(),
            last: None,
            not_before: None,
            spaced: true,
        }
    }

    /// Whether requests are spread evenly (polling) or may go together (see `spaced`).
    pub fn set_spaced(&mut self, spaced: bool) {
        self.spaced = spaced;
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits until a request may go out, and counts it.
    pub async fn wait_turn(&mut self) {
        let turn = self.reserve(Instant::now());
        tokio::time::sleep_until(turn).await;
    }

    /// When the next request may go out, counted from now on: turns are
    /// handed out in order, so several tasks sharing one pacer (see
    /// [`SharedPacer`]) wait without holding it.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= MINUTE)
        {
            self.sent.pop_front();
        }
        let mut turn = match self.last {
            Some(last) if self.spaced => last + self.interval,
            _ => now,
        };
        if let Some(nb) = self.not_before {
            turn = turn.max(nb);
        }
        // The budget is a hard limit: never more than `budget` in any minute.
        let budget = self.budget as usize;
        if self.sent.len() >= budget {
            if let Some(oldest) = self.sent.get(self.sent.len() - budget) {
                turn = turn.max(*oldest + MINUTE);
            }
        }
        turn = turn.max(self.last.unwrap_or(turn)).max(now);
        self.sent.push_back(turn);
        self.last = Some(turn);
        turn
    }

    /// After an answer: back off when the company is close to its limit,
    /// hold when it is getting there, otherwise speed up by one request per
    /// minute (additive increase of the rate, as TCP does; multiplicative
    /// decrease on trouble). "Close" is read from the rate headers: few requests
    /// remaining, or a pace since the window began that would spend most of
    /// the limit by its end — so that many instances settle below the limit
    /// instead of discovering it through 429s.
    pub fn on_answer(&mut self, rate: Option<RateInfo>, now_ms: i64) {
        self.interval = match rate.map(|r| company_pressure(r, now_ms)).unwrap_or(Pressure::Low) {
            Pressure::High => self.interval.mul_f64(1.5).min(self.max),
            Pressure::Medium => self.interval,
            Pressure::Low => {
                let per_minute = 60.0 / self.interval.as_secs_f64().max(0.001) + 1.0;
                Duration::from_secs_f64(60.0 / per_minute).max(self.base)
            }
        };
    }

    /// 429: double the interval, and wait for the reset if Aircall said when.
    pub fn on_throttled(&mut self, reset_ms: Option<i64>, now_ms: i64) {
        self.interval = (self.interval * 2).min(self.max);
        if let Some(reset) = reset_ms {
            let wait = Duration::from_millis((reset - now_ms).clamp(0, 120_000) as u64);
            self.not_before = Some(Instant::now() + wait);
        }
    }
}

/// One pacer for everything this computer asks Aircall: the poller's reads
/// and the requests made beside it (contact sync, the insight card), each
/// waiting for its turn without holding the others up.
#[derive(Debug, Clone)]
pub struct SharedPacer(Arc<Mutex<Pacer>>);

impl SharedPacer {
    pub fn new(pacer: Pacer) -> Self {
        Self(Arc::new(Mutex::new(pacer)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pacer> {
        // The pacer's state is valid after any single call.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn wait_turn(&self) {
        let turn = self.lock().reserve(Instant::now());
        tokio::time::sleep_until(turn).await;
    }

    pub fn interval(&self) -> Duration {
        self.lock().interval()
    }

    pub fn set_spaced(&self, spaced: bool) {
        self.lock().set_spaced(spaced);
    }

    pub fn on_answer(&self, rate: Option<RateInfo>, now_ms: i64) {
        self.lock().on_answer(rate, now_ms);
    }

    pub fn on_throttled(&self, reset_ms: Option<i64>, now_ms: i64) {
        self.lock().on_throttled(reset_ms, now_ms);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pressure {
    Low,
    Medium,
    High,
}

/// How hard the whole company is using Aircall's per-minute limit now.
fn company_pressure(rate: RateInfo, now_ms: i64) -> Pressure {
    const WINDOW_MS: i64 = 60_000;
    match (rate.limit, rate.remaining) {
        (Some(limit), Some(remaining)) => {
            if remaining * 10 < limit.max(10) {
                return Pressure::High;
            }
            let Some(reset_ms) = rate.reset_ms else {
                return Pressure::Low;
            };
            let elapsed = WINDOW_MS - (reset_ms - now_ms).clamp(0, WINDOW_MS);
            // Too early in the window to judge the pace.
            if elapsed < 10_000 {
                return Pressure::Low;
            }
            let used = i64::from(limit.saturating_sub(remaining));
            let projected = used * WINDOW_MS / elapsed;
            let limit = i64::from(limit);
            if projected * 100 >= limit * 90 {
                Pressure::High
            } else if projected * 100 >= limit * 75 {
                Pressure::Medium
            } else {
                Pressure::Low
            }
        }
        (None, Some(remaining)) if remaining < 3 => Pressure::High,
        _ => Pressure::Low,
    }
}

/// What a tick found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tick {
    pub events: Vec<CallEvent>,
    /// The calls that started ringing in this tick: what the card needs.
    pub ringing: Vec<Call>,
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
    pushed: bool,
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
        let pacer = SharedPacer::new(Pacer::new(&config));
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
            pushed: false,
        }
    }

    /// Whether calls come from the team hub now (see [`Poller::observe_pushed`]).
    pub fn follow_pushed(&mut self, pushed: bool) {
        self.pushed = pushed;
        self.pacer.set_spaced(!pushed);
    }

    /// What the team hub pushed: a call resource is kept (its log is
    /// written from it) and moves the tracker on as a poll's answer would;
    /// an AI result is kept and makes a final call's AI update ready. No
    /// request to Aircall.
    pub fn observe_pushed(&mut self, event: &HubEvent) -> Result<Tick, PollError> {
        let mut tick = Tick::default();
        let now = self.clock.now_ms();
        match event.read() {
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

    /// A final call in full (tags and notes complete), within the budget;
    /// following the hub, as it last pushed it.
    pub async fn fetch_call(&mut self, id: i64) -> Result<Call, PollError> {
        if self.pushed {
            let pushed = self.store().pushed_call(id)?;
            if let Some(call) = pushed.and_then(|json| serde_json::from_str::<Call>(&json).ok()) {
                if call.status == Status::Done {
                    return Ok(call);
                }
            }
        }
        self.pacer.wait_turn().await;
        self.paced(self.client.call(id).await)
    }

    /// A call's AI data (three requests), within the budget.
    pub async fn fetch_insights(&mut self, id: i64) -> Result<Option<crate::model::Insights>, PollError> {
        if self.pushed {
            let pushed = self.store().pushed_insights(id)?;
            if let Some(insights) = pushed.and_then(|json| serde_json::from_str::<Insights>(&json).ok()) {
                return Ok(insights.summary.is_some().then_some(insights));
            }
        }
        for _ in 0..3 {
            self.pacer.wait_turn().await;
        }
        self.paced(self.client.insights(id).await)
    }

    /// Any other request the app makes on the poller's budget (contact sync).
    pub async fn wait_turn(&mut self) {
        self.pacer.wait_turn().await;
    }

    pub fn client(&self) -> &Arc<Aircall> {
        &self.client
    }

    fn paced<T>(&mut self, answer: Result<T, AircallError>) -> Result<T, PollError> {
        match answer {
            Err(AircallError::RateLimited { reset_ms }) => {
                self.pacer.on_throttled(reset_ms, self.clock.now_ms());
                Err(PollError::Aircall(AircallError::RateLimited { reset_ms }))
            }
            other => {
                self.pacer.on_answer(self.client.last_rate(), self.clock.now_ms());
                other.map_err(PollError::Aircall)
            }
        }
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
                tick.ringing.push(call.clone());
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

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Aircall(#[from] AircallError),
    #[error(transparent)]
    Store(#[from] callcard_core::StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(budget: u32) -> PollerConfig {
        PollerConfig {
            budget_per_minute: budget,
            user_id: 1,
            connected_numbers: vec![10],
            settle_ms: 60_000,
            ai_wait_ms: 1_800_000,
            ai_retry_ms: 120_000,
            look_back_ms: 7 * 86_400_000,
            max_interval: Duration::from_secs(300),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_is_never_exceeded_in_any_minute() {
        let mut pacer = Pacer::new(&config(10));
        // Even with the interval forced down, the window caps the rate.
        pacer.interval = Duration::from_millis(1);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..25 {
            pacer.wait_turn().await;
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().filter(|u| **u - *t < MINUTE).count();
            assert!(in_window <= 10, "{in_window} requests in the minute after {t:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unspaced_requests_go_at_once_and_still_keep_to_the_budget() {
        let mut pacer = Pacer::new(&config(10));
        pacer.set_spaced(false);
        let start = Instant::now();
        for _ in 0..10 {
            pacer.wait_turn().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(1),
            "a burst within the budget goes at once"
        );
        pacer.wait_turn().await;
        assert!(
            start.elapsed() >= Duration::from_secs(60),
            "the eleventh waits for the minute"
        );
    }

    #[test]
    fn throttling_doubles_the_interval_and_recovery_is_slow() {
        let mut pacer = Pacer::new(&config(6));
        assert_eq!(pacer.interval(), Duration::from_secs(10));
        pacer.on_throttled(None, 0);
        assert_eq!(pacer.interval(), Duration::from_secs(20));
        pacer.on_answer(None, 0);
        assert_eq!(
            pacer.interval(),
            Duration::from_secs(15),
            "recovers one request per minute per answer: 3/min → 4/min"
        );
        for _ in 0..50 {
            pacer.on_answer(None, 0);
        }
        assert_eq!(
            pacer.interval(),
            Duration::from_secs(10),
            "never faster than the budget"
        );
    }

    #[test]
    fn low_remaining_requests_slow_the_poller_down() {
        let mut pacer = Pacer::new(&config(6));
        pacer.on_answer(
            Some(RateInfo {
                limit: Some(60),
                remaining: Some(3),
                reset_ms: None,
            }),
            0,
        );
        assert_eq!(pacer.interval(), Duration::from_secs(15));
        pacer.on_answer(
            Some(RateInfo {
                limit: Some(60),
                remaining: Some(40),
                reset_ms: None,
            }),
            0,
        );
        assert_eq!(pacer.interval(), Duration::from_secs(12), "4/min → 5/min");
    }

    #[test]
    fn a_company_pace_heading_for_the_limit_holds_then_backs_off() {
        let rate = |remaining: u32, reset_in_ms: i64| RateInfo {
            limit: Some(60),
            remaining: Some(remaining),
            reset_ms: Some(1_000_000 + reset_in_ms),
        };
        // 30 s into the window, 20 used: 40/min, fine.
        assert_eq!(company_pressure(rate(40, 30_000), 1_000_000), Pressure::Low);
        // 30 s in, 24 used: 48/min (80 %), hold.
        assert_eq!(company_pressure(rate(36, 30_000), 1_000_000), Pressure::Medium);
        // 30 s in, 28 used: 56/min (93 %), back off.
        assert_eq!(company_pressure(rate(32, 30_000), 1_000_000), Pressure::High);
        // 5 s in: too early to judge the pace, plenty left.
        assert_eq!(company_pressure(rate(50, 55_000), 1_000_000), Pressure::Low);
        let mut pacer = Pacer::new(&config(6));
        pacer.on_answer(Some(rate(36, 30_000)), 1_000_000);
        assert_eq!(pacer.interval(), Duration::from_secs(10), "held at the base");
        pacer.on_answer(Some(rate(32, 30_000)), 1_000_000);
        assert_eq!(pacer.interval(), Duration::from_secs(15));
    }
}
