//! Watching calls: resolves who is at this computer, then polls Aircall
//! within the budget and puts the tracker's events on the service channel.
//! With a CRM connected it also finds the caller of a ringing call (the
//! card, the insight card, contact sync) and hands final calls to the call
//! log, whose outbox a dispatcher drains.

use crate::aircall_account::AircallConnection;
use crate::call_retries::{CallRetries, Failure};
pub use crate::connected::{AircallSession, SharedLogs, SharedSession, Slot, Slots, Watching};
use crate::crms;
use crate::environment::Environment;
use crate::hub_account::HubConnection;
use crate::hub_feed::HubFollower;
use callcard_aircall::calls::{FinishedCall, RingingCall};
use callcard_aircall::contact_sync::ContactSync;
use callcard_aircall::poller::CallReader;
use callcard_aircall::poller::PollError;
use callcard_aircall::{Aircall, AircallError, Poller, PollerConfig};
use callcard_core::call_log::{CallLog, CallLogError};
use callcard_core::crm::{ContactSyncMode, CrmDescriptor};
use callcard_core::crm::{Crm, CrmError};
use callcard_core::dispatcher::{Dispatcher, RetryPolicy};
use callcard_core::phone::E164;
use callcard_core::store::Queued;
use callcard_core::tracker::CallEvent;
use callcard_core::Settings;
use callcard_core::{CrmWait, Service, Trouble};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What to watch calls with.
pub struct Watch {
    pub connection: AircallConnection,
    /// The CRMs calls are looked up in and logged to (none, one, or several
    /// at once), each as it becomes ready.
    pub crms: WatchCrms,
    /// The demo shortens the settle delay so notes land while one watches.
    pub settle_ms_override: Option<i64>,
    /// The demo's sandbox is the demo's own: it may use all of its limit.
    pub budget_override: Option<u32>,
    /// How long after a "not yet" Aircall is asked again for a call's AI data.
    pub ai_retry: Duration,
    /// Tests: how long a call that fails on its own is tried before it is
    /// given up on (see [`crate::call_retries`]).
    pub call_give_up: Option<Duration>,
    /// Without a team hub: how far apart the computers following a call
    /// take their turns to write it, looking in the CRM first (see
    /// `callcard_core::claims::StaggeredClaims`); `None` writes at once.
    pub stagger_step: Option<Duration>,
    /// The team hub to follow instead of polling, when one is set.
    pub hub: Option<HubConnection>,
    /// How long the hub may be away before polling takes over.
    pub hub_fallback: Duration,
    /// Ends watching: the app's shutdown, the demo being stopped, or a
    /// change of the settings watching depends on.
    pub stop: CancellationToken,
}

/// The CRMs of a watch. Each is independent: one that cannot sign in or
/// answer arrives later (or not at all) while the others, the cards and
/// dialing go on; a call is marked logged only once every selected CRM has
/// it in its outbox, so the late one gets every call when it arrives.
pub struct WatchCrms {
    /// The ids of the CRMs calls must reach.
    pub selected: Vec<String>,
    /// Each selected CRM once signed in and reachable.
    pub ready: mpsc::UnboundedReceiver<Arc<dyn Crm>>,
}

impl WatchCrms {
    /// CRMs that are all ready now (the demo's).
    pub fn ready_now(crms: Vec<Arc<dyn Crm>>) -> Self {
        let (send, ready) = mpsc::unbounded_channel();
        let selected = crms.iter().map(|crm| crm.account().crm).collect();
        for crm in crms {
            let _ = send.send(crm);
        }
        Self { selected, ready }
    }
}

/// `CALLCARD_AI_RETRY_SECS` (tests, impatient demos); two minutes otherwise.
pub fn ai_retry(env: &Environment) -> Duration {
    env.var("CALLCARD_AI_RETRY_SECS")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(120))
}

/// `CALLCARD_STAGGER_STEP_MS` (tests: `0` keeps the look-up before each
/// write without the wait); a second otherwise.
pub fn stagger_step(env: &Environment) -> Duration {
    env.var("CALLCARD_STAGGER_STEP_MS")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(callcard_core::claims::DEFAULT_STAGGER_STEP)
}

