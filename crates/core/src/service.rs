//! The service object: owns the store and the background work, and publishes
//! typed events. The desktop shell and `--headless` start it the same way;
//! the shell only subscribes and turns events into windows and notifications.

use crate::clock::{Clock, SystemClock};
use crate::paths::{Paths, PathsError};
use crate::settings::Settings;
pub use crate::status::{CrmWait, Status, Trouble};
use crate::store::{Store, StoreError};
use crate::tracker::CallEvent;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServiceEvent {
    StatusChanged {
        status: Status,
    },
    SettingsChanged,
    /// A call moved on (ringing, answered, ended, final, AI ready), at `t_ms`.
    Call {
        event: CallEvent,
        t_ms: i64,
    },
    /// Something to tell the person at the computer (a dial's outcome); a
    /// desktop shows it as a notification.
    Notice {
        text: String,
    },
    /// A call's cards changed (completed by a live search, a record picked).
    CardsChanged {
        call_id: i64,
    },
    /// What the history window shows changed (a log queued, written,
    /// retried or parked).
    HistoryChanged,
    /// A contact import moved on.
    ImportProgress {
        progress: crate::contact_import::ImportProgress,
    },
    /// Catch-up after an absence moved on (`None`: caught up).
    CatchUp {
        progress: Option<crate::store::CatchUp>,
    },
    /// Where calls come from changed (the team hub, or polling).
    CallSource {
        source: CallSource,
    },
    /// A link asks to start a call: the user says yes or no first.
    DialToConfirm {
        id: u32,
    },
}

/// Where this computer learns about calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CallSource {
    /// Polling Aircall (no team hub set).
    Polling,
    /// The team hub's stream.
    Hub,
    /// The team hub has been unreachable for a while: polling until it is back.
    PollingUntilHubIsBack,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Paths(#[from] PathsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long shutdown waits for background tasks.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Service {
    store: Arc<Mutex<Store>>,
    /// The settings, read from the store once and kept here: every task
    /// reads them from this channel and follows its changes.
    settings: watch::Sender<Settings>,
    clock: Arc<dyn Clock>,
    status: watch::Sender<Status>,
    events: broadcast::Sender<ServiceEvent>,
    shutdown: CancellationToken,
    tasks: Mutex<JoinSet<()>>,
    /// The runtime the service was started in: tasks may be spawned from any
    /// thread (a tray menu, the single-instance hand-over) and still run there.
    runtime: tokio::runtime::Handle,
    /// Wakes the outbox dispatcher: new items, a Retry button.
    outbox_wake: Arc<tokio::sync::Notify>,
    /// Where catch-up after an absence is.
    catch_up: Mutex<Option<crate::store::CatchUp>>,
    call_source: Mutex<CallSource>,
    /// The selected CRMs that cannot take writes now, with why.
    crm_waits: Mutex<std::collections::BTreeMap<String, CrmWait>>,
    /// Bumped when an account's credentials change (a sign-in, a
    /// disconnect): call watching starts again with what the keychain holds.
    accounts: watch::Sender<u64>,
}

impl Service {
    /// Creates the folders, opens the database, and starts the background
    /// tasks. Must be called inside a tokio runtime (it panics otherwise).
    pub fn start(paths: &Paths) -> Result<Arc<Self>, ServiceError> {
        Self::start_with_clock(paths, Arc::new(SystemClock))
    }

