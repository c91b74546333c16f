//! A call that cannot be read from Aircall, or that a CRM refuses, waits on
//! its own back-off so that the calls after it are logged meanwhile (one
//! stuck call used to hold every later one); after a bounded time it is
//! given up on and the history says why.

use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(10 * 60);
/// A call Aircall says does not exist (a demo call left over when the real
/// account was connected, a call of another company): tried for a while in
/// case Aircall was only behind, then given up on.
pub const GIVE_UP_NOT_FOUND: Duration = Duration::from_secs(10 * 60);
/// Anything else (Aircall or a CRM failing for this call only): a day.
pub const GIVE_UP: Duration = Duration::from_secs(24 * 60 * 60);

/// `CALLCARD_CALL_GIVE_UP_SECS` (tests): one bound for every failure.
pub fn give_up_override(env: &crate::environment::Environment) -> Option<Duration> {
    env.var("CALLCARD_CALL_GIVE_UP_SECS")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Why a call (or its AI update) failed this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The other side says it does not exist.
    NotFound,
    /// Anything else that is about this call only.
    Other,
}

struct Retry {
    first: Instant,
    next: Instant,
    delay: Duration,
}

/// The calls (or AI updates, under their own key) waiting after a failure.
pub struct CallRetries<K> {
    waiting: HashMap<K, Retry>,
    give_up_override: Option<Duration>,
}

impl<K: std::hash::Hash + Eq> CallRetries<K> {
    pub fn new(give_up_override: Option<Duration>) -> Self {
        Self {
            waiting: HashMap::new(),
            give_up_override,
        }
    }

    /// Whether `key` may be tried now (never failed, or its wait is over).
    pub fn due(&self, key: &K) -> bool {
        self.waiting
            .get(key)
            .is_none_or(|retry| Instant::now() >= retry.next)
    }

    /// Records a failure; `true` when it is time to give up on `key`.
    pub fn failed(&mut self, key: K, failure: Failure) -> bool {
        let now = Instant::now();
        let bound = self.give_up_override.unwrap_or(match failure {
            Failure::NotFound => GIVE_UP_NOT_FOUND,
            Failure::Other => GIVE_UP,
        });
        let retry = self.waiting.entry(key).or_insert(Retry {
            first: now,
            next: now,
            delay: FIRST_RETRY / 2,
        });
        if now.duration_since(retry.first) >= bound {
            return true;
        }
        retry.delay = (retry.delay * 2).min(MAX_RETRY);
        retry.next = now + retry.delay;
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

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_waits_longer_each_time_and_is_given_up_after_the_bound() {
        let mut retries = CallRetries::new(None);
        assert!(retries.due(&7));
        assert!(!retries.failed(7, Failure::NotFound));
        assert!(!retries.due(&7), "waits after a failure");
        assert!(retries.due(&8), "the next call does not wait");
        tokio::time::advance(FIRST_RETRY).await;
        assert!(retries.due(&7));
        assert!(!retries.failed(7, Failure::NotFound));
        tokio::time::advance(FIRST_RETRY).await;
        assert!(!retries.due(&7), "the second wait is longer");
        tokio::time::advance(GIVE_UP_NOT_FOUND).await;
        assert!(retries.failed(7, Failure::NotFound), "given up after the bound");
        retries.done(&7);
        assert!(retries.due(&7));
    }

    #[tokio::test(start_paused = true)]
    async fn other_failures_are_tried_for_a_day() {
        let mut retries = CallRetries::new(None);
        assert!(!retries.failed(1, Failure::Other));
        tokio::time::advance(GIVE_UP_NOT_FOUND * 2).await;
        assert!(!retries.failed(1, Failure::Other));
        tokio::time::advance(GIVE_UP).await;
        assert!(retries.failed(1, Failure::Other));
    }
}
