//! What a running watch has connected, for the rest of the engine: the
//! Aircall session (the dialer, the import), the CRMs' call logs (the
//! contact import), and the settings watching runs with. Empty between two
//! watches. Its own module so that what reads it (`contacts`, `dial`) does
//! not depend on the watch itself.

use callcard_aircall::{Aircall, PollerConfig};
use callcard_core::call_log::CallLog;
use std::sync::{Arc, RwLock};

/// Something a watch sets up and other parts of the engine use while it
/// runs (the dialer, the import): empty between two watches.
pub struct Slot<T>(Arc<RwLock<Option<Arc<T>>>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self(Arc::new(RwLock::new(None)))
    }
}

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Slot<T> {
    pub fn get(&self) -> Option<Arc<T>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(value));
    }

    pub(crate) fn clear(&self) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Aircall, once the user at this computer is known: shared by the poller
/// and the dialer.
pub struct AircallSession {
    pub client: Arc<Aircall>,
    pub user_id: i64,
    /// The user's Aircall numbers.
    pub numbers: Vec<i64>,
}

pub type SharedSession = Slot<AircallSession>;

/// The connected CRMs' call logs, while watching (contact import).
pub type SharedLogs = Slot<Vec<Arc<CallLog>>>;

/// How calls are being watched now: the settings as they were applied.
#[derive(Debug, Clone)]
pub struct Watching {
    pub poller: PollerConfig,
    /// The ids of the CRMs calls are logged to.
    pub crms: Vec<String>,
    pub default_region: String,
}

/// The engine's view of the watch in progress.
#[derive(Clone, Default)]
pub struct Slots {
    pub session: SharedSession,
    pub logs: SharedLogs,
    pub watching: Slot<Watching>,
}

impl Slots {
    pub(crate) fn clear(&self) {
        self.session.clear();
        self.logs.clear();
        self.watching.clear();
    }
}

/// The call log of a connected CRM whose contacts can be imported into Aircall.
pub fn importing_log(logs: &SharedLogs) -> Option<Arc<CallLog>> {
    logs.get()?
        .iter()
        .find(|l| crate::crms::descriptor(&l.crm().account().crm).is_some_and(|d| d.imports_contacts))
        .cloned()
}
