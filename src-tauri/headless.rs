//! `--headless`: the same engine as the tray app, without tray or windows,
//! for servers and tests. Stops cleanly on SIGTERM and SIGINT.

use callcard_engine::Engine;
use std::sync::Arc;

pub async fn run(engine: Arc<Engine>) -> anyhow::Result<()> {
    tracing::info!(
        pid = std::process::id(),
        "running headless; stop with SIGTERM or Ctrl+C"
    );
    crate::notify::follow(&engine);
    wait_for_stop_signal().await?;
    tracing::info!("stop signal received, shutting down");
    engine.shutdown().await;
    Ok(())
}

/// SIGTERM (logout, systemd, `kill`) or SIGINT (Ctrl+C).
#[cfg(unix)]
pub async fn wait_for_stop_signal() -> anyhow::Result<()> {
    use anyhow::Context;
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
pub async fn wait_for_stop_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
