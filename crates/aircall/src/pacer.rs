//! The company's Aircall budget. Aircall's rate limit is shared by the
//! whole company, so every request a computer makes — the poller's reads,
//! the Aircall lane's insight cards and contact syncs, a detail read for a
//! log — takes its turn here: at most the budget in any minute, whatever
//! happens, at an interval that backs off multiplicatively on 429 and on a
//! low `X-AircallApi-Remaining` and recovers additively (AIMD, like TCP), so
//! that many instances settle under the company limit. The poller owns one
//! [`SharedPacer`] and lends it to the other users of the budget.

use crate::client::RateInfo;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The interval that spends exactly `budget_per_minute`.
pub fn base_interval(budget_per_minute: u32) -> Duration {
    Duration::from_secs_f64(60.0 / f64::from(budget_per_minute.max(1)))
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
    /// At most `budget_per_minute` requests in any minute, spaced to spend
    /// it exactly, backing off down to one every `max_interval`.
    pub fn new(budget_per_minute: u32, max_interval: Duration) -> Self {
        let base = base_interval(budget_per_minute);
        Self {
            budget: budget_per_minute.max(1),
            base,
            max: max_interval.max(base),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(budget: u32) -> Pacer {
        Pacer::new(budget, Duration::from_secs(300))
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_is_never_exceeded_in_any_minute() {
        let mut pacer = pacer(10);
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
        let mut pacer = pacer(10);
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
        let mut pacer = pacer(6);
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
        let mut pacer = pacer(6);
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
        let mut pacer = pacer(6);
        pacer.on_answer(Some(rate(36, 30_000)), 1_000_000);
        assert_eq!(pacer.interval(), Duration::from_secs(10), "held at the base");
        pacer.on_answer(Some(rate(32, 30_000)), 1_000_000);
        assert_eq!(pacer.interval(), Duration::from_secs(15));
    }
}
