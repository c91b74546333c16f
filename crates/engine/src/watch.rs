//! Watching calls: resolves who is at this computer, then polls Aircall
//! within the budget and puts the tracker's events on the service channel.
//! With a CRM connected it also finds the caller of a ringing call (the
//! card, the insight card, contact sync) and hands final calls to the call
//! log, whose outbox a dispatcher drains.

use crate::aircall_account::AircallConnection;
use crate::crms;
use crate::environment::Environment;
use callcard_aircall::contact_sync::ContactSync;
use callcard_aircall::model::Call;
use callcard_aircall::{Aircall, Poller, PollerConfig};
use callcard_core::activity::Direction;
use callcard_core::call_log::{CallLog, CallLogError};
use callcard_core::crm::{ContactSyncMode, CrmDescriptor};
use callcard_core::crm::{Crm, CrmError};
use callcard_core::dispatcher::{Dispatcher, RetryPolicy};
use callcard_core::phone::{parse_raw_digits, Caller, E164};
use callcard_core::tracker::CallEvent;
use callcard_core::Service;
use callcard_core::Settings;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What to watch calls with.
pub struct Watch {
    pub connection: AircallConnection,
    /// The CRMs calls are looked up in and logged to (none, one, or several
    /// at once).
    pub crms: Vec<Arc<dyn Crm>>,
    /// The demo shortens the settle delay so notes land while one watches.
    pub settle_ms_override: Option<i64>,
    /// The demo's sandbox is the demo's own: it may use all of its limit.
    pub budget_override: Option<u32>,
    /// How long after a "not yet" Aircall is asked again for a call's AI data.
    pub ai_retry: Duration,
    /// Ends watching: the app's shutdown, the demo being stopped, or a
    /// change of the settings watching depends on.
    pub stop: CancellationToken,
}

/// `CALLCARD_AI_RETRY_SECS` (tests, impatient demos); two minutes otherwise.
pub fn ai_retry(env: &Environment) -> Duration {
    env.var("CALLCARD_AI_RETRY_SECS")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(120))
}

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

    fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(value));
    }

    fn clear(&self) {
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
    fn clear(&self) {
        self.session.clear();
        self.logs.clear();
        self.watching.clear();
    }
}

/// The settings that shape watching (who, which numbers, at what pace,
/// with which delays, into which CRMs): a change to any of them starts
/// watching again with the new values, without a restart of the app.
#[derive(Debug, Clone, PartialEq)]
struct WatchKey {
    crms: callcard_core::settings::CrmSelection,
    aircall_user_email: String,
    connected_numbers: Vec<i64>,
    polling_budget_per_minute: u32,
    settle_delay_secs: u32,
    look_back_days: u32,
    ai_wait_minutes: u32,
    default_region: String,
}

impl WatchKey {
    fn of(settings: &Settings) -> Self {
        Self {
            crms: settings.crms.clone(),
            aircall_user_email: settings.aircall_user_email.clone(),
            connected_numbers: settings.connected_numbers.clone(),
            polling_budget_per_minute: settings.polling_budget_per_minute,
            settle_delay_secs: settings.settle_delay_secs,
            look_back_days: settings.look_back_days,
            ai_wait_minutes: settings.ai_wait_minutes,
            default_region: settings.default_region.clone(),
        }
    }
}

/// Builds a watch from the settings of the moment: the user's own accounts
/// or the demo's. `None`: nothing to watch with these settings.
pub trait WatchSource: Send + Sync {
    fn watch_for<'a>(
        &'a self,
        service: &'a Arc<Service>,
        settings: &'a Settings,
        stop: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Option<Watch>> + Send + 'a>>;
}

