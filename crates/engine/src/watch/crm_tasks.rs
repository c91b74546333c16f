//! CRM tasks: each selected CRM, as it becomes ready (signed in and
//! reachable), gets its outbox dispatcher and its phone index refresh and
//! joins the call logs the rest of the watch uses; then the calls that
//! waited for it go on. Also who makes each write when several computers
//! follow a call (the team hub's claims, or staggered turns without one).

use super::handlers::{LoggingNudge, RingingHandle, RingingMsg};
use super::or_warn;
use crate::connected::SharedLogs;
use crate::crms;
use callcard_aircall::contact_sync::ContactSync;
use callcard_aircall::Aircall;
use callcard_core::call_log::CallLog;
use callcard_core::claims::WriteClaims;
use callcard_core::crm::{ContactSyncMode, Crm, CrmDescriptor};
use callcard_core::dispatcher::{Dispatcher, RetryPolicy};
use callcard_core::Service;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The CRM handler: what it needs beside the arriving CRMs.
pub(super) struct CrmTasks {
    pub service: Arc<Service>,
    pub client: Arc<Aircall>,
    pub claims: Option<Arc<dyn WriteClaims>>,
    pub logs: SharedLogs,
    pub ringing: RingingHandle,
    pub logging: LoggingNudge,
    pub stop: CancellationToken,
}

impl CrmTasks {
    /// Starts each CRM as it arrives; returns once the watch stops and
    /// every CRM's own tasks (dispatcher, index) have stopped.
    pub(super) async fn run(self, mut arriving: mpsc::Receiver<Arc<dyn Crm>>) {
        let wake = self.service.outbox_wake();
        let mut tasks = JoinSet::new();
        let mut started: Vec<Arc<CallLog>> = Vec::new();
        loop {
            let crm = tokio::select! {
                _ = self.stop.cancelled() => break,
                crm = arriving.recv() => match crm {
                    Some(crm) => crm,
                    // Every selected CRM arrived (or never will): the
                    // started ones run until the watch stops.
                    None => {
                        self.stop.cancelled().await;
                        break;
                    }
                },
            };
            let log = start_crm(
                &self.service,
                crm,
                &self.client,
                &self.claims,
                &wake,
                &self.stop,
                &mut tasks,
            );
            started.push(log.clone());
            // In the registry's order, whichever signed in first.
            started.sort_by_key(|l| {
                crms::CRMS
                    .iter()
                    .position(|c| c.descriptor().id == l.crm().account().crm)
            });
            self.logs.set(started.clone());
            // Cards for the calls live now, then what waited for this CRM.
            self.ringing.send(RingingMsg::CrmJoined(log)).await;
            self.logging.nudge();
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// A CRM that became ready: what waited for its sign-in goes now, its
/// outbox dispatcher and its phone index start; returns its call log.
fn start_crm(
    service: &Arc<Service>,
    crm: Arc<dyn Crm>,
    client: &Arc<Aircall>,
    claims: &Option<Arc<dyn WriteClaims>>,
    wake: &Arc<Notify>,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<()>,
) -> Arc<CallLog> {
    let id = crm.account().crm;
    tracing::info!(crm = %id, "logging calls to this CRM");
    service.set_crm_waiting(&id, None);
    if let Ok(store) = service.shared_store().lock() {
        or_warn(
            store.retry_waiting_for_login(service.clock().now_ms()),
            "cannot send the writes that waited for this sign-in now",
        );
    }
    let told = service.clone();
    let mut dispatcher = Dispatcher::new(
        service.shared_store(),
        crm.clone(),
        service.clock(),
        RetryPolicy::default(),
        None,
    )
    .on_change(move || told.history_changed());
    if let Some(claims) = claims {
        // One computer of the company writes each call.
        dispatcher = dispatcher.with_claims(claims.clone());
    }
    tasks.spawn(dispatcher.run(wake.clone(), shutdown.clone(), Duration::from_secs(30)));
    let sync = descriptor_of(&id)
        .filter(|d| d.contact_sync == ContactSyncMode::ChangedContacts)
        .map(|d| Arc::new(crate::contacts::contact_sync(service, client.clone(), d.name)));
    let log = Arc::new(CallLog::new(service.shared_store(), crm));
    tasks.spawn(keep_index_fresh(
        log.clone(),
        sync,
        service.clone(),
        shutdown.clone(),
    ));
    service.wake_outbox();
    log
}

/// How often the local phone index asks the CRM for its changes.
const INDEX_REFRESH: Duration = Duration::from_secs(10 * 60);

/// Fills the phone index at start (everything the first time, then the
/// changes since the last refresh) and keeps it fresh; for a CRM whose
/// contacts sync by change, also brings the contacts changed since the
/// connection into Aircall.
async fn keep_index_fresh(
    log: Arc<CallLog>,
    contact_sync: Option<Arc<ContactSync>>,
    service: Arc<Service>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        match log.refresh_index(service.clock().now_ms()).await {
            Ok(records) => tracing::info!(records, "phone index refreshed"),
            Err(error) => {
                tracing::warn!(%error, "cannot refresh the phone index; the live search answers meanwhile")
            }
        }
        let wanted =
            descriptor_of(&log.crm().account().crm).is_some_and(|d| service.settings().contact_sync.is_on(d));
        if let (Some(sync), true) = (&contact_sync, wanted) {
            let work = sync.sync_changes(log.crm().as_ref());
            tokio::select! {
                _ = stop.cancelled() => return,
                done = work => match done {
                    Ok(numbers) => tracing::info!(numbers, "contact changes in Aircall"),
                    Err(error) => tracing::warn!(%error, "cannot bring the CRM's contact changes to Aircall yet"),
                },
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(INDEX_REFRESH) => {}
        }
    }
}

fn descriptor_of(crm: &str) -> Option<&'static CrmDescriptor> {
    crms::descriptor(crm)
}

/// The staggered claims of this data folder (see
/// `callcard_core::claims::StaggeredClaims`); none when the store cannot
/// give the computer's id (each write is then made at once, as before).
pub(super) fn staggered_claims(service: &Arc<Service>, step: Duration) -> Option<Arc<dyn WriteClaims>> {
    let store = service.shared_store();
    let computer = {
        let store = store.lock().unwrap_or_else(|p| p.into_inner());
        callcard_core::claims::computer_id(&store)
    };
    match computer {
        Ok(computer) => Some(Arc::new(callcard_core::claims::StaggeredClaims::new(
            computer,
            step,
            service.clock(),
        ))),
        Err(error) => {
            tracing::warn!(%error, "cannot read this computer's id: writes are not staggered");
            None
        }
    }
}
