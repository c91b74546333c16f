//! The Aircall lane: requests to Aircall beside watching (the insight card
//! of a live call, the caller's contact after a call), in order, each on
//! this computer's share of the company budget (the pacer, lent by the
//! poller), so that they never hold up the next poll or card.

use super::or_warn;
use callcard_aircall::pacer::SharedPacer;
use callcard_aircall::Aircall;
use callcard_core::claims::WriteClaims;
use callcard_core::crm::CrmDescriptor;
use callcard_core::phone::E164;
use callcard_core::Service;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A request to Aircall beside watching: the insight card of a live call,
/// the caller's contact after a call.
pub(super) enum SideRequest {
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

/// How many side requests may wait. A lane this far behind is many calls
/// behind on a budget of a few requests a minute: a newer request is then
/// dropped with a warning, because both kinds are worth little late (an
/// insight card only helps while the call rings; the caller's contact is
/// synced again on their next call). Logs never go through this lane.
const LANE_DEPTH: usize = 64;

/// Where side requests wait for their turn in this computer's Aircall
/// budget, so that watching never does: the next card is not held up by
/// the last call's contact sync.
#[derive(Clone)]
pub(super) struct AircallLane(mpsc::Sender<SideRequest>);

impl AircallLane {
    /// Starts the lane's handler among the watch's tasks.
    pub(super) fn start(
        client: Arc<Aircall>,
        pacer: SharedPacer,
        claims: Option<Arc<dyn WriteClaims>>,
        service: Arc<Service>,
        stop: CancellationToken,
        tasks: &mut JoinSet<()>,
    ) -> Self {
        let (send, receive) = mpsc::channel(LANE_DEPTH);
        tasks.spawn(side_requests(receive, client, pacer, claims, service, stop));
        Self(send)
    }

    pub(super) fn send(&self, request: SideRequest) {
        match self.0.try_send(request) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("the Aircall lane is full: this insight card or contact sync is dropped")
            }
            // Closed only once the watch stops: nothing more to ask then.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// Works through the side requests in order, each on the shared budget.
async fn side_requests(
    mut requests: mpsc::Receiver<SideRequest>,
    client: Arc<Aircall>,
    pacer: SharedPacer,
    claims: Option<Arc<dyn WriteClaims>>,
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
                                    or_warn(
                                        store.mark_card_posted(call_id),
                                        "cannot note the insight card as posted",
                                    );
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
                                or_warn(
                                    store.mark_card_posted(call_id),
                                    "cannot note the insight card as posted",
                                );
                            }
                            if let Some(claims) = &claims {
                                let posted = callcard_core::crm::RemoteRef {
                                    id: format!("insight_card:{call_id}"),
                                    link: None,
                                };
                                // Unreported, the claim lapses and another computer may
                                // post a second card: a nuisance, not a lost log.
                                or_warn(
                                    claims.written(&key, &posted).await,
                                    "cannot tell the hub the insight card is posted",
                                );
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
                                let mapped = store.map_contact(
                                    &account,
                                    &number,
                                    &best.record,
                                    synced.contact_id(),
                                    now,
                                );
                                or_warn(mapped, "cannot remember the Aircall contact made for this number");
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
