//! Watching calls, by the call's life. This module supervises (a watch per
//! set of settings, started again when they change) and sets one watch up:
//! it resolves who is at this computer, then polls Aircall (or follows the
//! team hub) and hands each tick to small handlers, each on a bounded
//! channel and started from [`setup`]:
//!
//! * [`ringing`]: the caller of a ringing call, in each CRM (the card, the
//!   insight card), and their Aircall contact after the call;
//! * [`aircall_lane`]: requests to Aircall beside watching, on the shared
//!   budget;
//! * [`logging`]: final calls, AI updates and SMS into the CRMs' outboxes,
//!   as the core's pipeline rules say;
//! * [`crm_tasks`]: each CRM as it becomes ready (its outbox dispatcher,
//!   its phone index), and who makes each write.
//!
//! What a watch has connected, for the rest of the engine, is in
//! `crate::connected`.

mod aircall_lane;
mod crm_tasks;
mod handlers;
mod logging;
mod ringing;

use crate::aircall_account::AircallConnection;
pub use crate::connected::{AircallSession, SharedLogs, SharedSession, Slot, Slots, Watching};
use crate::environment::Environment;
use crate::hub_account::HubConnection;
use crate::hub_feed::HubFollower;
use aircall_lane::AircallLane;
use callcard_aircall::{Aircall, Poller, PollerConfig};
use callcard_core::claims::WriteClaims;
use callcard_core::crm::Crm;
use callcard_core::store::{Store, StoreError};
use callcard_core::tracker::CallEvent;
use callcard_core::Service;
use callcard_core::Settings;
use crm_tasks::{staggered_claims, CrmTasks};
use handlers::{LoggingNudge, RingingHandle, RingingMsg};
use logging::Logging;
use ringing::Ringing;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
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
    /// given up on (see `callcard_core::pipeline::Retries`).
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
    /// Each selected CRM once signed in and reachable (at most one message
    /// per CRM: see [`crm_channel`]).
    pub ready: mpsc::Receiver<Arc<dyn Crm>>,
}

impl WatchCrms {
    /// CRMs that are all ready now (the demo's).
    pub fn ready_now(crms: Vec<Arc<dyn Crm>>) -> Self {
        let (send, ready) = crm_channel();
        let selected = crms.iter().map(|crm| crm.account().crm).collect();
        for crm in crms {
            if send.try_send(crm).is_err() {
                tracing::warn!("more CRMs than the registry has: one is not watched");
            }
        }
        Self { selected, ready }
    }
}

/// Where a CRM is sent once it is ready.
pub type CrmSender = mpsc::Sender<Arc<dyn Crm>>;

/// Where the CRMs of a watch arrive: each CRM of the registry once, so a
/// channel of that size never makes a sender wait.
pub fn crm_channel() -> (CrmSender, mpsc::Receiver<Arc<dyn Crm>>) {
    mpsc::channel(crate::crms::CRMS.len().max(1))
}

/// `CALLCARD_CALL_GIVE_UP_SECS` (tests): one bound for every failure of a
/// call on its own, instead of the pipeline's.
pub fn call_give_up(env: &Environment) -> Option<Duration> {
    env.var("CALLCARD_CALL_GIVE_UP_SECS")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
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
    let stop = shutdown;
    // With a team hub, one computer of the company makes each write (and
    // posts each insight card): see `callcard_core::claims`.
    let look_first = hub
        .as_ref()
        .map(|hub| crate::hub_feed::LookFirst::load(service, hub));
    // This computer's id: the hub tells it from another computer on the same token.
    let computer = hub.as_ref().and_then(|_| {
        let store = service.shared_store();
        let store = store.lock().unwrap_or_else(|p| p.into_inner());
        callcard_core::claims::computer_id(&store)
            .map_err(|error| tracing::warn!(%error, "cannot read this computer's id for the team hub"))
            .ok()
    });
    let claims: Option<Arc<dyn WriteClaims>> =
        hub.as_ref()
            .zip(look_first.clone())
            .and_then(|(hub, look_first)| {
                let through_hub = crate::hub_feed::HubClaims::new(hub, computer, look_first)
                    .map_err(|error| tracing::warn!(%error, "cannot claim writes through the team hub"))
                    .ok()?;
                // A hub away for long no longer holds the logs up: the
                // rules without a hub take over until it answers again.
                let step = stagger_step.unwrap_or(callcard_core::claims::DEFAULT_STAGGER_STEP);
                let without_hub = staggered_claims(service, step)?;
                let told = service.clone();
                Some(Arc::new(callcard_core::claims::AwayFallback::new(
                    Arc::new(through_hub),
                    without_hub,
                    hub.claims_wait,
                    service.clock(),
                    move |away| {
                        if away {
                            told.set_trouble(callcard_core::Trouble::HubClaimsAway);
                        } else {
                            told.clear_trouble(&callcard_core::Trouble::HubClaimsAway);
                        }
                    },
                )) as Arc<dyn WriteClaims>)
            });
    // With a team hub, calls come from its stream (polling only while it is away).
    let mut follower = match hub.as_ref().zip(look_first) {
        Some((hub, look_first)) => {
            match HubFollower::new(service, hub, user_id, hub_fallback, look_first, computer) {
                Ok(follower) => Some(follower),
                Err(error) => {
                    tracing::warn!(%error, "cannot follow the team hub; polling Aircall");
                    None
                }
            }
        }
        None => None,
    };
    if follower.is_none() {
        service.set_call_source(callcard_core::CallSource::Polling);
    }
    let WatchCrms { selected, ready } = crms;
    slots.watching.set(Watching {
        poller: poller_config,
        crms: selected.clone(),
        default_region: settings.default_region.clone(),
    });
    let ringing = setup(Setup {
        service: service.clone(),
        client,
        pacer: poller.pacer().clone(),
        reader: poller.reader(),
        claims,
        stagger_step,
        selected,
        arriving: ready,
        call_give_up,
        logs: slots.logs.clone(),
        stop: stop.clone(),
        tasks,
    });
    loop {
        let next = async {
            match &mut follower {
                Some(follower) => follower.next_tick(service, &mut poller).await,
                None => poller.tick().await,
            }
        };
        let tick = tokio::select! {
            _ = stop.cancelled() => return,
            tick = next => tick,
        };
        match tick {
            Ok(tick) => {
                service.set_catch_up(tick.catch_up);
                let mut ended = Vec::new();
                for event in tick.events {
                    if let CallEvent::CallEnded { call_id } | CallEvent::CallElsewhere { call_id } = event {
                        ended.push(call_id);
                    }
                    service.publish_call(event);
                }
                // Waits when the cards are behind: they are what the user sees.
                let handed = ringing.send(RingingMsg::Tick {
                    ringing: tick.ringing,
                    ended,
                });
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = handed => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "polling Aircall failed; trying again shortly");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(poller.pacer().interval()) => {}
                }
            }
        }
    }
}

