//! The vendors' rate limits, with their real headers:
//! * Aircall: requests per minute per company; `X-AircallApi-Limit`,
//!   `-Remaining`, `-Reset` (seconds, or milliseconds when configured, since
//!   both are seen); 429 past the limit.
//! * Sellsy: quotas per second, minute, day and month per account; every
//!   answer carries `X-Quota-Remaining-By-*`; failed requests count too.
//! * JobAdder: unpublished limits; 429 with `Retry-After` seconds.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    pub aircall_per_minute: u32,
    /// Write `X-AircallApi-Reset` in milliseconds instead of seconds.
    pub aircall_reset_in_ms: bool,
    pub sellsy_per_second: u32,
    pub sellsy_per_minute: u32,
    pub sellsy_per_day: u32,
    pub sellsy_per_month: u32,
    pub jobadder_per_minute: u32,
    /// JobAdder publishes no maximum note length; the sandbox enforces this
    /// one so that "too long" answers can be tested.
    pub jobadder_note_max_chars: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            aircall_per_minute: 60,
            aircall_reset_in_ms: false,
            sellsy_per_second: 10,
            sellsy_per_minute: 300,
            sellsy_per_day: 100_000,
            sellsy_per_month: 2_000_000,
            jobadder_per_minute: 300,
            jobadder_note_max_chars: 32_000,
        }
    }
}

/// A fixed window aligned on the clock, like the vendors' counters.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    start_ms: i64,
    count: u32,
}

impl Window {
    fn roll(&mut self, now_ms: i64, len_ms: i64) {
        let start = now_ms - now_ms.rem_euclid(len_ms);
        if start != self.start_ms {
            *self = Window {
                start_ms: start,
                count: 0,
            };
        }
    }
}

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const DAY: i64 = 24 * 60 * MINUTE;
const MONTH: i64 = 30 * DAY;

#[derive(Debug, Default)]
pub struct Decision {
    pub allowed: bool,
    pub headers: Vec<(&'static str, String)>,
    pub retry_after_secs: Option<u64>,
}

pub struct LimitState {
    pub config: LimitsConfig,
    aircall: Window,
    sellsy: [Window; 4],
    jobadder: Window,
}

impl LimitState {
    pub fn new(config: LimitsConfig) -> Self {
        Self {
            config,
            aircall: Window::default(),
            sellsy: [Window::default(); 4],
            jobadder: Window::default(),
        }
    }

    pub fn set(&mut self, config: LimitsConfig) {
        self.config = config;
    }

    pub fn check(&mut self, api: &str, now_ms: i64) -> Decision {
        match api {
            "aircall" => self.aircall(now_ms),
            "sellsy" => self.sellsy(now_ms),
            "jobadder" => self.jobadder(now_ms),
            _ => Decision {
                allowed: true,
                ..Decision::default()
            },
        }
    }

    fn aircall(&mut self, now_ms: i64) -> Decision {
        let limit = self.config.aircall_per_minute;
        self.aircall.roll(now_ms, MINUTE);
        let allowed = self.aircall.count < limit;
        if allowed {
            self.aircall.count += 1;
        }
        let reset_ms = self.aircall.start_ms + MINUTE;
        let reset = if self.config.aircall_reset_in_ms {
            reset_ms
        } else {
            reset_ms / 1000
        };
        Decision {
            allowed,
            headers: vec![
                ("x-aircallapi-limit", limit.to_string()),
                (
                    "x-aircallapi-remaining",
                    limit.saturating_sub(self.aircall.count).to_string(),
                ),
                ("x-aircallapi-reset", reset.to_string()),
            ],
            retry_after_secs: (!allowed).then(|| ceil_secs(reset_ms - now_ms)),
        }
    }

