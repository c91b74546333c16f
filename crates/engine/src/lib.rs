//! The product without a window.
//!
//! One [`Engine`] value, started the same way by the tray app, by
//! `--headless` and by tests, owns every background task: resolving the
//! Aircall user, watching calls, the caller's card and Aircall's insight
//! card, contact sync, logging and one outbox dispatcher per CRM, the phone
//! index, contact imports, click to dial and (with the `demo` feature) the
//! built-in demo. It publishes typed events on the service channel
//! ([`callcard_core::ServiceEvent`]); a shell subscribes and turns them into
//! windows, tray states and notifications.
//!
//! It deliberately knows no window, tray or webview: what it must show a
//! person (a dial result, say) it publishes as an event.
//!
//! Calls are watched in [`watch`], a folder by the call's life (ringing, the
//! Aircall lane, logging, CRM tasks), whose handlers carry out the steps of
//! the core's pure pipeline rules; what a watch has connected, for the
//! dialer and the contact import, is in [`connected`].

mod accounts;
pub mod aircall_account;
pub mod connected;
pub mod contacts;
pub mod crms;
pub mod dial;
pub mod environment;
mod error;
pub mod events_file;
pub mod hub_account;
mod hub_feed;
mod lock;
pub mod retention;
pub mod setup;
pub mod setup_check;
pub mod watch;

#[cfg(feature = "demo")]
pub mod demo;
/// Without the `demo` feature there is no sandbox to run: the demo never starts.
#[cfg(not(feature = "demo"))]
pub mod demo {
    #[derive(Clone)]
    pub struct DemoHandle(());

    impl DemoHandle {
        pub fn stop(&self) {}

        pub fn is_running(&self) -> bool {
            false
        }
    }
}

pub use connected::Watching;
pub use environment::Environment;
pub use error::EngineError;
pub use lock::{DataFolderLock, LockError};

use callcard_core::call_log::Card;
use callcard_core::contact_import::ImportProgress;
use callcard_core::crm::RecordRef;
use callcard_core::history::History;
use callcard_core::settings::{Language, Settings};
use callcard_core::{Paths, Service, ServiceEvent, Status};
use connected::Slots;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How an engine starts.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Connect to the accounts kept for this user (Aircall, the CRMs) and
    /// watch calls. Off for tests of the windows' commands.
    pub accounts: bool,
    /// With no Aircall account connected, run the built-in demo (needs the
    /// `demo` feature).
    pub demo: bool,
    /// `--events FILE`: one JSON line per call event.
    pub events_file: Option<PathBuf>,
    /// Where `CALLCARD_*` configuration is read (the process environment
    /// unless a test says otherwise).
    pub env: Environment,
}

/// What the settings window shows of contact imports.
#[derive(Debug, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportView {
    pub running: bool,
    /// Whether a CRM that can import contacts is connected.
    pub available: bool,
    pub imports: Vec<ImportProgress>,
}

pub struct Engine {
    service: Arc<Service>,
    /// What the watch in progress set up: Aircall once the user at this
    /// computer is resolved, the connected CRMs' call logs, the settings applied.
    slots: Slots,
    env: Environment,
    imports: contacts::ImportRunning,
    demo: Option<demo::DemoHandle>,
    /// A link that would start a call, until the user answers.
    dials: Arc<dial::PendingDials>,
    /// Whether a shell asks the user about such links (a desktop does;
    /// `--headless` cannot, so its links only prepare the number).
    confirms_dials: std::sync::atomic::AtomicBool,
    /// Held for the engine's life: one engine per data folder.
    _lock: DataFolderLock,
}

