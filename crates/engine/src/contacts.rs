//! A CRM's contacts into Aircall (for CRMs that sync by change, as Sellsy):
//! the changes since the connection (after
//! each refresh of the phone index) and the "Import existing contacts"
//! action of the settings window, which runs in the background, shows its
//! progress, and resumes where it stopped.

use crate::connected::{SharedLogs, SharedSession};
use crate::EngineError;
use callcard_aircall::contact_sync::ContactSync;
use callcard_aircall::Aircall;
use callcard_core::Service;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// This sync's share of the company's Aircall limit, requests per minute
/// (`CALLCARD_CONTACT_SYNC_PER_MINUTE`; two requests per number).
pub fn per_minute() -> u32 {
    std::env::var("CALLCARD_CONTACT_SYNC_PER_MINUTE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(20)
}

pub fn contact_sync(service: &Service, client: Arc<Aircall>, crm_name: &'static str) -> ContactSync {
    ContactSync::new(
        client,
        service.shared_store(),
        service.clock(),
        crm_name,
        per_minute(),
    )
}

/// Whether an import is running (one at a time).
#[derive(Default, Clone)]
pub struct ImportRunning(pub Arc<AtomicBool>);

/// Starts (or resumes) the import of the connected importing CRM's contacts.
pub fn start_import(
    service: &Arc<Service>,
    logs: &SharedLogs,
    session: &SharedSession,
    running: &ImportRunning,
) -> Result<(), EngineError> {
    let log = crate::connected::importing_log(logs).ok_or_else(|| {
        let name = crate::crms::descriptors()
            .into_iter()
            .find(|d| d.imports_contacts)
            .map_or("A CRM that can import contacts", |d| d.name);
        EngineError::CrmNotConnected(name)
    })?;
    let name = crate::crms::descriptor(&log.crm().account().crm).map_or("the CRM", |d| d.name);
    let aircall = session
        .get()
        .ok_or(EngineError::AircallNotConnected)?
        .client
        .clone();
    if running.0.swap(true, Ordering::SeqCst) {
        return Err(EngineError::ImportRunning);
    }
    let sync = contact_sync(service, aircall, name);
    let running = running.clone();
    let shutdown = service.shutdown_token();
    let told = service.clone();
    service.spawn(async move {
        let follower = told.clone();
        let import = sync.import(log.crm().as_ref(), move |progress| {
            tracing::debug!(done = progress.done, total = ?progress.total, "importing contacts");
            follower.import_progress(progress.clone());
        });
        tokio::select! {
            // Quitting stops it; the next import resumes at the saved page.
            _ = shutdown.cancelled() => {}
            result = import => match result {
                Ok(done) => tracing::info!(contacts = done.done, "contact import finished"),
                Err(error) => tracing::warn!(%error, "contact import stopped; it resumes from where it was"),
            },
        }
        running.0.store(false, Ordering::SeqCst);
        // The window follows the end too (running is false now).
        if let Ok(Some(last)) = told
            .shared_store()
            .lock()
            .map(|s| s.imports().ok().and_then(|i| i.into_iter().next()))
        {
            told.import_progress(last);
        }
    });
    Ok(())
}