/// What the handlers of one watch are started with.
struct Setup<'a> {
    service: Arc<Service>,
    client: Arc<Aircall>,
    pacer: callcard_aircall::pacer::SharedPacer,
    reader: callcard_aircall::poller::CallReader,
    /// The team hub's claims, when following one.
    claims: Option<Arc<dyn WriteClaims>>,
    stagger_step: Option<Duration>,
    selected: Vec<String>,
    arriving: mpsc::Receiver<Arc<dyn Crm>>,
    call_give_up: Option<Duration>,
    logs: SharedLogs,
    stop: CancellationToken,
    tasks: &'a mut JoinSet<()>,
}

/// Starts the watch's handlers among its tasks (they end with its stop
/// token) and returns where ticks go. A tick flows: the poll → ringing
/// (cards) → a nudge to logging; an arriving CRM → CRM tasks → ringing
/// (cards of live calls) and logging (what waited for it). Each channel is
/// bounded: a handler that falls behind makes its sender wait (ringing), or
/// a nudge coalesce (logging), or a side request drop (the Aircall lane).
fn setup(setup: Setup<'_>) -> RingingHandle {
    let Setup {
        service,
        client,
        pacer,
        reader,
        claims,
        stagger_step,
        selected,
        arriving,
        call_give_up,
        logs,
        stop,
        tasks,
    } = setup;
    // Without a hub, the CRM is where the computers meet: each waits its
    // turn and looks before writing. The insight card is not staggered: it
    // only helps while the call rings.
    let write_claims = claims
        .clone()
        .or_else(|| staggered_claims(&service, stagger_step?));
    let lane = AircallLane::start(
        client.clone(),
        pacer,
        claims,
        service.clone(),
        stop.clone(),
        tasks,
    );
    let (logging, nudges) = LoggingNudge::channel();
    let (ringing, calls) = RingingHandle::channel();
    tasks.spawn(
        Logging::new(
            service.clone(),
            reader,
            lane.clone(),
            logs.clone(),
            selected,
            call_give_up,
            stop.clone(),
        )
        .run(nudges),
    );
    tasks.spawn(
        Ringing {
            service: service.clone(),
            logs: logs.clone(),
            lane,
            logging: logging.clone(),
            stop: stop.clone(),
        }
        .run(calls),
    );
    tasks.spawn(
        CrmTasks {
            service,
            client,
            claims: write_claims,
            logs,
            ringing: ringing.clone(),
            logging,
            stop,
        }
        .run(arriving),
    );
    ringing
}

/// A store change whose failure only costs a note in the log (the caller
/// says what was being done): the store's own errors are rare (a full
/// disk), and the pipeline reads its state again on the next pass.
pub(super) fn or_warn<T, E: std::fmt::Display>(result: Result<T, E>, doing: &str) {
    if let Err(error) = result {
        tracing::warn!(%error, "{doing}");
    }
}

/// Runs `work` on the store; its failure is logged with `doing` and gives
/// `None` (as [`or_warn`]).
pub(super) fn in_store<T>(
    service: &Service,
    doing: &str,
    work: impl FnOnce(&Store) -> Result<T, StoreError>,
) -> Option<T> {
    let store = service.shared_store();
    let store = store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match work(&store) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(%error, "{doing}");
            None
        }
    }
}