/// `CALLCARD_POLL_BUDGET_PER_MINUTE`: this computer's Aircall budget over
/// the settings' (tests against a sandbox with a high limit, where
/// catching up days of calls at a real company's pace would take minutes).
pub fn budget_override(env: &Environment) -> Option<u32> {
    env.var("CALLCARD_POLL_BUDGET_PER_MINUTE")
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|budget| *budget > 0)
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
    crm_clients: std::collections::BTreeMap<String, callcard_core::settings::CrmClientSetting>,
    team_hub_url: String,
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
            crm_clients: settings.crm_clients.clone(),
            team_hub_url: settings.team_hub_url.clone(),
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
    let mut accounts = service.account_changes();
    loop {
        let settings = changes.borrow_and_update().clone();
        accounts.borrow_and_update();
        let key = WatchKey::of(&settings);
        let round = stop.child_token();
        let work = async {
            if let Some(watch) = source.watch_for(&service, &settings, round.clone()).await {
                run(service.clone(), watch, &slots).await;
            }
        };
        let changed = wait_for_change(&mut changes, &mut accounts, &key);
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
        service.watch_ended();
        if stop.is_cancelled() {
            return;
        }
        if finished {
            // Nothing more to do with these settings: wait for a change.
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = wait_for_change(&mut changes, &mut accounts, &key) => {}
            }
        }
        tracing::info!("settings or accounts changed: watching calls with the new ones");
    }
}