impl Engine {
    /// Opens the data folder (refused while another engine has it), the
    /// store, and starts the background work. Must run inside the tokio
    /// runtime the engine's tasks will use.
    pub fn start(paths: &Paths, options: EngineOptions) -> Result<Arc<Self>, EngineError> {
        paths
            .create_all()
            .map_err(callcard_core::service::ServiceError::from)?;
        let lock = DataFolderLock::acquire(&paths.data_dir)?;
        let service = Service::start(paths)?;
        retention::spawn(&service);
        if let Some(path) = &options.events_file {
            events_file::spawn_writer(&service, path.clone()).map_err(|source| EngineError::EventsFile {
                path: path.clone(),
                source,
            })?;
        }
        let slots = Slots::default();
        let mut demo = None;
        if options.accounts {
            let settings = service.settings();
            let keychain = callcard_secrets::Keychain::app();
            let has_aircall = aircall_account::aircall_from_env(
                options.env.lookup(),
                &keychain,
                &settings.aircall_user_email,
            );
            match has_aircall {
                Err(reason) if options.demo => {
                    tracing::info!(%reason, "no account connected: starting the demo");
                    demo = start_demo(&service, &slots, &options.env);
                }
                // Watching follows the settings: an e-mail entered later starts it.
                _ => {
                    let source = Arc::new(accounts::UserAccounts {
                        env: options.env.clone(),
                    });
                    let stop = service.shutdown_token();
                    service.spawn(watch::supervise(service.clone(), source, slots.clone(), stop));
                }
            }
        }
        Ok(Arc::new(Self {
            service,
            slots,
            env: options.env,
            imports: contacts::ImportRunning::default(),
            demo,
            dials: Arc::default(),
            confirms_dials: std::sync::atomic::AtomicBool::new(false),
            _lock: lock,
        }))
    }