/// Watches calls until `stop`, starting again whenever a setting that
/// shapes watching changes. The old watch (its poller, dispatchers and
/// index task) has fully stopped before the new one starts, so two
/// dispatchers never share the outbox.
pub async fn supervise(
    service: Arc<Service>,
    source: Arc<dyn WatchSource>,
    slots: Slots,
    stop: CancellationToken,
) {
    let mut changes = service.settings_changes();
    loop {
        let settings = changes.borrow_and_update().clone();
        let key = WatchKey::of(&settings);
        let round = stop.child_token();
        let work = async {
            if let Some(watch) = source.watch_for(&service, &settings, round.clone()).await {
                run(service.clone(), watch, &slots).await;
            }
        };
        let changed = async {
            loop {
                if changes.changed().await.is_err() {
                    return std::future::pending().await;
                }
                if WatchKey::of(&changes.borrow_and_update()) != key {
                    return;
                }
            }
        };
        let mut work = std::pin::pin!(work);
        let finished = tokio::select! {
            _ = &mut work => true,
            _ = changed => false,
            _ = stop.cancelled() => false,
        };
        round.cancel();
        if !finished {
            // Returns promptly once cancelled, after the watch's own tasks stopped.
            work.await;
        }
        slots.clear();
        if stop.is_cancelled() {
            return;
        }
        if finished {
            // Nothing more to do with these settings: wait for a change.
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = wait_for_change(&mut changes, &key) => {}
            }
        }
        tracing::info!("settings changed: watching calls with the new ones");
    }
}

async fn wait_for_change(changes: &mut tokio::sync::watch::Receiver<Settings>, key: &WatchKey) {
    loop {
        if changes.changed().await.is_err() {
            return std::future::pending().await;
        }
        if WatchKey::of(&changes.borrow_and_update()) != *key {
            return;
        }
    }
}

/// Runs one watch until its stop token; the tasks it starts (dispatchers,
/// index refresh) have stopped when it returns.
pub async fn run(service: Arc<Service>, watch: Watch, slots: &Slots) {
    let stop = watch.stop.clone();
    let mut tasks = JoinSet::new();
    watch_calls(&service, watch, slots, &mut tasks).await;
    stop.cancel();
    let all_stopped = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), all_stopped)
        .await
        .is_err()
    {
        tracing::warn!("a task of the watch did not stop in time; aborting it");
        tasks.abort_all();
    }
}

