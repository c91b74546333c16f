//! The budgeted poller. Aircall's rate limit is shared by the whole company,
//! so polling treats requests as a budget: at most `budget_per_minute` in any
//! minute, whatever happens; an interval that backs off multiplicatively on
//! 429 and on a low `X-AircallApi-Remaining` and recovers additively (AIMD,
//! like TCP), so that many instances settle under the company limit.
//!
//! One request per tick covers the person's calls and the ringing inbound
//! calls on their numbers: `GET /v1/calls?from=…&order=asc` (Aircall has no
//! user filter on the list that includes unanswered inbound calls), filtered
//! here by the connected numbers.

use crate::client::{Aircall, AircallError, RateInfo};
use crate::model::{Call, Status};
use callcard_core::clock::Clock;
use callcard_core::tracker::{CallEvent, CallSnapshot};
use callcard_core::Store;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The checkpoint name in the store.
pub const CHECKPOINT: &str = "aircall_polled_until";

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
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits until a request may go out, and counts it.
    pub async fn wait_turn(&mut self) {
        loop {
            let now = Instant::now();
            while self
                .sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= MINUTE)
            {
                self.sent.pop_front();
            }
            let mut turn = self.last.map(|l| l + self.interval).unwrap_or(now);
            if let Some(nb) = self.not_before {
                turn = turn.max(nb);
            }
            // The budget is a hard limit: never more than `budget` in any minute.
            if self.sent.len() as u32 >= self.budget {
                if let Some(oldest) = self.sent.front() {
                    turn = turn.max(*oldest + MINUTE);
                }
            }
            if turn <= now {
                self.sent.push_back(now);
                self.last = Some(now);
                return;
            }
            tokio::time::sleep_until(turn).await;
        }
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
}

pub struct Poller {
    client: Arc<Aircall>,
    store: Arc<Mutex<Store>>,
    clock: Arc<dyn Clock>,
    config: PollerConfig,
    pacer: Pacer,
    /// The rest of a paged read: the next tick continues it.
    next_page: Option<String>,
    /// When the read in progress started (Unix ms), for the checkpoint.
    read_started_ms: i64,
}

/// Re-read this much before the last poll: a call created while the last
/// poll was under way may not have been in its answer.
const OVERLAP_SECS: i64 = 10;

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

impl Poller {
    pub fn new(
        client: Arc<Aircall>,
        store: Arc<Mutex<Store>>,
        clock: Arc<dyn Clock>,
        config: PollerConfig,
    ) -> Self {
        let pacer = Pacer::new(&config);
        Self {
            next_page: None,
            read_started_ms: 0,
            client,
            store,
            clock,
            config,
            pacer,
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A final call in full (tags and notes complete), within the budget.
    pub async fn fetch_call(&mut self, id: i64) -> Result<Call, PollError> {
        self.pacer.wait_turn().await;
        self.paced(self.client.call(id).await)
    }

    /// A call's AI data (three requests), within the budget.
    pub async fn fetch_insights(&mut self, id: i64) -> Result<Option<crate::model::Insights>, PollError> {
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

    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// Where the next poll starts (Unix s): the last poll, less a little
    /// overlap, or the oldest call still open; never before the look-back.
    fn window_start(&self) -> Result<i64, callcard_core::StoreError> {
        let now = self.clock.now_ms();
        let floor = (now - self.config.look_back_ms) / 1000;
        let store = self.store();
        let polled = store
            .checkpoint(CHECKPOINT)?
            .map(|s| s - OVERLAP_SECS)
            .unwrap_or(floor);
        let open = store.oldest_open_call()?.unwrap_or(i64::MAX);
        Ok(polled.min(open).max(floor))
    }

    /// One poll, one request: the first page of the window (newest calls
    /// first, so a ringing call is seen at once) or the next page of a read
    /// in progress; then the calls that became final, and AI checks.
    pub async fn tick(&mut self) -> Result<Tick, PollError> {
        let mut tick = Tick::default();
        self.pacer.wait_turn().await;
        tick.requests += 1;
        let page = match self.next_page.clone() {
            Some(link) => self.client.page(&link).await,
            None => {
                let from = self.window_start()?;
                self.read_started_ms = self.clock.now_ms();
                self.client.calls_since(from, 50).await
            }
        };
        let page = match page {
            Ok(page) => page,
            Err(AircallError::RateLimited { reset_ms }) => {
                self.pacer.on_throttled(reset_ms, self.clock.now_ms());
                tick.throttled = true;
                return Ok(tick);
            }
            Err(error) => {
                // Start the read again next time rather than follow a stale link.
                self.next_page = None;
                return Err(PollError::Aircall(error));
            }
        };
        self.pacer.on_answer(self.client.last_rate(), self.clock.now_ms());
        let now = self.clock.now_ms();
        for call in page.calls.iter().filter(|c| is_mine(c, &self.config)) {
            let events = self
                .store()
                .observe_call(&snapshot(call), self.config.settle_ms, now)?;
            if events.iter().any(|e| matches!(e, CallEvent::CallRinging { .. })) {
                tick.ringing.push(call.clone());
            }
            tick.events.extend(events);
        }
        self.next_page = page.meta.next_page_link.filter(|_| !page.calls.is_empty());
        if self.next_page.is_none() {
            // The whole window was read: the next one starts from here.
            self.store()
                .set_checkpoint(CHECKPOINT, self.read_started_ms / 1000)?;
        }
        let now = self.clock.now_ms();
        tick.events
            .extend(self.store().take_due_finals(self.config.ai_wait_ms, now)?);
        // One AI check per tick at most, each a single paced request: new
        // calls matter more than AI data, which may take minutes anyway.
        let ai_due = self.store().ai_checks_due(now)?;
        for call_id in ai_due.into_iter().take(1) {
            self.pacer.wait_turn().await;
            tick.requests += 1;
            match self.client.ai_ready(call_id).await {
                Ok(true) => {
                    if let Some(event) = self.store().mark_ai_ready(call_id, self.clock.now_ms())? {
                        tick.events.push(event);
                    }
                }
                Ok(false) => self
                    .store()
                    .schedule_ai_check(call_id, now + self.config.ai_retry_ms)?,
                Err(AircallError::RateLimited { reset_ms }) => {
                    self.pacer.on_throttled(reset_ms, self.clock.now_ms());
                    tick.throttled = true;
                    break;
                }
                Err(error) => {
                    tracing::warn!(call_id, %error, "cannot read AI data");
                    self.store()
                        .schedule_ai_check(call_id, now + self.config.ai_retry_ms)?;
                }
            }
        }
        Ok(tick)
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