    pub fn start_with_clock(paths: &Paths, clock: Arc<dyn Clock>) -> Result<Arc<Self>, ServiceError> {
        paths.create_all()?;
        let store = Store::open(&paths.database())?;
        // A settings row that cannot be read is reported and left as it is
        // (the user may want it back); the defaults run until a save.
        let (settings, status) = match store.load_settings() {
            Ok(settings) => (settings, Status::Running),
            Err(StoreError::CorruptSettings(error)) => {
                tracing::error!(%error, "the saved settings cannot be read; using the defaults until they are saved again");
                (Settings::default(), Status::Trouble(Trouble::UnreadableSettings))
            }
            Err(other) => return Err(other.into()),
        };
        // A pause outlives a restart: the user resumes it, not a reboot.
        let status = match store.paused() {
            Ok(true) => Status::Paused,
            _ => status,
        };
        let (events, _) = broadcast::channel(256);
        let service = Arc::new(Self {
            store: Arc::new(Mutex::new(store)),
            settings: watch::channel(settings).0,
            clock,
            status: watch::channel(status).0,
            events,
            shutdown: CancellationToken::new(),
            tasks: Mutex::new(JoinSet::new()),
            runtime: tokio::runtime::Handle::current(),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            catch_up: Mutex::new(None),
            call_source: Mutex::new(CallSource::Polling),
            crm_waits: Mutex::new(Default::default()),
            accounts: watch::channel(0).0,
        });
        tracing::info!(database = %paths.database().display(), "service started");
        Ok(service)
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (every change is a transaction), so a poisoned lock is still usable.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn outbox_wake(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_wake.clone()
    }

    /// New outbox items: every CRM's dispatcher looks (with two CRMs, one
    /// permit would wake one of them and leave the other asleep until its
    /// next round); the permit covers a dispatcher busy right now.
    pub fn wake_outbox(&self) {
        self.outbox_wake.notify_waiters();
        self.outbox_wake.notify_one();
    }

    /// A parked outbox item goes back in line (the history's Retry button).
    pub fn retry_outbox_item(&self, id: i64) -> Result<bool, StoreError> {
        let retried = self.store().retry_failed(id, self.clock.now_ms())?;
        if retried {
            self.wake_outbox();
            self.history_changed();
        }
        Ok(retried)
    }

    /// The history window's contents: the calls and their logs, catch-up's
    /// progress, and the CRMs whose writes wait.
    pub fn history(&self, limit: u32) -> Result<crate::history::History, StoreError> {
        let mut history = self.store().history(limit)?;
        // As the watch last told it: a backlog left by a watch that is not
        // running (no Aircall account now) is not "catching up".
        history.catching_up = self.catch_up();
        let waits = self.crm_waits.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for (crm, reason) in waits {
            let calls = self.store().calls_waiting_for(&crm)?;
            history
                .waiting
                .push(crate::history::CrmWaiting { crm, reason, calls });
        }
        Ok(history)
    }

    /// Catch-up's progress (`None`: nothing to catch up), told once per change.
    /// Where calls come from now; told once per change.
    pub fn set_call_source(&self, source: CallSource) {
        let mut current = self.call_source.lock().unwrap_or_else(|p| p.into_inner());
        if *current != source {
            *current = source;
            drop(current);
            tracing::info!(?source, "calls come from here now");
            self.publish(ServiceEvent::CallSource { source });
        }
    }

    pub fn call_source(&self) -> CallSource {
        *self.call_source.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_catch_up(&self, progress: Option<crate::store::CatchUp>) {
        let mut current = self.catch_up.lock().unwrap_or_else(|p| p.into_inner());
        if *current != progress {
            *current = progress;
            drop(current);
            self.publish(ServiceEvent::CatchUp { progress });
        }
    }

    pub fn catch_up(&self) -> Option<crate::store::CatchUp> {
        *self.catch_up.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Watching stopped: what it said about CRMs and catch-up no longer holds.
    pub fn watch_ended(&self) {
        self.crm_waits.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.set_catch_up(None);
        self.history_changed();
    }

    /// A selected CRM cannot take writes now (`Some(why)`), or can again.
    pub fn set_crm_waiting(&self, crm: &str, why: Option<CrmWait>) {
        let mut waits = self.crm_waits.lock().unwrap_or_else(|p| p.into_inner());
        let changed = match why {
            Some(why) => waits.insert(crm.to_owned(), why) != Some(why),
            None => waits.remove(crm).is_some(),
        };
        drop(waits);
        if changed {
            self.history_changed();
        }
    }

    /// The store, for the background tasks that keep their state in it.
    pub fn shared_store(&self) -> Arc<Mutex<Store>> {
        self.store.clone()
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// Puts a call event on the channel, stamped with the service's clock.
    pub fn publish_call(&self, event: CallEvent) {
        self.publish(ServiceEvent::Call {
            event,
            t_ms: self.clock.now_ms(),
        });
    }

    /// See [`ServiceEvent::CardsChanged`].
    pub fn cards_changed(&self, call_id: i64) {
        self.publish(ServiceEvent::CardsChanged { call_id });
    }

    /// See [`ServiceEvent::HistoryChanged`]. Failed logs (parked until the
    /// user retries them) turn the tray red; once none is left, it clears.
    pub fn history_changed(&self) {
        let failed = self.store().outbox_counts().map(|c| c.failed).unwrap_or(0);
        if failed > 0 {
            self.set_trouble(Trouble::FailedLogs);
        } else {
            self.clear_trouble(&Trouble::FailedLogs);
        }
        self.publish(ServiceEvent::HistoryChanged);
    }

    /// See [`ServiceEvent::ImportProgress`].
    pub fn import_progress(&self, progress: crate::contact_import::ImportProgress) {
        self.publish(ServiceEvent::ImportProgress { progress });
    }

    /// See [`ServiceEvent::DialToConfirm`].
    pub fn ask_to_dial(&self, id: u32) {
        self.publish(ServiceEvent::DialToConfirm { id });
    }

    /// Tells the person at the computer (see [`ServiceEvent::Notice`]).
    pub fn notify(&self, text: impl Into<String>) {
        self.publish(ServiceEvent::Notice { text: text.into() });
    }

    /// The settings now (read from the store once, at start).
    pub fn settings(&self) -> Settings {
        self.settings.borrow().clone()
    }

    /// The settings and each of their changes, for tasks that follow them.
    pub fn settings_changes(&self) -> watch::Receiver<Settings> {
        self.settings.subscribe()
    }

    /// Says that an account was signed in or disconnected.
    pub fn accounts_changed(&self) {
        self.accounts.send_modify(|revision| *revision += 1);
    }

    /// Each change of the accounts' credentials, for what depends on them.
    pub fn account_changes(&self) -> watch::Receiver<u64> {
        self.accounts.subscribe()
    }

    /// Validates and saves; the change applies at once to whoever follows it.
    pub fn save_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        self.store().save_settings(settings, self.clock.now_ms())?;
        tracing::info!("settings saved");
        self.settings.send_replace(settings.clone());
        // Saved settings are readable again.
        if *self.status.borrow() == Status::Trouble(Trouble::UnreadableSettings) {
            self.set_status(Status::Running);
        }
        self.publish(ServiceEvent::SettingsChanged);
        Ok(())
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Pauses or resumes logging, and remembers it across restarts.
    pub fn set_paused(&self, paused: bool) {
        if let Err(error) = self.store().set_paused(paused) {
            tracing::warn!(%error, "cannot remember the pause; it holds until Callcard stops");
        }
        self.set_status(if paused { Status::Paused } else { Status::Running });
    }

    /// Something needs the user (the tray shows it); a pause wins over it.
    pub fn set_trouble(&self, reason: Trouble) {
        if *self.status.borrow() != Status::Paused {
            self.set_status(Status::Trouble(reason));
        }
    }

    /// The trouble `reason` is over (a CRM signed in again, came back): the
    /// tray goes back to running, unless it shows another trouble or a pause.
    pub fn clear_trouble(&self, reason: &Trouble) {
        if matches!(&*self.status.borrow(), Status::Trouble(now) if now == reason) {
            self.set_status(Status::Running);
        }
    }

    fn set_status(&self, next: Status) {
        if self.status.send_if_modified(|current| {
            let changed = *current != next;
            *current = next.clone();
            changed
        }) {
            tracing::info!(?next, "status changed");
            self.publish(ServiceEvent::StatusChanged { status: next });
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ServiceEvent> {
        self.events.subscribe()
    }

    fn publish(&self, event: ServiceEvent) {
        // No subscriber is fine: the headless mode may not listen.
        let _ = self.events.send(event);
    }

    /// Runs a background task owned by the service; it must stop when the
    /// shutdown token is cancelled.
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .spawn_on(task, &self.runtime);
    }

    /// A token that background tasks watch to stop.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Asks every task to stop and waits for them — a few seconds at most:
    /// a task that does not listen is aborted rather than hang the exit.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let all_stopped = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, all_stopped).await.is_err() {
            tracing::warn!("a background task did not stop in time; aborting it");
        }
        tracing::info!("service stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn start() -> (tempfile::TempDir, Arc<Service>) {
        let dir = tempfile::tempdir().unwrap();
        let service =
            Service::start_with_clock(&Paths::under(dir.path()), Arc::new(ManualClock::at(5))).unwrap();
        (dir, service)
    }

    #[tokio::test]
    async fn the_history_says_which_crm_calls_wait_for_and_how_far_catch_up_is() {
        use crate::store::{CatchUp, Queued};
        use crate::tracker::CallSnapshot;
        let (_dir, service) = start();
        {
            let store = service.shared_store();
            let store = store.lock().unwrap();
            for call_id in [1, 2] {
                let ended = CallSnapshot {
                    call_id,
                    started_at: 1,
                    answered_at: None,
                    ended_at: Some(2),
                    done: true,
                };
                store.observe_call(&ended, 0, 3_000).unwrap();
            }
            store.take_due_finals(0, 3_000).unwrap();
            // JobAdder has both; Sellsy neither.
            store.mark_queued_in(1, "jobadder", Queued::Call).unwrap();
            store.mark_queued_in(2, "jobadder", Queued::Call).unwrap();
            store.add_backlog(0, 5 * 86_400 - 1).unwrap();
        }
        let mut events = service.subscribe();
        service.set_crm_waiting("sellsy", Some(CrmWait::NeedsSignIn));
        assert_eq!(events.recv().await.unwrap(), ServiceEvent::HistoryChanged);
        let progress = CatchUp {
            done_secs: 3 * 86_400,
            total_secs: 5 * 86_400,
        };
        service.set_catch_up(Some(progress));
        service.set_catch_up(Some(progress));
        assert_eq!(
            events.recv().await.unwrap(),
            ServiceEvent::CatchUp {
                progress: Some(progress)
            }
        );
        assert!(events.try_recv().is_err(), "told once per change");
        let history = service.history(10).unwrap();
        assert_eq!(history.waiting.len(), 1);
        assert_eq!(
            (history.waiting[0].crm.as_str(), history.waiting[0].calls),
            ("sellsy", 2)
        );
        assert_eq!(
            history.catching_up.map(|c| c.describe()).as_deref(),
            Some("3 of 5 days")
        );
        service.set_crm_waiting("sellsy", None);
        service.watch_ended();
        assert!(service.history(10).unwrap().waiting.is_empty());
        assert_eq!(service.catch_up(), None);
    }

    #[tokio::test]
    async fn a_failed_log_turns_the_tray_red_until_it_is_retried() {
        use crate::crm::Write;
        use crate::outbox::{ItemKey, ItemKind};
        let (_dir, service) = start();
        let key = ItemKey {
            crm: "jobadder".into(),
            account: "a".into(),
            call_id: "7".into(),
            kind: ItemKind::Call,
            target: "candidate:1".into(),
        };
        let write = Write {
            reference: "aircall-call-7".into(),
            payload: serde_json::json!({"text": "call"}),
        };
        let id = {
            let store = service.shared_store();
            let store = store.lock().unwrap();
            let (id, _) = store.enqueue(&key, &write, None, 1).unwrap();
            store.mark_failed(id, "refused by the CRM", 2).unwrap();
            id
        };
        service.history_changed();
        assert_eq!(service.status(), Status::Trouble(Trouble::FailedLogs));
        assert!(service.retry_outbox_item(id).unwrap());
        assert_eq!(service.status(), Status::Running);
    }

    #[tokio::test]
    async fn a_pause_outlives_a_restart_until_the_user_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let service = Service::start(&paths).unwrap();
        service.set_paused(true);
        service.shutdown().await;
        drop(service);
        let again = Service::start(&paths).unwrap();
        assert_eq!(again.status(), Status::Paused);
        again.set_paused(false);
        again.shutdown().await;
        drop(again);
        assert_eq!(Service::start(&paths).unwrap().status(), Status::Running);
    }

    #[tokio::test]
    async fn a_trouble_clears_when_its_cause_is_over_and_only_its_own() {
        let (_dir, service) = start();
        let sign_in = Trouble::CrmNeedsSignIn { crm: "sellsy".into() };
        service.set_trouble(sign_in.clone());
        service.clear_trouble(&Trouble::CrmUnreachable { crm: "sellsy".into() });
        service.clear_trouble(&Trouble::CrmNeedsSignIn {
            crm: "jobadder".into(),
        });
        assert_eq!(service.status(), Status::Trouble(sign_in.clone()));
        service.clear_trouble(&sign_in);
        assert_eq!(service.status(), Status::Running);
        service.set_paused(true);
        service.clear_trouble(&sign_in);
        assert_eq!(service.status(), Status::Paused);
    }

    #[tokio::test]
    async fn saving_settings_publishes_an_event_and_persists() {
        let (dir, service) = start();
        let mut events = service.subscribe();
        let settings = Settings {
            look_back_days: 3,
            ..Settings::default()
        };
        service.save_settings(&settings).unwrap();
        assert_eq!(events.recv().await.unwrap(), ServiceEvent::SettingsChanged);
        service.shutdown().await;
        drop(service);
        let again = Service::start(&Paths::under(dir.path())).unwrap();
        assert_eq!(again.settings().look_back_days, 3);
    }

    #[tokio::test]
    async fn a_corrupt_settings_row_is_reported_and_kept_until_the_user_saves() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        paths.create_all().unwrap();
        drop(Store::open(&paths.database()).unwrap());
        let db = rusqlite::Connection::open(paths.database()).unwrap();
        db.execute(
            "INSERT INTO settings (id, json, updated_ms) VALUES (1, '{\"look_back_days\": \"lots\"}', 0)",
            [],
        )
        .unwrap();
        let service = Service::start(&paths).unwrap();
        assert_eq!(service.status(), Status::Trouble(Trouble::UnreadableSettings));
        assert_eq!(service.settings(), Settings::default());
        let row: String = db
            .query_row("SELECT json FROM settings WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert!(row.contains("lots"), "the unreadable row is left as it was");
        let mut changes = service.settings_changes();
        let fixed = Settings {
            look_back_days: 2,
            ..Settings::default()
        };
        service.save_settings(&fixed).unwrap();
        assert!(changes.has_changed().unwrap());
        assert_eq!(changes.borrow_and_update().look_back_days, 2);
        assert_eq!(service.status(), Status::Running);
    }

    #[tokio::test]
    async fn pausing_changes_the_status_once() {
        let (_dir, service) = start();
        let mut events = service.subscribe();
        service.set_paused(true);
        service.set_paused(true);
        service.set_paused(false);
        assert_eq!(
            events.recv().await.unwrap(),
            ServiceEvent::StatusChanged {
                status: Status::Paused
            }
        );
        assert_eq!(
            events.recv().await.unwrap(),
            ServiceEvent::StatusChanged {
                status: Status::Running
            }
        );
        assert!(events.try_recv().is_err());
    }

    #[tokio::test]
    async fn shutdown_waits_for_every_task_to_stop() {
        let (_dir, service) = start();
        let token = service.shutdown_token();
        let (stopped_tx, mut stopped_rx) = tokio::sync::mpsc::channel(1);
        service.spawn(async move {
            token.cancelled().await;
            stopped_tx.send(()).await.unwrap();
        });
        service.shutdown().await;
        assert!(
            stopped_rx.try_recv().is_ok(),
            "task finished before shutdown returned"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_ignores_shutdown_cannot_hang_the_exit() {
        let (_dir, service) = start();
        service.spawn(std::future::pending());
        let start = tokio::time::Instant::now();
        service.shutdown().await;
        assert_eq!(start.elapsed(), SHUTDOWN_GRACE);
    }
}
