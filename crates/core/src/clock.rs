//! Time as a dependency, so that delays, expiry and the 72-hour SMS rule can
//! be tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch: the unit of every timestamp we store.
pub type UnixMillis = i64;

pub trait Clock: Send + Sync {
    fn now_ms(&self) -> UnixMillis;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> UnixMillis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at(ms: UnixMillis) -> Self {
        Self(AtomicI64::new(ms))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> UnixMillis {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::at(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance_ms(250);
        assert_eq!(clock.now_ms(), 1_250);
    }

    #[test]
    fn system_clock_is_after_2024() {
        assert!(SystemClock.now_ms() > 1_704_067_200_000);
    }
}

/// `ms` as RFC 3339 in UTC, the form CRM APIs take dates in.
pub fn rfc3339(ms: UnixMillis) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// An RFC 3339 date-time from a CRM; one without an offset is read as UTC
/// (some CRMs omit it at times).
pub fn parse_rfc3339(text: &str) -> Option<UnixMillis> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .or_else(|| time::OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339).ok())
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod date_tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_reads_a_missing_offset_as_utc() {
        assert_eq!(rfc3339(1_584_998_199_000), "2020-03-23T21:16:39Z");
        assert_eq!(parse_rfc3339("2020-03-23T21:16:39Z"), Some(1_584_998_199_000));
        assert_eq!(
            parse_rfc3339("2020-03-23T22:16:39+01:00"),
            Some(1_584_998_199_000)
        );
        assert_eq!(parse_rfc3339("2020-03-23T21:16:39"), Some(1_584_998_199_000));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
