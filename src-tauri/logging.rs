//! Logs to stderr and to a daily file in the XDG state folder. Never log a
//! secret: credentials are only handled by `callcard-secrets`, which logs keys,
//! not values.

use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("CALLCARD_LOG").unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The most one day's log file takes: with 14 files kept, the logs never
/// hold more than 14 × 20 MiB, whatever a runaway loop writes.
pub const MAX_BYTES_PER_DAY: u64 = 20 * 1024 * 1024;

/// A writer that stops writing for the rest of the (UTC) day once `max`
/// bytes were written, after one line saying so. The daily files rotate at
/// UTC midnight too, so each file is capped.
pub struct CappedPerDay<W> {
    inner: W,
    max: u64,
    day: u64,
    written: u64,
    capped: bool,
}

impl<W> CappedPerDay<W> {
    pub fn new(inner: W, max: u64) -> Self {
        Self {
            inner,
            max,
            day: Self::today(),
            written: 0,
            capped: false,
        }
    }

    fn today() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() / 86_400)
            .unwrap_or(0)
    }
}

impl<W: std::io::Write> std::io::Write for CappedPerDay<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let today = Self::today();
        if today != self.day {
            self.day = today;
            self.written = 0;
            self.capped = false;
        }
        if self.written.saturating_add(buf.len() as u64) > self.max {
            if !self.capped {
                self.capped = true;
                let _ = self
                    .inner
                    .write_all(b"callcard: the log reached its size limit for today; nothing more is written until tomorrow\n");
            }
            // Taken, not written: the logger must not fail or block.
            return Ok(buf.len());
        }
        self.written = self.written.saturating_add(buf.len() as u64);
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Keep the guard alive for as long as the program runs, or the last lines are lost.
pub fn init(log_dir: &Path) -> Option<WorkerGuard> {
    let stderr = fmt::layer().with_writer(std::io::stderr).with_filter(filter());
    let appender = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix("callcard")
        .filename_suffix("log")
        .max_log_files(14)
        .build(log_dir);
    match appender {
        Ok(appender) => {
            let (writer, guard) =
                tracing_appender::non_blocking(CappedPerDay::new(appender, MAX_BYTES_PER_DAY));
            let file = fmt::layer()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(filter());
            tracing_subscriber::registry().with(stderr).with(file).init();
            Some(guard)
        }
        Err(error) => {
            tracing_subscriber::registry().with(stderr).init();
            tracing::warn!(%error, dir = %log_dir.display(), "cannot write the log file; logging to stderr only");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CappedPerDay;
    use std::io::Write;

    #[test]
    fn a_days_log_stops_at_its_cap_with_one_line_saying_so() {
        let mut capped = CappedPerDay::new(Vec::new(), 100);
        for _ in 0..50 {
            capped.write_all(b"0123456789\n").unwrap();
        }
        let text = String::from_utf8(capped.inner.clone()).unwrap();
        assert!(text.len() <= 100 + 120, "{}", text.len());
        assert_eq!(text.matches("size limit").count(), 1);
    }
}