/// Returns when a setting the watch depends on changes, or an account's
/// credentials do.
async fn wait_for_change(
    changes: &mut tokio::sync::watch::Receiver<Settings>,
    accounts: &mut tokio::sync::watch::Receiver<u64>,
    key: &WatchKey,
) {
    loop {
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return std::future::pending().await;
                }
                if WatchKey::of(&changes.borrow_and_update()) != *key {
                    return;
                }
            }
            changed = accounts.changed() => {
                if changed.is_ok() {
                    return;
                }
                return std::future::pending().await;
            }
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
        call_give_up,
        stagger_step,
        hub,
        hub_fallback,
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
    let poller_config = config.clone();
    let mut poller = Poller::new(client.clone(), service.shared_store(), service.clock(), config);
    let reader = poller.reader();
    // With a team hub, one computer of the company makes each write (and
    // posts each insight card): see `callcard_core::claims`.
    let claims: Option<Arc<dyn callcard_core::claims::WriteClaims>> = hub.as_ref().and_then(|hub| {
        crate::hub_feed::HubClaims::new(hub)
            .map_err(|error| tracing::warn!(%error, "cannot claim writes through the team hub"))
            .ok()
            .map(|claims| Arc::new(claims) as Arc<dyn callcard_core::claims::WriteClaims>)
    });
    // Without one, the CRM is where the computers meet: each waits its turn
    // and looks before writing. The insight card is not staggered: it only
    // helps while the call rings.
    let write_claims = claims
        .clone()
        .or_else(|| staggered_claims(service, stagger_step?));
    let (side_send, side_receive) = mpsc::unbounded_channel();
    let side = SideLane(side_send);
    tasks.spawn(side_requests(
        side_receive,
        client.clone(),
        poller.pacer().clone(),
        claims.clone(),
        service.clone(),
        shutdown.clone(),
    ));
    // With a team hub, calls come from its stream (polling only while it is away).
    let mut follower = match &hub {
        Some(hub) => match HubFollower::new(service, hub, user_id, hub_fallback) {
            Ok(follower) => Some(follower),
            Err(error) => {
                tracing::warn!(%error, "cannot follow the team hub; polling Aircall");
                None
            }
        },
        None => None,
    };
    if follower.is_none() {
        service.set_call_source(callcard_core::CallSource::Polling);
    }
    let wake = service.outbox_wake();
    let WatchCrms {
        selected,
        ready: mut arriving,
    } = crms;
    slots.watching.set(Watching {
        poller: poller_config,
        crms: selected.clone(),
        default_region: settings.default_region.clone(),
    });
    let mut logging = Logging {
        selected,
        logs: Vec::new(),
        resting: HashMap::new(),
        retries: CallRetries::new(call_give_up),
    };
    let service = service.clone();
    // The calls live now, for a CRM that becomes ready while they are.
    let mut live: HashMap<i64, RingingCall> = HashMap::new();
    loop {
        // The CRMs that became ready since the last tick join in, and show
        // their cards for the calls still live.
        let mut joined = Vec::new();
        while let Ok(crm) = arriving.try_recv() {
            let log = start_crm(&service, crm, &client, &write_claims, &wake, &shutdown, tasks);
            logging.logs.push(log.clone());
            // In the registry's order, whichever signed in first.
            logging.logs.sort_by_key(|l| {
                crms::CRMS
                    .iter()
                    .position(|c| c.descriptor().id == l.crm().account().crm)
            });
            joined.push(log);
            slots.logs.set(logging.logs.clone());
        }
        if !joined.is_empty() {
            let work = async {
                for call in live.values() {
                    identify_caller(&service, &side, &joined, call, Moment::Live).await;
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = work => {}
            }
        }
        let next = async {
            match &mut follower {
                Some(follower) => follower.next_tick(&service, &mut poller).await,
                None => poller.tick().await,
            }
        };
        let tick = tokio::select! {
            _ = shutdown.cancelled() => return,
            tick = next => tick,
        };
        match tick {
            Ok(tick) => {
                service.set_catch_up(tick.catch_up);
                for call in &tick.ringing {
                    live.insert(call.id, call.clone());
                }
                for event in tick.events {
                    if let CallEvent::CallEnded { call_id } | CallEvent::CallElsewhere { call_id } = event {
                        live.remove(&call_id);
                    }
                    service.publish_call(event);
                }
                let work = async {
                    for call in &tick.ringing {
                        identify_caller(&service, &side, &logging.logs, call, Moment::Live).await;
                    }
                    logging.log_finished_calls(&service, &reader, &side).await;
                    logging.log_messages(&service).await;
                };
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = work => {}
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

/// A CRM that became ready: what waited for its sign-in goes now, its
/// outbox dispatcher and its phone index start; returns its call log.
fn start_crm(
    service: &Arc<Service>,
    crm: Arc<dyn Crm>,
    client: &Arc<Aircall>,
    claims: &Option<Arc<dyn callcard_core::claims::WriteClaims>>,
    wake: &Arc<Notify>,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<()>,
) -> Arc<CallLog> {
    let id = crm.account().crm;
    tracing::info!(crm = %id, "logging calls to this CRM");
    service.set_crm_waiting(&id, None);
    if let Ok(store) = service.shared_store().lock() {
        let _ = store.retry_waiting_for_login(service.clock().now_ms());
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

/// When a caller is identified: while the call rings here, or after the
/// fact (a call caught up after an absence, or one that rang while a CRM
/// was not ready).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    Live,
    AfterTheFact,
}

/// Who the other party is, in each CRM: the card (completed by the live
/// search: the company, the open opportunity) and — while the call is live
/// — the card window and Aircall's insight card. A call caught up later
/// gets the same card, without the windows.
async fn identify_caller(
    service: &Arc<Service>,
    side: &SideLane,
    logs: &[Arc<CallLog>],
    call: &RingingCall,
    moment: Moment,
) {
    let Some(number) = call.other_party.clone() else {
        return;
    };
    let direction = call.direction;
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
    if moment == Moment::Live {
        service.publish_call(CallEvent::CardReady { call_id: call.id });
    }
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
    let best = cards.iter().find_map(|(_, card)| {
        card.chosen
            .as_ref()
            .and_then(|c| card.matches.iter().find(|m| &m.record == c))
            .or(card.matches.first())
            .cloned()
    });
    let Some(best) = best else {
        return;
    };
    let store = service.shared_store();
    let wants = moment == Moment::Live
        && store
            .lock()
            .map(|s| s.wants_card(call.id).unwrap_or(false))
            .unwrap_or(false);
    if wants {
        side.send(SideRequest::InsightCard {
            call_id: call.id,
            contents: callcard_aircall::insight::card_contents(&best),
        });
    }
}

/// A request to Aircall beside watching: the insight card of a live call,
/// the caller's contact after a call.
enum SideRequest {
    InsightCard {
        call_id: i64,
        contents: serde_json::Value,
    },
    SyncContact {
        call_id: i64,
        account: callcard_core::crm::CrmAccount,
        crm: &'static CrmDescriptor,
        best: Box<callcard_core::crm::CrmRecord>,
        number: E164,
    },
}

/// Where side requests wait for their turn in this computer's Aircall
/// budget, so that watching never does: the next card is not held up by
/// the last call's contact sync.
#[derive(Clone)]
struct SideLane(mpsc::UnboundedSender<SideRequest>);

impl SideLane {
    fn send(&self, request: SideRequest) {
        // Closed only once the watch stops: nothing more to ask then.
        let _ = self.0.send(request);
    }
}

/// Works through the side requests in order, each on the shared budget.
async fn side_requests(
    mut requests: mpsc::UnboundedReceiver<SideRequest>,
    client: Arc<Aircall>,
    pacer: callcard_aircall::poller::SharedPacer,
    claims: Option<Arc<dyn callcard_core::claims::WriteClaims>>,
    service: Arc<Service>,
    stop: CancellationToken,
) {
    loop {
        let request = tokio::select! {
            _ = stop.cancelled() => return,
            request = requests.recv() => match request {
                Some(request) => request,
                None => return,
            },
        };
        let work = async {
            match request {
                SideRequest::InsightCard { call_id, contents } => {
                    pacer.wait_turn().await;
                    let still_live = service
                        .shared_store()
                        .lock()
                        .map(|s| s.wants_card(call_id).unwrap_or(false))
                        .unwrap_or(false);
                    if !still_live {
                        // Shown during the live call only: too late now.
                        return;
                    }
                    let key = format!("aircall:insight_card:{call_id}");
                    if let Some(claims) = &claims {
                        use callcard_core::claims::Claim;
                        match claims.claim(&key).await {
                            Ok(Claim::Granted { .. }) => {}
                            // Another computer of the company posts (or posted) it.
                            Ok(Claim::WrittenElsewhere(_) | Claim::Held { .. }) => {
                                if let Ok(store) = service.shared_store().lock() {
                                    let _ = store.mark_card_posted(call_id);
                                }
                                return;
                            }
                            // A card is only useful now: posted rather than lost.
                            Err(error) => {
                                tracing::info!(call_id, %error, "cannot ask who posts the insight card; posting it")
                            }
                        }
                    }
                    match client.post_insight_card(call_id, &contents).await {
                        Ok(()) => {
                            if let Ok(store) = service.shared_store().lock() {
                                let _ = store.mark_card_posted(call_id);
                            }
                            if let Some(claims) = &claims {
                                let posted = callcard_core::crm::RemoteRef {
                                    id: format!("insight_card:{call_id}"),
                                    link: None,
                                };
                                let _ = claims.written(&key, &posted).await;
                            }
                        }
                        Err(error) => tracing::warn!(call_id, %error, "cannot post the insight card"),
                    }
                }
                SideRequest::SyncContact {
                    call_id,
                    account,
                    crm,
                    best,
                    number,
                } => {
                    // Two requests (search, then create or update).
                    pacer.wait_turn().await;
                    pacer.wait_turn().await;
                    match callcard_aircall::contacts::sync_contact(&client, crm.name, &best, &number).await {
                        Ok(synced) => {
                            if let Ok(store) = service.shared_store().lock() {
                                let now = service.clock().now_ms();
                                let _ = store.map_contact(
                                    &account,
                                    &number,
                                    &best.record,
                                    synced.contact_id(),
                                    now,
                                );
                            }
                            tracing::info!(
                                call_id,
                                ?synced,
                                crm = crm.name,
                                "Aircall contact in step with the CRM"
                            );
                        }
                        Err(error) => tracing::warn!(call_id, %error, "cannot sync the Aircall contact"),
                    }
                }
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = work => {}
        }
    }
}

/// The caller's Aircall contact brought in step with the first CRM (in the
/// registry's order) that syncs on each call and has them on the call's
/// card. Done once the call is over: it serves the next calls, and spends
/// no request while a call rings.
async fn sync_caller_contact(
    service: &Arc<Service>,
    side: &SideLane,
    logs: &[Arc<CallLog>],
    call: &RingingCall,
) {
    let Some(number) = call.other_party.clone() else {
        return;
    };
    let settings = service.settings();
    let store = service.shared_store();
    let synced_by = logs.iter().find_map(|log| {
        let account = log.crm().account();
        let crm = descriptor_of(&account.crm)?;
        if crm.contact_sync != ContactSyncMode::OnEachCall || !settings.contact_sync.is_on(crm) {
            return None;
        }
        let card = store.lock().ok()?.card(call.id, &account.crm).ok()??;
        let best = card
            .chosen
            .as_ref()
            .and_then(|c| card.matches.iter().find(|m| &m.record == c))
            .or(card.matches.first())?
            .clone();
        Some((account, crm, best))
    });
    let Some((account, crm, best)) = synced_by else {
        return;
    };
    side.send(SideRequest::SyncContact {
        call_id: call.id,
        account,
        crm,
        best: Box::new(best),
        number,
    });
}

/// How long a CRM that failed a write is left alone before the next try
/// (the other CRMs go on meanwhile).
const CRM_REST: Duration = Duration::from_secs(30);

/// Final calls into each ready CRM's outbox (and AI updates once the data
/// is there). A call is logged once every selected CRM has its writes; until
/// then it waits for the missing ones, which get it when they are back.
struct Logging {
    /// The ids of the CRMs every call must reach.
    selected: Vec<String>,
    /// The ready CRMs' call logs.
    logs: Vec<Arc<CallLog>>,
    /// CRMs that failed lately, and until when they rest.
    resting: HashMap<String, tokio::time::Instant>,
    /// Calls (and AI updates) that failed on their own, waiting their turn.
    retries: CallRetries<(i64, Queued)>,
}

impl Logging {
    fn crm_of(log: &CallLog) -> String {
        log.crm().account().crm
    }

    fn failure_of(error: &PollError) -> Failure {
        match error {
            PollError::Aircall(AircallError::NotFound) => Failure::NotFound,
            _ => Failure::Other,
        }
    }

    /// The ready, rested CRMs among `missing`.
    fn ready_among(&self, missing: &[String]) -> Vec<Arc<CallLog>> {
        let now = tokio::time::Instant::now();
        self.logs
            .iter()
            .filter(|l| missing.contains(&Self::crm_of(l)))
            .filter(|l| {
                self.resting
                    .get(&Self::crm_of(l))
                    .is_none_or(|until| now >= *until)
            })
            .cloned()
            .collect()
    }

    /// The selected CRMs that do not have `what` of the call yet.
    fn missing(
        &self,
        store: &std::sync::Mutex<callcard_core::Store>,
        call_id: i64,
        what: Queued,
    ) -> Vec<String> {
        let queued = store
            .lock()
            .map(|s| s.queued_in(call_id, what).unwrap_or_default())
            .unwrap_or_default();
        self.selected
            .iter()
            .filter(|crm| !queued.contains(crm))
            .cloned()
            .collect()
    }

    /// A CRM that failed took a write again: what the tray and history said
    /// about it is over.
    fn recovered(&mut self, service: &Service, log: &CallLog) {
        let crm = Self::crm_of(log);
        if self.resting.remove(&crm).is_some() {
            service.set_crm_waiting(&crm, None);
            service.clear_trouble(&Trouble::CrmNeedsSignIn { crm });
        }
    }

    /// A CRM could not take a write: it rests, and the tray and history say why.
    fn failed(&mut self, service: &Service, log: &CallLog, call_id: i64, what: Queued, error: &CallLogError) {
        let crm = Self::crm_of(log);
        tracing::warn!(call_id, crm = %crm, %error, "cannot log the call in this CRM yet");
        let name = descriptor_of(&crm).map_or(crm.as_str(), |d| d.name).to_owned();
        if let CallLogError::Crm(CrmError::Rejected(why)) = error {
            // This call's problem, not the CRM's: the others go on.
            self.retry_later(
                service,
                call_id,
                what,
                Failure::Other,
                &format!("{name} refused it: {why}"),
            );
            return;
        }
        self.resting
            .insert(crm.clone(), tokio::time::Instant::now() + CRM_REST);
        if matches!(error, CallLogError::Crm(CrmError::NeedsReconnect(_))) {
            service.set_trouble(Trouble::CrmNeedsSignIn { crm: crm.clone() });
            service.set_crm_waiting(&crm, Some(CrmWait::NeedsSignIn));
        } else {
            service.set_crm_waiting(&crm, Some(CrmWait::NotAnswering));
        }
    }

    /// A call (or its AI update) that failed on its own waits on its own
    /// back-off; after the bound it is given up on, and the history says why.
    fn retry_later(&mut self, service: &Service, call_id: i64, what: Queued, failure: Failure, reason: &str) {
        if !self.retries.failed((call_id, what), failure) {
            tracing::warn!(
                call_id,
                ?what,
                reason,
                "this call waits; the calls after it go on"
            );
            return;
        }
        self.retries.done(&(call_id, what));
        tracing::error!(call_id, ?what, reason, "given up on this call");
        if let Ok(store) = service.shared_store().lock() {
            let _ = match what {
                Queued::Call => store.give_up_on_call(call_id, reason, service.clock().now_ms()),
                Queued::Ai => store.mark_ai_logged(call_id),
            };
        }
        service.history_changed();
    }

    /// `what` of the call into each ready CRM's outbox; the call is marked
    /// logged (or its AI update done) once every selected CRM has it.
    async fn queue_in(
        &mut self,
        service: &Arc<Service>,
        ready: &[Arc<CallLog>],
        call: &FinishedCall,
        what: Queued,
    ) {
        let settings = service.settings();
        let store = service.shared_store();
        let number = call.other_party.as_ref();
        let final_call = &call.log;
        for log in ready {
            let now = service.clock().now_ms();
            let queued = match what {
                Queued::Call => log.queue_final(final_call, number, &settings, now).await,
                Queued::Ai => log.queue_ai(final_call, number, &settings, now).await,
            };
            match queued {
                Ok(writes) => {
                    self.retries.done(&(call.id(), what));
                    if let Ok(store) = store.lock() {
                        let _ = store.mark_queued_in(call.id(), &Self::crm_of(log), what);
                    }
                    self.recovered(service, log);
                    tracing::info!(call_id = call.id(), crm = %Self::crm_of(log), ?what, writes, "queued in the outbox");
                }
                Err(error) => self.failed(service, log, call.id(), what, &error),
            }
        }
        if self.missing(&store, call.id(), what).is_empty() {
            if let Ok(store) = store.lock() {
                let _ = match what {
                    Queued::Call => store.mark_logged(call.id()),
                    Queued::Ai => store.mark_ai_logged(call.id()),
                };
            }
        }
        service.history_changed();
        service.wake_outbox();
    }

    async fn log_finished_calls(&mut self, service: &Arc<Service>, reader: &CallReader, side: &SideLane) {
        let store = service.shared_store();
        let finals = store
            .lock()
            .map(|s| s.finals_to_log().unwrap_or_default())
            .unwrap_or_default();
        let mut handled = false;
        for call_id in finals {
            if service.status() == callcard_core::Status::Paused {
                // Paused means these calls are not written, not written later.
                tracing::info!(call_id, "logging is paused; this call is not logged");
                if let Ok(store) = store.lock() {
                    let _ = store.mark_logged(call_id);
                    let _ = store.mark_ai_logged(call_id);
                }
                continue;
            }
            let missing = self.missing(&store, call_id, Queued::Call);
            let ready = self.ready_among(&missing);
            if missing.is_empty() {
                if let Ok(store) = store.lock() {
                    let _ = store.mark_logged(call_id);
                }
                continue;
            }
            if ready.is_empty() {
                // Waits for a CRM that is not ready.
                continue;
            }
            if !self.retries.due(&(call_id, Queued::Call)) {
                // Failed lately: waits its turn while the others go on.
                continue;
            }
            if handled {
                // One call's Aircall requests per tick: the next poll of new
                // calls comes first.
                break;
            }
            handled = true;
            let call = match reader.finished_call(call_id).await {
                Ok(call) => call,
                Err(PollError::Aircall(AircallError::RateLimited { .. })) => return,
                Err(error) => {
                    let failure = Self::failure_of(&error);
                    let reason = format!("Aircall did not give the call: {error}");
                    self.retry_later(service, call_id, Queued::Call, failure, &reason);
                    continue;
                }
            };
            let no_card = store
                .lock()
                .map(|s| {
                    ready
                        .iter()
                        .all(|l| s.card(call_id, &Self::crm_of(l)).ok().flatten().is_none())
                })
                .unwrap_or(false);
            if no_card {
                // Caught up (or rang while the CRM was not ready): the same
                // card as a call seen ringing.
                identify_caller(service, side, &ready, &call.as_rung(), Moment::AfterTheFact).await;
            }
            // With the CRM that the contact follows, once (a call is queued
            // in a CRM once).
            sync_caller_contact(service, side, &ready, &call.as_rung()).await;
            self.queue_in(service, &ready, &call, Queued::Call).await;
            service.history_changed();
            service.wake_outbox();
        }
        self.log_ai_updates(service, reader).await;
    }

    /// The SMS waiting in the inbox, into each ready CRM (once per CRM);
    /// an SMS leaves the inbox once every selected CRM took it.
    async fn log_messages(&mut self, service: &Arc<Service>) {
        let store = service.shared_store();
        let waiting = store
            .lock()
            .map(|s| s.sms_to_log().unwrap_or_default())
            .unwrap_or_default();
        for (id, json, taken) in waiting {
            let Ok(sms) = serde_json::from_str::<callcard_core::sms::SmsLog>(&json) else {
                tracing::warn!(id, "an SMS kept to log cannot be read; dropped");
                if let Ok(store) = store.lock() {
                    let _ = store.forget_sms(&id);
                }
                continue;
            };
            let number = callcard_aircall::calls::other_party(&sms.other_party);
            let missing: Vec<String> = self
                .selected
                .iter()
                .filter(|crm| !taken.contains(crm))
                .cloned()
                .collect();
            for log in self.ready_among(&missing) {
                let settings = service.settings();
                let queued = match &number {
                    Some(number) => {
                        log.queue_sms(&sms, number, &settings, service.clock().now_ms())
                            .await
                    }
                    // A hidden or odd number: no record to log it on.
                    None => Ok(0),
                };
                match queued {
                    Ok(writes) => {
                        tracing::info!(id, crm = %Self::crm_of(&log), writes, "SMS queued in the outbox");
                        if let Ok(store) = store.lock() {
                            let _ = store.mark_sms_taken(&id, &Self::crm_of(&log));
                        }
                        self.recovered(service, &log);
                    }
                    Err(error) => {
                        tracing::warn!(id, crm = %Self::crm_of(&log), %error, "cannot log the SMS yet");
                        self.resting
                            .insert(Self::crm_of(&log), tokio::time::Instant::now() + CRM_REST);
                    }
                }
            }
            let all_taken = store
                .lock()
                .map(|s| {
                    s.sms_to_log()
                        .unwrap_or_default()
                        .into_iter()
                        .find(|(i, _, _)| *i == id)
                        .is_none_or(|(_, _, taken)| self.selected.iter().all(|c| taken.contains(c)))
                })
                .unwrap_or(false);
            if all_taken {
                if let Ok(store) = store.lock() {
                    let _ = store.forget_sms(&id);
                }
                service.history_changed();
                service.wake_outbox();
            }
        }
    }

    /// AI updates, for each CRM that has the call's first writes.
    async fn log_ai_updates(&mut self, service: &Arc<Service>, reader: &CallReader) {
        let store = service.shared_store();
        let ai_ready = store
            .lock()
            .map(|s| s.ai_to_log().unwrap_or_default())
            .unwrap_or_default();
        // One update's Aircall requests per tick, as for calls.
        let mut handled = false;
        for call_id in ai_ready {
            let settings = service.settings();
            let missing = self.missing(&store, call_id, Queued::Ai);
            if !settings.log_ai_info || missing.is_empty() {
                if let Ok(store) = store.lock() {
                    let _ = store.mark_ai_logged(call_id);
                }
                continue;
            }
            let has_call = self.missing(&store, call_id, Queued::Call);
            let missing: Vec<String> = missing.into_iter().filter(|c| !has_call.contains(c)).collect();
            let ready = self.ready_among(&missing);
            if ready.is_empty() || !self.retries.due(&(call_id, Queued::Ai)) {
                continue;
            }
            if handled {
                break;
            }
            handled = true;
            let call = match reader.finished_with_ai(call_id).await {
                Ok(found) => found,
                Err(PollError::Aircall(AircallError::RateLimited { .. })) => return,
                Err(error) => {
                    let failure = Self::failure_of(&error);
                    let reason = format!("Aircall did not give the AI data: {error}");
                    self.retry_later(service, call_id, Queued::Ai, failure, &reason);
                    continue;
                }
            };
            self.queue_in(service, &ready, &call, Queued::Ai).await;
            service.history_changed();
            service.wake_outbox();
        }
    }
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
fn staggered_claims(
    service: &Arc<Service>,
    step: Duration,
) -> Option<Arc<dyn callcard_core::claims::WriteClaims>> {
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