    fn sellsy(&mut self, now_ms: i64) -> Decision {
        let c = &self.config;
        let limits = [
            c.sellsy_per_second,
            c.sellsy_per_minute,
            c.sellsy_per_day,
            c.sellsy_per_month,
        ];
        let lengths = [SECOND, MINUTE, DAY, MONTH];
        for (window, len) in self.sellsy.iter_mut().zip(lengths) {
            window.roll(now_ms, len);
        }
        let allowed = self.sellsy.iter().zip(limits).all(|(w, limit)| w.count < limit);
        // Sellsy counts refused requests too.
        for window in &mut self.sellsy {
            window.count += 1;
        }
        let names = [
            "x-quota-remaining-by-second",
            "x-quota-remaining-by-minute",
            "x-quota-remaining-by-day",
            "x-quota-remaining-by-month",
        ];
        let headers = names
            .iter()
            .zip(self.sellsy.iter().zip(limits))
            .map(|(name, (w, limit))| (*name, limit.saturating_sub(w.count).to_string()))
            .collect();
        let retry_after_secs = (!allowed).then(|| {
            let blocking = self
                .sellsy
                .iter()
                .zip(limits)
                .zip(lengths)
                .filter(|((w, limit), _)| w.count > *limit)
                .map(|((w, _), len)| w.start_ms + len - now_ms)
                .max()
                .unwrap_or(SECOND);
            ceil_secs(blocking)
        });
        Decision {
            allowed,
            headers,
            retry_after_secs,
        }
    }

    fn jobadder(&mut self, now_ms: i64) -> Decision {
        self.jobadder.roll(now_ms, MINUTE);
        let allowed = self.jobadder.count < self.config.jobadder_per_minute;
        if allowed {
            self.jobadder.count += 1;
        }
        Decision {
            allowed,
            headers: Vec::new(),
            retry_after_secs: (!allowed).then(|| ceil_secs(self.jobadder.start_ms + MINUTE - now_ms)),
        }
    }
}

fn ceil_secs(ms: i64) -> u64 {
    (ms.max(1) as u64).div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_040_000; // on a minute boundary

    #[test]
    fn aircall_allows_the_limit_per_minute_then_429s_until_the_reset() {
        let mut state = LimitState::new(LimitsConfig {
            aircall_per_minute: 3,
            ..Default::default()
        });
        for remaining in ["2", "1", "0"] {
            let d = state.check("aircall", T0 + 10);
            assert!(d.allowed);
            assert_eq!(d.headers[1].1, remaining);
        }
        let refused = state.check("aircall", T0 + 20_000);
        assert!(!refused.allowed);
        assert_eq!(refused.headers[2].1, ((T0 + MINUTE) / 1000).to_string());
        assert_eq!(refused.retry_after_secs, Some(40));
        assert!(state.check("aircall", T0 + MINUTE).allowed, "a new minute");
    }

    #[test]
    fn aircall_reset_can_be_in_milliseconds() {
        let mut state = LimitState::new(LimitsConfig {
            aircall_reset_in_ms: true,
            ..Default::default()
        });
        assert_eq!(state.check("aircall", T0).headers[2].1, (T0 + MINUTE).to_string());
    }

    #[test]
    fn sellsy_counts_refused_requests_and_reports_every_quota() {
        let mut state = LimitState::new(LimitsConfig {
            sellsy_per_second: 2,
            ..Default::default()
        });
        assert!(state.check("sellsy", T0).allowed);
        let second = state.check("sellsy", T0 + 1);
        assert!(second.allowed);
        assert_eq!(
            second.headers[0],
            ("x-quota-remaining-by-second", "0".to_string())
        );
        assert_eq!(
            second.headers[1],
            ("x-quota-remaining-by-minute", "298".to_string())
        );
        let third = state.check("sellsy", T0 + 2);
        assert!(!third.allowed);
        assert_eq!(third.headers[1].1, "297", "the refused request counted too");
        assert!(state.check("sellsy", T0 + SECOND).allowed);
    }

    #[test]
    fn jobadder_429_says_when_to_retry() {
        let mut state = LimitState::new(LimitsConfig {
            jobadder_per_minute: 1,
            ..Default::default()
        });
        assert!(state.check("jobadder", T0).allowed);
        let refused = state.check("jobadder", T0 + 59_500);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, Some(1));
    }
}
