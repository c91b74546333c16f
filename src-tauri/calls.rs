//! Watching calls: resolves who is at this computer, then polls Aircall
//! within the budget and puts the tracker's events on the service channel.

use crate::connection::AircallConnection;
use callcard_aircall::{Aircall, Poller, PollerConfig};
use callcard_core::Service;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Aircall, once the user at this computer is known: shared by the poller
/// and the dialer.
pub struct AircallSession {
    pub client: Arc<Aircall>,
    pub user_id: i64,
    /// The user's Aircall numbers.
    pub numbers: Vec<i64>,
}

pub type SharedSession = Arc<OnceCell<AircallSession>>;

/// Runs until the service shuts down.
pub async fn watch(service: Arc<Service>, connection: AircallConnection, session: SharedSession) {
    let shutdown = service.shutdown_token();
    let client = match Aircall::new(&connection.api_url, &connection.api_id, &connection.api_token) {
        Ok(client) => Arc::new(client),
        Err(error) => {
            tracing::error!(%error, "cannot create the Aircall client");
            return;
        }
    };
    // Who is at this computer, retried until Aircall answers.
    let (user_id, numbers) = loop {
        let resolved = async {
            let user = client.user_by_email(&connection.user_email).await?;
            let numbers = client.user_numbers(user.id).await?;
            Ok::<_, callcard_aircall::AircallError>((
                user.id,
                numbers.into_iter().map(|n| n.id).collect::<Vec<_>>(),
            ))
        };
        match resolved.await {
            Ok(found) => break found,
            Err(error) => {
                tracing::warn!(%error, email = %connection.user_email, "cannot resolve the Aircall user; retrying in 30 s");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                }
            }
        }
    };
    let _ = session.set(AircallSession {
        client: client.clone(),
        user_id,
        numbers: numbers.clone(),
    });
    let settings = service.settings().unwrap_or_default();
    let connected_numbers = if settings.connected_numbers.is_empty() {
        numbers
    } else {
        settings.connected_numbers.clone()
    };
    tracing::info!(
        user_id,
        ?connected_numbers,
        budget = settings.polling_budget_per_minute,
        "watching Aircall calls"
    );
    let config = PollerConfig {
        budget_per_minute: settings.polling_budget_per_minute,
        user_id,
        connected_numbers,
        settle_ms: i64::from(settings.settle_delay_secs) * 1000,
        ai_wait_ms: i64::from(settings.ai_wait_minutes) * 60_000,
        ai_retry_ms: 120_000,
        look_back_ms: i64::from(settings.look_back_days) * 86_400_000,
        max_interval: Duration::from_secs(300),
    };
    let mut poller = Poller::new(client, service.shared_store(), service.clock(), config);
    loop {
        let tick = tokio::select! {
            _ = shutdown.cancelled() => return,
            tick = poller.tick() => tick,
        };
        match tick {
            Ok(tick) => {
                for event in tick.events {
                    service.publish_call(event);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "polling Aircall failed; trying again shortly");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(poller.pacer().interval()) => {}
                }
            }
        }
    }
}
