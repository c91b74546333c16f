//! `callcard-hub`: the team hub server. Configured by `CALLCARD_HUB_*`
//! variables (see crates/hub/src/config.rs); stops cleanly on SIGTERM.

use anyhow::Context;
use callcard_hub::{EventLog, Hub, HubConfig, SqliteEventLog};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CALLCARD_HUB_LOG").unwrap_or_else(|_| "info".into()),
        )
        .init();
    if std::env::args().any(|a| a == "--version" || a == "-V") {
        println!("callcard-hub {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    let config = HubConfig::from_env(|key| std::env::var(key).ok())?;
    let log: Arc<dyn EventLog> = Arc::new(
        SqliteEventLog::open(&config.database)
            .with_context(|| format!("opening the event log {}", config.database.display()))?,
    );
    // Retention: events older than the configured days are pruned hourly.
    let retention_ms = i64::from(config.retention_days) * 86_400_000;
    let pruned_log = log.clone();
    tokio::spawn(async move {
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let log = pruned_log.clone();
            match tokio::task::spawn_blocking(move || log.prune(now - retention_ms)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(n, "old events pruned"),
                Ok(Err(error)) => tracing::warn!(%error, "cannot prune old events"),
                Err(error) => tracing::warn!(%error, "the pruning task failed"),
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
    let hub = Hub::new(log, config.webhook_token.clone());
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("listening on {}", config.addr))?;
    tracing::info!(addr = %config.addr, database = %config.database.display(), "callcard-hub listening");
    axum::serve(listener, hub.router())
        .with_graceful_shutdown(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
            tracing::info!("stopping");
        })
        .await?;
    Ok(())
}
