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
            let (writer, guard) = tracing_appender::non_blocking(appender);
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
