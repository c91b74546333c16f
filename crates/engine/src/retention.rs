//! Retention: the store is pruned soon after the start and every six hours
//! after (see `Store::prune_older_than`), by the settings' number of days.

use callcard_core::Service;
use std::sync::Arc;
use std::time::Duration;

const FIRST: Duration = Duration::from_secs(60);
const EVERY: Duration = Duration::from_secs(6 * 60 * 60);
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// One pruning now, by the settings' retention.
pub fn prune_now(service: &Service) {
    let days = i64::from(service.settings().retention_days);
    let cutoff_ms = service
        .clock()
        .now_ms()
        .saturating_sub(days.saturating_mul(DAY_MS));
    let store = service.shared_store();
    let pruned = store
        .lock()
        .map_err(|_| "the store is unavailable".to_owned())
        .and_then(|store| store.prune_older_than(cutoff_ms).map_err(|e| e.to_string()));
    match pruned {
        Ok(pruned) if pruned.total() > 0 => tracing::info!(
            days,
            outbox_items = pruned.outbox_items,
            cards = pruned.cards,
            calls = pruned.calls,
            other = pruned.other,
            "pruned what is older than the retention"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot prune old data; trying again later"),
    }
}

/// Prunes a minute after the start, then every six hours, until shutdown.
pub fn spawn(service: &Arc<Service>) {
    let task = service.clone();
    service.spawn(async move {
        let stop = task.shutdown_token();
        let mut wait = FIRST;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            prune_now(&task);
            wait = EVERY;
        }
    });
}
