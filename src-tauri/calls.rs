//! Watching calls: resolves who is at this computer, then polls Aircall
//! within the budget and puts the tracker's events on the service channel.
//! With a CRM connected it also finds the caller of a ringing call (the
//! card, the insight card, contact sync) and hands final calls to the call
//! log, whose outbox a dispatcher drains.

use crate::connection::AircallConnection;
use callcard_aircall::model::Call;
use callcard_aircall::{Aircall, Poller, PollerConfig};
use callcard_core::call_log::{CallLog, CallLogError};
use callcard_core::crm::{Crm, CrmError};
use callcard_core::dispatcher::{Dispatcher, RetryPolicy};
use callcard_core::phone::{parse_raw_digits, Caller, E164};
use callcard_core::tracker::CallEvent;
use callcard_core::Service;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, OnceCell};

/// What to watch calls with.
pub struct Watch {
    pub connection: AircallConnection,
    /// The CRM calls are looked up in and logged to, when one is connected.
    pub crm: Option<Arc<dyn Crm>>,
    /// The demo shortens the settle delay so notes land while one watches.
    pub settle_ms_override: Option<i64>,
    /// The demo's sandbox is the demo's own: it may use all of its limit.
    pub budget_override: Option<u32>,
    /// How long after a "not yet" Aircall is asked again for a call's AI data.
    pub ai_retry: Duration,
    /// Ends watching: the app's shutdown, or the demo being stopped.
    pub stop: tokio_util::sync::CancellationToken,
}

