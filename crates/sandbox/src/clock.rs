//! The sandbox's clock: the wall clock plus an offset that the control API can
//! move forward, so that tests can "leave the app offline for two hours"
//! without waiting. The request log uses the same clock (Unix milliseconds).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct SandboxClock {
    offset_ms: AtomicI64,
}

impl SandboxClock {
    pub fn now_ms(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        wall + self.offset_ms.load(Ordering::SeqCst)
    }

    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    pub fn advance_ms(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

/// ISO 8601 in UTC with milliseconds and `Z`, as JobAdder and Sellsy write dates.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Parses what [`iso8601`] writes, and the common variants (no millis, `+00:00`).
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = text.split_once('T').or_else(|| text.split_once(' '))?;
    let mut date_parts = date.split('-');
    let y: i64 = date_parts.next()?.parse().ok()?;
    let m: i64 = date_parts.next()?.parse().ok()?;
    let d: i64 = date_parts.next()?.parse().ok()?;
    let (clock, offset_secs) = split_offset(time)?;
    let mut clock_parts = clock.split(':');
    let h: i64 = clock_parts.next()?.parse().ok()?;
    let min: i64 = clock_parts.next()?.parse().ok()?;
    let sec_text = clock_parts.next().unwrap_or("0");
    let (sec, frac) = sec_text.split_once('.').unwrap_or((sec_text, "0"));
    let sec: i64 = sec.parse().ok()?;
    let millis: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    let days = days_from_civil(y, m, d);
    Some(((days * 86_400 + h * 3600 + min * 60 + sec - offset_secs) * 1000) + millis)
}

fn split_offset(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix('Z') {
        return Some((clock, 0));
    }
    let at = time.rfind(['+', '-']);
    match at {
        Some(i) if i >= 5 => {
            let sign = if &time[i..=i] == "-" { -1 } else { 1 };
            let (h, m) = time[i + 1..].split_once(':').unwrap_or((&time[i + 1..], "0"));
            Some((
                &time[..i],
                sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60),
            ))
        }
        _ => Some((time, 0)),
    }
}

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_round_trips() {
        for ms in [0, 1_700_000_000_123, 1_584_998_199_000, 951_782_400_000] {
            assert_eq!(parse_iso8601(&iso8601(ms)), Some(ms), "{}", iso8601(ms));
        }
        assert_eq!(iso8601(1_584_998_199_000), "2020-03-23T21:16:39.000Z");
    }

    #[test]
    fn offsets_and_missing_millis_are_understood() {
        assert_eq!(
            parse_iso8601("2020-03-23T22:16:39+01:00"),
            Some(1_584_998_199_000)
        );
        assert_eq!(parse_iso8601("2020-03-23T21:16:39Z"), Some(1_584_998_199_000));
        assert_eq!(parse_iso8601("not a date"), None);
    }

    #[test]
    fn the_clock_moves_forward_on_request() {
        let clock = SandboxClock::default();
        let before = clock.now_ms();
        clock.advance_ms(7_200_000);
        assert!(clock.now_ms() - before >= 7_200_000);
    }
}