    /// The service channel, status and task set the engine's work runs on.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<ServiceEvent> {
        self.service.subscribe()
    }

    /// Calls `handler` with every event, on the engine's runtime, until the
    /// engine stops: how a shell follows it (windows, notifications, the
    /// phone-link setting). Events missed under load are skipped: every
    /// follower re-reads what it shows.
    pub fn follow(&self, mut handler: impl FnMut(ServiceEvent) + Send + 'static) {
        use tokio::sync::broadcast::error::RecvError;
        let mut events = self.subscribe();
        let shutdown = self.service.shutdown_token();
        self.service.spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    event = events.recv() => event,
                };
                match event {
                    Ok(event) => handler(event),
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }

    /// Catch-up's progress after an absence (`None`: nothing to catch up).
    pub fn catch_up(&self) -> Option<callcard_core::store::CatchUp> {
        self.service.catch_up()
    }

    pub fn status(&self) -> Status {
        self.service.status()
    }

    pub fn set_paused(&self, paused: bool) {
        self.service.set_paused(paused);
    }

    /// Stops every task (a few seconds at most).
    pub async fn shutdown(&self) {
        self.service.shutdown().await;
    }

    /// The settings now, every CRM named in them (as windows show them).
    pub fn settings(&self) -> Settings {
        let mut settings = self.service.settings();
        let all = crms::descriptors();
        settings.crms = settings.crms.filled(&all);
        settings.contact_sync = settings.contact_sync.filled(&all);
        settings
    }

    /// Every CRM this build knows, for windows to list.
    pub fn crms(&self) -> Vec<callcard_core::crm::CrmDescriptor> {
        crms::descriptors().into_iter().copied().collect()
    }

    /// How calls are watched now (`None` while nothing is watched): the
    /// settings as the watch in progress applied them.
    pub fn watching(&self) -> Option<Arc<Watching>> {
        self.slots.watching.get()
    }

    /// The Aircall user at this computer, once resolved.
    pub fn aircall_user(&self) -> Option<i64> {
        self.slots.session.get().map(|s| s.user_id)
    }

    /// Saves the settings window's form. The team hub's address is kept as
    /// it is: it changes only with its token ([`Engine::connect_hub`]), so a
    /// form opened before a hub was connected cannot undo it.
    pub fn save_settings(&self, settings: &Settings) -> Result<(), EngineError> {
        let mut settings = settings.clone();
        settings.team_hub_url = self.service.settings().team_hub_url;
        Ok(self.service.save_settings(&settings)?)
    }

    /// The language windows and the tray speak.
    pub fn language(&self) -> Language {
        self.service.settings().language
    }

    /// True once: the first start that asks (the connect window opens over
    /// the demo then).
    pub fn first_run(&self) -> bool {
        let store = self.service.shared_store();
        let Ok(store) = store.lock() else { return false };
        store.first_welcome().unwrap_or(false)
    }

    /// Whether this start runs the demo (stopped or not).
    pub fn has_demo(&self) -> bool {
        self.demo.is_some()
    }

    pub fn demo_running(&self) -> bool {
        self.demo.as_ref().is_some_and(|d| d.is_running())
    }

    /// The tray's "Stop the demo".
    pub fn stop_demo(&self) {
        if let Some(demo) = &self.demo {
            demo.stop();
        }
    }

    /// A call's caller cards (one per CRM).
    pub fn cards(&self, call_id: i64) -> Result<Vec<Card>, EngineError> {
        let store = self.service.shared_store();
        let store = store.lock().map_err(|_| EngineError::StoreUnavailable)?;
        Ok(store.cards(call_id)?)
    }

    /// The user picked the record a call is about in one CRM: used for its
    /// log and remembered for the number. Only one of the card's matches can be picked.
    pub fn choose_record(&self, call_id: i64, crm: &str, record: &RecordRef) -> Result<bool, EngineError> {
        let store = self.service.shared_store();
        let chosen = {
            let store = store.lock().map_err(|_| EngineError::StoreUnavailable)?;
            store.choose(call_id, crm, record)?
        };
        if chosen {
            self.service.cards_changed(call_id);
            self.service.history_changed();
        }
        Ok(chosen)
    }

    /// Opens a card record's page (or its opportunity's) in the browser. The
    /// link is read from the stored card, never taken from a window.
    pub fn open_record(
        &self,
        call_id: i64,
        crm: &str,
        record: &RecordRef,
        opportunity: bool,
    ) -> Result<(), EngineError> {
        let link = {
            let store = self.service.shared_store();
            let store = store.lock().map_err(|_| EngineError::StoreUnavailable)?;
            let found = store
                .card(call_id, crm)?
                .and_then(|card| card.matches.into_iter().find(|m| &m.record == record));
            match opportunity {
                true => found.and_then(|m| m.opportunity).and_then(|o| o.link),
                false => found.and_then(|m| m.link),
            }
        };
        open_web_link(link).ok_or(EngineError::NoLink)
    }

    /// The recent calls and what was logged where.
    pub fn history(&self, limit: u32) -> Result<History, EngineError> {
        Ok(self.service.history(limit)?)
    }

    /// A parked log goes back in line (the history's Retry button).
    pub fn retry_log(&self, id: i64) -> Result<bool, EngineError> {
        Ok(self.service.retry_outbox_item(id)?)
    }

    /// Opens a written note or activity; the link comes from the store.
    pub fn open_log(&self, id: i64) -> Result<(), EngineError> {
        let link = {
            let store = self.service.shared_store();
            let store = store.lock().map_err(|_| EngineError::StoreUnavailable)?;
            store
                .outbox_item(id)?
                .and_then(|item| item.remote)
                .and_then(|r| r.link)
        };
        open_web_link(link).ok_or(EngineError::NothingToOpen)
    }

    /// What the connect window shows; checks the saved Aircall key.
    pub async fn setup_view(&self) -> setup::SetupView {
        setup::view(&self.service, &self.env, self.demo_running()).await
    }

    /// Checks an Aircall key and e-mail, then keeps them.
    pub async fn connect_aircall(
        &self,
        api_id: &str,
        api_token: &str,
        email: &str,
    ) -> Result<setup::AircallAccount, EngineError> {
        setup::connect_aircall(&self.service, &self.env, api_id, api_token, email).await
    }

    /// A CRM's sign-in in the browser; the CRM is turned on in the settings.
    pub async fn connect_crm(&self, crm: &str) -> Result<(), EngineError> {
        self.connect_crm_with(crm, crms::open_in_browser).await
    }

    /// The same sign-in with the page shown by `open` (tests play the browser).
    pub async fn connect_crm_with(&self, crm: &str, open: impl FnOnce(&str)) -> Result<(), EngineError> {
        setup::connect_crm(&self.service, &self.env, crm, open).await
    }

    /// "Check my setup": credentials, lookups and the data-health report.
    pub async fn check_setup(&self) -> setup_check::SetupReport {
        setup_check::run(&self.service, &self.env).await
    }

    /// The guided test call: passes when the next call's card is ready. Not
    /// while the demo runs (its scripted calls would pass it).
    pub async fn test_call(
        &self,
        timeout: std::time::Duration,
    ) -> Result<setup_check::TestCall, EngineError> {
        if self.demo_running() {
            return Err(EngineError::DemoRunning);
        }
        Ok(setup_check::test_call(&self.service, timeout).await)
    }

    /// Opens a record's web page (a link the setup check listed); only http(s).
    pub fn open_link(&self, link: &str) -> Result<(), EngineError> {
        open_web_link(Some(link.to_owned())).ok_or(EngineError::NoLink)
    }

    /// Aircall and every CRM, with whether each is connected.
    pub async fn accounts(&self) -> Vec<setup::AccountView> {
        setup::accounts(&self.service, &self.env).await
    }

    /// The team hub this computer follows, if any, and where calls come from.
    pub fn hub(&self) -> hub_account::HubView {
        hub_account::hub_view(&self.service, &self.env, &callcard_secrets::Keychain::app())
    }

    /// Follows a team hub (see `hub_account::connect_hub`).
    pub async fn connect_hub(&self, url: &str, token: &str) -> Result<(), EngineError> {
        hub_account::connect_hub(&self.service, &self.env, url, token).await
    }

    /// Stops following the team hub: calls are polled again.
    pub fn disconnect_hub(&self) -> Result<(), EngineError> {
        hub_account::disconnect_hub(&self.service, &self.env)
    }

    /// Disconnects `account` (`aircall` or a CRM's id): see `setup::disconnect`.
    pub async fn disconnect(&self, account: &str) -> Result<(), EngineError> {
        setup::disconnect(&self.service, &self.env, account).await
    }

    /// Keeps an OAuth client pasted into the connect window (see `setup::save_crm_client`).
    pub fn save_crm_client(
        &self,
        crm: &str,
        client_id: &str,
        client_secret: &str,
        redirect_port: Option<u16>,
    ) -> Result<(), EngineError> {
        setup::save_crm_client(&self.service, crm, client_id, client_secret, redirect_port)
    }

    /// Keeps the numbers to follow (the connect window's last step).
    pub fn finish_setup(&self, numbers: Vec<i64>) -> Result<(), EngineError> {
        let mut settings = self.service.settings();
        settings.connected_numbers = numbers;
        self.service.save_settings(&settings)?;
        Ok(())
    }

    /// "Call back" on the card: the number is read from the stored card.
    pub fn call_back(&self, call_id: i64) -> Result<(), EngineError> {
        let number = {
            let store = self.service.shared_store();
            let store = store.lock().map_err(|_| EngineError::StoreUnavailable)?;
            store.cards(call_id)?.into_iter().next().map(|card| card.number)
        };
        match number.filter(|n| !n.is_empty()) {
            Some(number) => {
                // The user's own click in the card: no question to ask.
                let mode = self.service.settings().dial_mode;
                self.dial_now(format!("tel:{number}"), mode);
                Ok(())
            }
            None => Err(EngineError::NoNumber),
        }
    }

    /// The shell asks the user before a link starts a call (see
    /// [`ServiceEvent::DialToConfirm`]); without this, such links only
    /// prepare the number in Aircall.
    pub fn confirm_dials(&self) {
        self.confirms_dials
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// A `tel:`/`callto:` link from outside (the desktop, a browser, the
    /// command line). In "start the call" mode it waits for the user's yes
    /// ([`ServiceEvent::DialToConfirm`], then [`Self::answer_dial`]): any web
    /// page can open a link, and a call is not undone. Otherwise, and for a
    /// link that cannot be read, it goes on at once.
    pub fn dial(&self, link: String) {
        use callcard_core::settings::DialMode;
        let settings = self.service.settings();
        if settings.dial_mode != DialMode::StartCall {
            return self.dial_now(link, settings.dial_mode);
        }
        if !self.confirms_dials.load(std::sync::atomic::Ordering::SeqCst) {
            // Nobody to ask: Aircall prepares the number, the user calls.
            return self.dial_now(link, DialMode::Prefill);
        }
        match dial::read_link(&settings, &link) {
            Ok(target) => {
                let ask = self.dials.ask(&link, &target);
                tracing::info!(id = ask.id, "click to dial: asking before starting the call");
                self.service.ask_to_dial(ask.id);
            }
            Err(text) => {
                tracing::warn!(%text, "click to dial refused");
                self.service.notify(text);
            }
        }
    }

    /// The link waiting for the user's yes, if any.
    pub fn dial_to_confirm(&self) -> Option<dial::DialToConfirm> {
        self.dials.current()
    }

    /// The user's answer about link `id`: a yes starts the call.
    pub fn answer_dial(&self, id: u32, call: bool) -> Result<(), EngineError> {
        let link = self.dials.answer(id).ok_or(EngineError::DialExpired)?;
        if call {
            self.dial_now(link, self.service.settings().dial_mode);
        } else {
            tracing::info!(id, "click to dial: the user said no");
        }
        Ok(())
    }

    /// Dials a link once Aircall is reachable; the outcome is published as
    /// a [`ServiceEvent::Notice`] (and logged).
    fn dial_now(&self, link: String, mode: callcard_core::settings::DialMode) {
        let (service, session) = (self.service.clone(), self.slots.session.clone());
        self.service.spawn(async move {
            let shutdown = service.shutdown_token();
            let ready = async {
                // The session appears once the Aircall user is resolved.
                loop {
                    if let Some(s) = session.get() {
                        return s;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            let found = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(30)) => None,
                s = ready => Some(s),
            };
            let settings = service.settings();
            let message = match found {
                None => Err("Cannot call: Aircall is not connected".to_owned()),
                Some(s) => dial::dial_link(&s, &settings, mode, &link).await,
            };
            match &message {
                Ok(text) => tracing::info!(%text, "click to dial"),
                Err(text) => tracing::warn!(%text, "click to dial failed"),
            }
            let (Ok(text) | Err(text)) = message;
            service.notify(text);
        });
    }

    /// Contact imports and whether one can start.
    pub fn imports(&self) -> Result<ImportView, EngineError> {
        let store = self.service.shared_store();
        let imports = store
            .lock()
            .map_err(|_| EngineError::StoreUnavailable)?
            .imports()?;
        Ok(ImportView {
            running: self.imports.0.load(std::sync::atomic::Ordering::SeqCst),
            available: connected::importing_log(&self.slots.logs).is_some(),
            imports,
        })
    }

    /// "Import existing contacts": the CRM's contacts into Aircall, in the background.
    pub fn import_contacts(&self) -> Result<(), EngineError> {
        contacts::start_import(
            &self.service,
            &self.slots.logs,
            &self.slots.session,
            &self.imports,
        )
    }
}

/// Opens an http(s) link in the browser; `None` when there is none to open.
fn open_web_link(link: Option<String>) -> Option<()> {
    let link = link.filter(|l| l.starts_with("https://") || l.starts_with("http://"))?;
    crms::open_in_browser(&link);
    Some(())
}

#[cfg(feature = "demo")]
fn start_demo(service: &Arc<Service>, slots: &Slots, env: &Environment) -> Option<demo::DemoHandle> {
    Some(demo::start(service, slots.clone(), env))
}

#[cfg(not(feature = "demo"))]
fn start_demo(_: &Arc<Service>, _: &Slots, _: &Environment) -> Option<demo::DemoHandle> {
    tracing::warn!("this build has no demo");
    None
}

/// `callcard --connect CRM`: the sign-in in the browser, tokens to the
/// keychain. `open` shows the sign-in page (and says where it is).
pub async fn sign_in_from_command_line(crm: &str, open: impl FnOnce(&str)) -> Result<String, EngineError> {
    let plugin = crms::find(crm).ok_or_else(|| EngineError::UnknownCrm(crm.to_owned()))?;
    let name = plugin.descriptor().name;
    let env = Environment::process();
    // A client pasted into the connect window counts here too.
    let settings = Paths::from_env()
        .ok()
        .and_then(|paths| callcard_core::Store::open(&paths.database()).ok())
        .and_then(|store| store.load_settings().ok())
        .unwrap_or_default();
    let config = crms::installed_crm(plugin, &env, &settings, &callcard_secrets::Keychain::app())
        .ok_or(EngineError::CrmNotConfigured(plugin.descriptor()))?;
    let session = crms::keychain_session(&config, callcard_secrets::Keychain::app());
    crms::sign_in(&config, &session, open)
        .await
        .map_err(|e| EngineError::SignIn(format!("{name}: {e}")))?;
    Ok(name.to_owned())
}