async fn watch_calls(service: &Arc<Service>, watch: Watch, slots: &Slots, tasks: &mut JoinSet<()>) {
    let Watch {
        connection,
        crms,
        settle_ms_override,
        budget_override,
        ai_retry,
        stop: shutdown,
    } = watch;
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
        let resolved = tokio::select! {
            _ = shutdown.cancelled() => return,
            resolved = resolved => resolved,
        };
        match resolved {
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
    slots.session.set(AircallSession {
        client: client.clone(),
        user_id,
        numbers: numbers.clone(),
    });
    let settings = service.settings();
    let connected_numbers = if settings.connected_numbers.is_empty() {
        numbers
    } else {
        settings.connected_numbers.clone()
    };
    tracing::info!(
        user_id,
        ?connected_numbers,
        budget = budget_override.unwrap_or(settings.polling_budget_per_minute),
        "watching Aircall calls"
    );
    let config = PollerConfig {
        budget_per_minute: budget_override.unwrap_or(settings.polling_budget_per_minute),
        user_id,
        connected_numbers,
        settle_ms: settle_ms_override.unwrap_or(i64::from(settings.settle_delay_secs) * 1000),
        ai_wait_ms: i64::from(settings.ai_wait_minutes) * 60_000,
        ai_retry_ms: ai_retry.as_millis() as i64,
        look_back_ms: i64::from(settings.look_back_days) * 86_400_000,
        max_interval: Duration::from_secs(300),
    };
    slots.watching.set(Watching {
        poller: config.clone(),
        crms: crms.iter().map(|crm| crm.account().crm).collect(),
        default_region: settings.default_region.clone(),
    });
    let mut poller = Poller::new(client.clone(), service.shared_store(), service.clock(), config);
    let wake = service.outbox_wake();
    if !crms.is_empty() {
        // This start may follow a new sign-in: what waited for it goes now.
        if let Ok(store) = service.shared_store().lock() {
            let _ = store.retry_waiting_for_login(service.clock().now_ms());
        }
    }
    let call_logs: Vec<Arc<CallLog>> = crms
        .into_iter()
        .map(|crm| {
            let told = service.clone();
            let dispatcher = Dispatcher::new(
                service.shared_store(),
                crm.clone(),
                service.clock(),
                RetryPolicy::default(),
                None,
            )
            .on_change(move || told.history_changed());
            tasks.spawn(dispatcher.run(wake.clone(), shutdown.clone(), Duration::from_secs(30)));
            let sync = descriptor_of(&crm.account().crm)
                .filter(|d| d.contact_sync == ContactSyncMode::ChangedContacts)
                .map(|d| Arc::new(crate::contacts::contact_sync(service, client.clone(), d.name)));
            let log = Arc::new(CallLog::new(service.shared_store(), crm));
            tasks.spawn(keep_index_fresh(
                log.clone(),
                sync,
                service.clone(),
                shutdown.clone(),
            ));
            log
        })
        .collect();
    slots.logs.set(call_logs.clone());
    let service = service.clone();
    // Logging waits a while after a CRM failure rather than spend Aircall
    // requests on calls it cannot log yet.
    let mut log_not_before = tokio::time::Instant::now();
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
                if !call_logs.is_empty() {
                    let work = async {
                        for call in &tick.ringing {
                            show_caller(&service, &mut poller, &call_logs, call).await;
                        }
                        if tokio::time::Instant::now() >= log_not_before
                            && !log_finished_calls(&service, &mut poller, &call_logs, &wake).await
                        {
                            log_not_before = tokio::time::Instant::now() + Duration::from_secs(30);
                        }
                    };
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = work => {}
                    }
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

fn other_party(call: &Call) -> Option<E164> {
    match parse_raw_digits(&call.raw_digits) {
        Ok(Caller::Number(number)) => Some(number),
        _ => None,
    }
}

/// A ringing call: each CRM's card (the window opens on `card_ready`),
/// the best match in Aircall while the call is live, and the caller's
/// Aircall contact brought in step with the CRM (those that sync on each call).
async fn show_caller(service: &Arc<Service>, poller: &mut Poller, logs: &[Arc<CallLog>], call: &Call) {
    let Some(number) = other_party(call) else {
        return;
    };
    let direction = match call.direction {
        callcard_aircall::model::Direction::Outbound => Direction::Outbound,
        _ => Direction::Inbound,
    };
    let mut cards = Vec::new();
    for log in logs {
        match log
            .card_for(call.id, &number, direction, service.clock().now_ms())
            .await
        {
            Ok(card) => cards.push((log, card)),
            Err(error) => tracing::warn!(call_id = call.id, %error, "cannot find the caller"),
        }
    }
    if cards.is_empty() {
        return;
    }
    service.publish_call(CallEvent::CardReady { call_id: call.id });
    for (log, card) in &mut cards {
        if !card.from_index {
            continue;
        }
        // Shown at once from the index; the live search may add to it.
        match log
            .complete_card(call.id, &number, service.clock().now_ms())
            .await
        {
            Ok(true) => {
                if let Ok(Some(fresher)) = service
                    .shared_store()
                    .lock()
                    .map_err(|_| ())
                    .and_then(|s| s.card(call.id, &card.crm).map_err(|_| ()))
                {
                    *card = fresher;
                }
                service.cards_changed(call.id);
            }
            Ok(false) => {}
            Err(error) => {
                tracing::debug!(call_id = call.id, %error, "the live search could not complete the card")
            }
        }
    }
    let best = cards.iter().find_map(|(log, card)| {
        card.chosen
            .as_ref()
            .and_then(|c| card.matches.iter().find(|m| &m.record == c))
            .or(card.matches.first())
            .map(|best| (Arc::clone(log), best.clone()))
    });
    let Some((best_log, best)) = best else {
        return;
    };
    let store = service.shared_store();
    let wants = store
        .lock()
        .map(|s| s.wants_card(call.id).unwrap_or(false))
        .unwrap_or(false);
    if wants {
        poller.wait_turn().await;
        let contents = callcard_aircall::insight::card_contents(&best);
        match poller.client().post_insight_card(call.id, &contents).await {
            Ok(()) => {
                if let Ok(store) = store.lock() {
                    let _ = store.mark_card_posted(call.id);
                }
            }
            Err(error) => tracing::warn!(call_id = call.id, %error, "cannot post the insight card"),
        }
    }
    let settings = service.settings();
    let account = best_log.crm().account();
    let Some(crm) = descriptor_of(&account.crm) else {
        return;
    };
    if crm.contact_sync == ContactSyncMode::OnEachCall && settings.contact_sync.is_on(crm) {
        // Two requests (search, then create or update) on the poller's budget.
        poller.wait_turn().await;
        poller.wait_turn().await;
        match callcard_aircall::contacts::sync_contact(poller.client(), crm.name, &best, &number).await {
            Ok(synced) => {
                if let Ok(store) = store.lock() {
                    let now = service.clock().now_ms();
                    let _ = store.map_contact(&account, &number, &best.record, synced.contact_id(), now);
                }
                tracing::info!(
                    call_id = call.id,
                    ?synced,
                    crm = crm.name,
                    "Aircall contact in step with the CRM"
                );
            }
            Err(error) => tracing::warn!(call_id = call.id, %error, "cannot sync the Aircall contact"),
        }
    }
}

/// Final calls into the outbox (and AI updates once the data is there).
/// A call stays "to log" until its writes are in the outbox, so a failure
/// here only delays it. Returns false when the CRM is failing.
async fn log_finished_calls(
    service: &Arc<Service>,
    poller: &mut Poller,
    logs: &[Arc<CallLog>],
    wake: &Notify,
) -> bool {
    let store = service.shared_store();
    let finals = store
        .lock()
        .map(|s| s.finals_to_log().unwrap_or_default())
        .unwrap_or_default();
    for call_id in finals {
        let settings = service.settings();
        if service.status() == callcard_core::Status::Paused {
            // Paused means these calls are not written, not written later.
            tracing::info!(call_id, "logging is paused; this call is not logged");
            if let Ok(store) = store.lock() {
                let _ = store.mark_logged(call_id);
                let _ = store.mark_ai_logged(call_id);
            }
            continue;
        }
        let call = match poller.fetch_call(call_id).await {
            Ok(call) => call,
            Err(error) => {
                tracing::warn!(call_id, %error, "cannot read the final call; trying again later");
                return true;
            }
        };
        let final_call = callcard_aircall::final_call::final_call(&call, None);
        // Every CRM queues its writes; the call is logged once all have.
        for log in logs {
            if let Err(error) = log
                .queue_final(
                    &final_call,
                    other_party(&call).as_ref(),
                    &settings,
                    service.clock().now_ms(),
                )
                .await
            {
                tracing::warn!(call_id, %error, "cannot log the call yet");
                if matches!(error, CallLogError::Crm(CrmError::NeedsReconnect(_))) {
                    service.set_trouble(&reconnect_message(log));
                }
                return false;
            }
        }
        if let Ok(store) = store.lock() {
            let _ = store.mark_logged(call_id);
        }
        tracing::info!(call_id, "call log queued");
        service.history_changed();
        wake.notify_one();
    }
    let ai_ready = store
        .lock()
        .map(|s| s.ai_to_log().unwrap_or_default())
        .unwrap_or_default();
    for call_id in ai_ready {
        let settings = service.settings();
        if !settings.log_ai_info {
            if let Ok(store) = store.lock() {
                let _ = store.mark_ai_logged(call_id);
            }
            continue;
        }
        let fetched = async {
            let call = poller.fetch_call(call_id).await?;
            let insights = poller.fetch_insights(call_id).await?;
            Ok::<_, callcard_aircall::poller::PollError>((call, insights))
        };
        let (call, insights) = match fetched.await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(call_id, %error, "cannot read the AI data; trying again later");
                return true;
            }
        };
        let final_call = callcard_aircall::final_call::final_call(&call, insights.as_ref());
        for log in logs {
            if let Err(error) = log
                .queue_ai(
                    &final_call,
                    other_party(&call).as_ref(),
                    &settings,
                    service.clock().now_ms(),
                )
                .await
            {
                tracing::warn!(call_id, %error, "cannot queue the AI update yet");
                return false;
            }
        }
        if let Ok(store) = store.lock() {
            let _ = store.mark_ai_logged(call_id);
        }
        tracing::info!(call_id, "AI update queued");
        service.history_changed();
        wake.notify_one();
    }
    true
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

/// The tray's status when the CRM's login must be renewed.
fn reconnect_message(log: &CallLog) -> String {
    let crm = log.crm().account().crm;
    match descriptor_of(&crm) {
        Some(descriptor) => format!("Reconnect {}", descriptor.name),
        None => format!("Reconnect {crm}"),
    }
}

fn descriptor_of(crm: &str) -> Option<&'static CrmDescriptor> {
    crms::descriptor(crm)
}

/// The call log of a connected CRM whose contacts can be imported into Aircall.
pub fn importing_log(logs: &SharedLogs) -> Option<Arc<CallLog>> {
    logs.get()?
        .iter()
        .find(|l| descriptor_of(&l.crm().account().crm).is_some_and(|d| d.imports_contacts))
        .cloned()
}
