//! Ringing: who the other party of a call is, in each CRM, while it rings
//! (the card, the card window, Aircall's insight card) or after the fact
//! (a call caught up, or one that rang while a CRM was not ready); and the
//! caller's Aircall contact, brought in step once the call is over.

use super::aircall_lane::{AircallLane, SideRequest};
use super::handlers::{LoggingNudge, RingingMsg};
use crate::connected::SharedLogs;
use crate::crms::descriptor as descriptor_of;
use callcard_aircall::calls::RingingCall;
use callcard_core::call_log::CallLog;
use callcard_core::crm::ContactSyncMode;
use callcard_core::tracker::CallEvent;
use callcard_core::Service;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The ringing handler: what it needs beside its messages.
pub(super) struct Ringing {
    pub service: Arc<Service>,
    pub logs: SharedLogs,
    pub lane: AircallLane,
    pub logging: LoggingNudge,
    pub stop: CancellationToken,
}

impl Ringing {
    pub(super) async fn run(self, mut messages: mpsc::Receiver<RingingMsg>) {
        // The calls live now, for a CRM that becomes ready while they are.
        let mut live: HashMap<i64, RingingCall> = HashMap::new();
        loop {
            let message = tokio::select! {
                _ = self.stop.cancelled() => return,
                message = messages.recv() => match message {
                    Some(message) => message,
                    None => return,
                },
            };
            let work = async {
                match message {
                    RingingMsg::Tick { ringing, ended } => {
                        for call in &ringing {
                            live.insert(call.id, call.clone());
                        }
                        for call_id in &ended {
                            live.remove(call_id);
                        }
                        let logs = self.logs.get().map(|l| l.to_vec()).unwrap_or_default();
                        for call in &ringing {
                            identify_caller(&self.service, &self.lane, &logs, call, Moment::Live).await;
                        }
                        // The tick's cards first, then what it finished.
                        self.logging.nudge();
                    }
                    RingingMsg::CrmJoined(log) => {
                        let joined = [log];
                        for call in live.values() {
                            identify_caller(&self.service, &self.lane, &joined, call, Moment::Live).await;
                        }
                    }
                }
            };
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = work => {}
            }
        }
    }
}

/// When a caller is identified: while the call rings here, or after the
/// fact (a call caught up after an absence, or one that rang while a CRM
/// was not ready).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Moment {
    Live,
    AfterTheFact,
}

/// Who the other party is, in each CRM: the card (completed by the live
/// search: the company, the open opportunity) and — while the call is live
/// — the card window and Aircall's insight card. A call caught up later
/// gets the same card, without the windows.
pub(super) async fn identify_caller(
    service: &Arc<Service>,
    side: &AircallLane,
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
            Ok(Some(completed)) => {
                *card = completed;
                service.cards_changed(call.id);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(call_id = call.id, %error, "the live search could not complete the card")
            }
        }
    }
    let best = cards.iter().find_map(|(_, card)| card.best_record().cloned());
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

/// The caller's Aircall contact brought in step with the first CRM (in the
/// registry's order) that syncs on each call and has them on the call's
/// card. Done once the call is over: it serves the next calls, and spends
/// no request while a call rings.
pub(super) async fn sync_caller_contact(
    service: &Arc<Service>,
    side: &AircallLane,
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
        let best = card.best_record()?.clone();
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