impl Watch {
    /// `CALLCARD_AI_RETRY_SECS` (tests, impatient demos); two minutes otherwise.
    pub fn ai_retry_from_env() -> Duration {
        std::env::var("CALLCARD_AI_RETRY_SECS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(120))
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

pub type SharedSession = Arc<OnceCell<AircallSession>>;

/// Runs until the service shuts down.
pub async fn watch(service: Arc<Service>, watch: Watch, session: SharedSession) {
    let Watch {
        connection,
        crm,
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
    let mut poller = Poller::new(client, service.shared_store(), service.clock(), config);
    let wake = service.outbox_wake();
    let call_log = crm.map(|crm| {
        // This start may follow a new sign-in: what waited for it goes now.
        if let Ok(store) = service.shared_store().lock() {
            let _ = store.retry_waiting_for_login(service.clock().now_ms());
        }
        let dispatcher = Dispatcher::new(
            service.shared_store(),
            crm.clone(),
            service.clock(),
            RetryPolicy::default(),
            None,
        );
        service.spawn(dispatcher.run(wake.clone(), shutdown.clone(), Duration::from_secs(30)));
        Arc::new(CallLog::new(service.shared_store(), crm))
    });
    if let Some(log) = &call_log {
        service.spawn(keep_index_fresh(log.clone(), service.clone(), shutdown.clone()));
    }
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
                if let Some(log) = &call_log {
                    let work = async {
                        for call in &tick.ringing {
                            show_caller(&service, &mut poller, log, call).await;
                        }
                        if tokio::time::Instant::now() >= log_not_before
                            && !log_finished_calls(&service, &mut poller, log, &wake).await
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

/// A ringing call: the caller's card (the window opens on `card_ready`),
/// the same card in Aircall while the call is live, and the caller's
/// Aircall contact brought in step with the CRM.
async fn show_caller(service: &Arc<Service>, poller: &mut Poller, log: &CallLog, call: &Call) {
    let Some(number) = other_party(call) else {
        return;
    };
    let direction = match call.direction {
        callcard_aircall::model::Direction::Outbound => "outbound",
        _ => "inbound",
    };
    let card = match log
        .card_for(call.id, &number, direction, service.clock().now_ms())
        .await
    {
        Ok(card) => card,
        Err(error) => {
            tracing::warn!(call_id = call.id, %error, "cannot find the caller");
            return;
        }
    };
    service.publish_call(CallEvent::CardReady { call_id: call.id });
    if card.from_index {
        // Shown at once from the index; the live search may add to it.
        if let Err(error) = log
            .complete_card(call.id, &number, service.clock().now_ms())
            .await
        {
            tracing::debug!(call_id = call.id, %error, "the live search could not complete the card");
        }
    }
    let best = card
        .chosen
        .as_ref()
        .and_then(|c| card.matches.iter().find(|m| &m.record == c))
        .or(card.matches.first())
        .cloned();
    let Some(best) = best else {
        return;
    };
    let store = service.shared_store();
    let wants = store
        .lock()
        .map(|s| s.wants_card(call.id).unwrap_or(false))
        .unwrap_or(false);
    if wants {
        poller.wait_turn().await;
        let contents = callcard_aircall::insight::card_contents(&best, None);
        match poller.client().post_insight_card(call.id, &contents).await {
            Ok(()) => {
                if let Ok(store) = store.lock() {
                    let _ = store.mark_card_posted(call.id);
                }
            }
            Err(error) => tracing::warn!(call_id = call.id, %error, "cannot post the insight card"),
        }
    }
    let settings = service.settings().unwrap_or_default();
    let account = log.crm().account();
    if settings.contact_sync.jobadder_to_aircall && account.crm == "jobadder" {
        // Two requests (search, then create or update) on the poller's budget.
        poller.wait_turn().await;
        poller.wait_turn().await;
        match callcard_aircall::contacts::sync_contact(poller.client(), "JobAdder", &best, &number).await {
            Ok(synced) => {
                if let Ok(store) = store.lock() {
                    let now = service.clock().now_ms();
                    let _ = store.map_contact(&account, &number, &best.record, synced.contact_id(), now);
                }
                tracing::info!(
                    call_id = call.id,
                    ?synced,
                    "Aircall contact in step with JobAdder"
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
    log: &CallLog,
    wake: &Notify,
) -> bool {
    let store = service.shared_store();
    let finals = store
        .lock()
        .map(|s| s.finals_to_log().unwrap_or_default())
        .unwrap_or_default();
    for call_id in finals {
        let settings = service.settings().unwrap_or_default();
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
        match log
            .log_final(
                &final_call,
                other_party(&call).as_ref(),
                &settings,
                service.clock().now_ms(),
            )
            .await
        {
            Ok(writes) => {
                tracing::info!(call_id, writes, "call log queued");
                wake.notify_one();
            }
            Err(error) => {
                tracing::warn!(call_id, %error, "cannot log the call yet");
                if matches!(error, CallLogError::Crm(CrmError::NeedsReconnect(_))) {
                    service.set_trouble(&reconnect_message(log));
                }
                return false;
            }
        }
    }
    let ai_ready = store
        .lock()
        .map(|s| s.ai_to_log().unwrap_or_default())
        .unwrap_or_default();
    for call_id in ai_ready {
        let settings = service.settings().unwrap_or_default();
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
        match log
            .log_ai(
                &final_call,
                other_party(&call).as_ref(),
                &settings,
                service.clock().now_ms(),
            )
            .await
        {
            Ok(updates) => {
                tracing::info!(call_id, updates, "AI update queued");
                wake.notify_one();
            }
            Err(error) => {
                tracing::warn!(call_id, %error, "cannot queue the AI update yet");
                return false;
            }
        }
    }
    true
}

/// How often the local phone index asks the CRM for its changes.
const INDEX_REFRESH: Duration = Duration::from_secs(10 * 60);

/// Fills the phone index at start (everything the first time, then the
/// changes since the last refresh) and keeps it fresh.
async fn keep_index_fresh(
    log: Arc<CallLog>,
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
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(INDEX_REFRESH) => {}
        }
    }
}

/// The tray's status when the CRM's login must be renewed.
fn reconnect_message(log: &CallLog) -> String {
    match log.crm().account().crm.as_str() {
        "jobadder" => "Reconnect JobAdder".to_owned(),
        "sellsy" => "Reconnect Sellsy".to_owned(),
        other => format!("Reconnect {other}"),
    }
}
