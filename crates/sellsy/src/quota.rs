//! Sellsy's quotas per account and per second, minute, day and month, read
//! from the `X-Quota-Remaining-By-*` headers of every answer (refused ones
//! too: failed requests count). When one is spent, every request of this
//! connector waits for its window, and the outbox's limiter is told.

use callcard_core::crm::RateHint;
use callcard_crm_http::reqwest::header::HeaderMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOWS: [(&str, Duration); 4] = [
    ("x-quota-remaining-by-second", Duration::from_secs(1)),
    ("x-quota-remaining-by-minute", Duration::from_secs(60)),
    ("x-quota-remaining-by-day", Duration::from_secs(86_400)),
    ("x-quota-remaining-by-month", Duration::from_secs(30 * 86_400)),
];

/// Longer waits than this are reported, not slept through: a spent daily
/// quota parks work in the outbox instead of freezing the app.
const LONGEST_SLEEP: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Quota {
    last: Mutex<Option<(RateHint, Instant)>>,
}

impl Quota {
    /// Reads the headers of an answer.
    pub fn observe(&self, headers: &HeaderMap) {
        let remaining: Vec<(u32, Duration)> = WINDOWS
            .iter()
            .filter_map(|(name, window)| {
                let value = headers.get(*name)?.to_str().ok()?.trim().parse::<u32>().ok()?;
                Some((value, *window))
            })
            .collect();
        let Some(first) = remaining.first().copied() else {
            return;
        };
        // The spent quota with the longest window decides; else the shortest window's count.
        let (left, window) = remaining
            .iter()
            .rev()
            .find(|(left, _)| *left == 0)
            .copied()
            .unwrap_or(first);
        let hint = RateHint {
            remaining: left,
            window,
        };
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((hint, Instant::now()));
    }

    pub fn hint(&self) -> Option<RateHint> {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|(hint, _)| hint)
    }

    /// How long until the spent quota's window is over (`None`: not spent).
    pub fn wait(&self) -> Option<Duration> {
        let (hint, seen) = (*self.last.lock().unwrap_or_else(|p| p.into_inner()))?;
        if hint.remaining > 0 {
            return None;
        }
        (seen + hint.window).checked_duration_since(Instant::now())
    }

    /// Waits for a spent per-second or per-minute quota; a longer one is
    /// the caller's to report.
    pub async fn ready(&self) -> Result<(), Duration> {
        match self.wait() {
            None => Ok(()),
            Some(wait) if wait <= LONGEST_SLEEP => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Some(wait) => Err(wait),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcard_crm_http::reqwest::header::HeaderValue;

    fn headers(second: u32, minute: u32, day: u32) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in [
            ("x-quota-remaining-by-second", second),
            ("x-quota-remaining-by-minute", minute),
            ("x-quota-remaining-by-day", day),
            ("x-quota-remaining-by-month", 1000),
        ] {
            map.insert(name, HeaderValue::from_str(&value.to_string()).unwrap());
        }
        map
    }

    #[test]
    fn room_left_means_no_wait() {
        let quota = Quota::default();
        quota.observe(&headers(1, 50, 900));
        assert_eq!(quota.hint().map(|h| h.remaining), Some(1));
        assert_eq!(quota.wait(), None);
    }

    #[test]
    fn a_spent_second_waits_at_most_a_second() {
        let quota = Quota::default();
        quota.observe(&headers(0, 50, 900));
        let hint = quota.hint().unwrap();
        assert_eq!((hint.remaining, hint.window), (0, Duration::from_secs(1)));
        assert!(quota.wait().unwrap() <= Duration::from_secs(1));
    }

    #[test]
    fn a_spent_day_outweighs_a_spent_second_and_is_not_slept_through() {
        let quota = Quota::default();
        quota.observe(&headers(0, 10, 0));
        assert_eq!(quota.hint().unwrap().window, Duration::from_secs(86_400));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        assert!(rt.block_on(quota.ready()).is_err());
    }

    #[test]
    fn answers_without_quota_headers_change_nothing() {
        let quota = Quota::default();
        quota.observe(&HeaderMap::new());
        assert_eq!(quota.hint(), None);
    }
}
