//! Calls from the team hub: the stream of this user's webhook events moves
//! the tracker on as polling would, without a request to Aircall. When the
//! hub cannot be reached for more than a minute, polling takes over (from
//! when the hub was last heard) and the tray says so; once the hub answers
//! again its stream resumes after the last event seen and the log's
//! missed events come first. Whichever path sees a call, its outbox keys
//! are the same, so nothing is written twice.

use crate::hub_account::HubConnection;
use callcard_aircall::hub::{HubClient, HubError, HubStream};
use callcard_aircall::poller::{PollError, Tick};
use callcard_aircall::Poller;
use callcard_core::{CallSource, Service, Trouble};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long the hub may be away before polling takes over.
pub const FALLBACK_AFTER: Duration = Duration::from_secs(60);
/// The hub sends a keep-alive every 15 s: this long without a byte means
/// the connection is gone (a laptop that slept, a network that changed).
const SILENCE: Duration = Duration::from_secs(45);
/// How often time alone moves calls on (settle delays, AI waits).
const TIMER: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A stream that held this long was a good connection: its end is retried
/// at once and the back-off starts over.
const STEADY_STREAM: Duration = Duration::from_secs(10);

/// `CALLCARD_HUB_FALLBACK_SECS` (tests: a minute is long to wait).
pub fn fallback_after(env: &crate::environment::Environment) -> Duration {
    env.var("CALLCARD_HUB_FALLBACK_SECS")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(FALLBACK_AFTER)
}

pub struct HubFollower {
    client: HubClient,
    stream: Option<HubStream>,
    /// The checkpoint holding the last event seen (per hub and user).
    checkpoint: String,
    /// Events about calls from before this computer first followed the hub
    /// are not this installation's to log (as a first poll reads from now).
    since_s: i64,
    /// When the hub was last heard (Unix ms), for polling to start from.
    last_heard_ms: i64,
    /// When the connection was lost; `None` while connected.
    lost_at: Option<Instant>,
    polling: bool,
    fallback_after: Duration,
    next_attempt: Instant,
    backoff: Duration,
    next_timer: Instant,
    refused: bool,
    /// When the current stream connected; `None` while there is none.
    connected_at: Option<Instant>,
}

impl HubFollower {
    pub fn new(
        service: &Service,
        connection: &HubConnection,
        user_id: i64,
        fallback_after: Duration,
    ) -> Result<Self, HubError> {
        let client = HubClient::new(&connection.url, &connection.token)?;
        let checkpoint = format!("hub_seq:{}:{user_id}", client.base());
        let since = format!("hub_since:{}:{user_id}", client.base());
        let now_ms = service.clock().now_ms();
        let store = service.shared_store();
        let since_s = {
            let store = store.lock().unwrap_or_else(|p| p.into_inner());
            match store.checkpoint(&since).ok().flatten() {
                Some(since_s) => since_s,
                None => {
                    let _ = store.set_checkpoint(&since, now_ms / 1000);
                    now_ms / 1000
                }
            }
        };
        let now = Instant::now();
        Ok(Self {
            client,
            stream: None,
            checkpoint,
            since_s,
            last_heard_ms: now_ms,
            lost_at: Some(now),
            polling: false,
            fallback_after,
            next_attempt: now,
            backoff: Duration::from_secs(1),
            next_timer: now,
            refused: false,
            connected_at: None,
        })
    }

    fn last_seq(&self, service: &Service) -> i64 {
        let store = service.shared_store();
        let store = store.lock().unwrap_or_else(|p| p.into_inner());
        store.checkpoint(&self.checkpoint).ok().flatten().unwrap_or(0)
    }

    /// The next batch of what happened: events from the hub's stream (or,
    /// while it is away for long, a poll of Aircall), or what time moved on.
    pub async fn next_tick(
        &mut self,
        service: &Arc<Service>,
        poller: &mut Poller,
    ) -> Result<Tick, PollError> {
        loop {
            if self.stream.is_none() && Instant::now() >= self.next_attempt {
                self.connect(service, poller).await;
            }
            if let Some(stream) = &mut self.stream {
                tokio::select! {
                    next = stream.next(SILENCE) => match next {
                        Ok(Some(event)) => {
                            self.last_heard_ms = service.clock().now_ms();
                            // A call from before this computer followed the hub
                            // is not logged (its AI results neither).
                            let old = event.timestamp > 0 && event.timestamp < self.since_s - 60;
                            let observed = if old { Ok(Tick::default()) } else { poller.observe_pushed(&event) };
                            let kept = observed.and_then(|tick| {
                                let store = service.shared_store();
                                let store = store.lock().unwrap_or_else(|p| p.into_inner());
                                store.set_checkpoint(&self.checkpoint, event.seq)?;
                                Ok(tick)
                            });
                            if let Err(error) = &kept {
                                // The stream has moved past this event: drop it
                                // and resume from the last event kept, so that
                                // this one (an SMS, say) comes again.
                                self.lost(service, &format!("an event could not be kept ({error})"));
                            }
                            return kept;
                        }
                        Ok(None) => self.lost(service, "the team hub closed the stream"),
                        Err(error) => self.lost(service, &error.to_string()),
                    },
                    _ = tokio::time::sleep_until(self.next_timer) => {
                        self.next_timer = Instant::now() + TIMER;
                        return poller.pushed_tick();
                    }
                }
                continue;
            }
            if !self.polling && self.lost_at.is_some_and(|at| at.elapsed() >= self.fallback_after) {
                self.polling = true;
                poller.follow_pushed(false);
                poller.poll_from(self.last_heard_ms / 1000 - 60)?;
                service.set_call_source(CallSource::PollingUntilHubIsBack);
                service.set_trouble(Trouble::HubLost);
                tracing::warn!("the team hub has been away too long: polling Aircall until it is back");
            }
            if self.polling {
                // A poll, then the next connection attempt when it is due.
                return poller.tick().await;
            }
            // Briefly away: time still moves calls on; the next attempt soon.
            let until = self.next_attempt.min(self.next_timer);
            tokio::time::sleep_until(until).await;
            if Instant::now() >= self.next_timer {
                self.next_timer = Instant::now() + TIMER;
                return poller.pushed_tick();
            }
        }
    }

    async fn connect(&mut self, service: &Arc<Service>, poller: &mut Poller) {
        let after = self.last_seq(service);
        match tokio::time::timeout(Duration::from_secs(15), self.client.stream(after)).await {
            Ok(Ok(stream)) => {
                tracing::info!(hub = %self.client.base(), after, "following the team hub");
                self.stream = Some(stream);
                self.lost_at = None;
                // The back-off starts over once the stream has held a
                // while (see `lost`), not as soon as it connects.
                self.connected_at = Some(Instant::now());
                self.last_heard_ms = service.clock().now_ms();
                poller.follow_pushed(true);
                if self.polling {
                    tracing::info!("the team hub is back: its log fills in what polling did not see");
                    self.polling = false;
                    service.clear_trouble(&Trouble::HubLost);
                }
                if self.refused {
                    self.refused = false;
                    service.clear_trouble(&Trouble::HubRefused);
                }
                service.set_call_source(CallSource::Hub);
            }
            Ok(Err(error)) => {
                if matches!(error, HubError::Refused) && !self.refused {
                    self.refused = true;
                    service.set_trouble(Trouble::HubRefused);
                }
                self.retry_later(&error.to_string());
            }
            Err(_) => self.retry_later("no answer within 15 s"),
        }
    }

    fn lost(&mut self, service: &Service, why: &str) {
        self.stream = None;
        self.lost_at = Some(Instant::now());
        self.last_heard_ms = service.clock().now_ms();
        // A stream that ends at once after connecting (a hub refusing it
        // after the handshake, a proxy cutting it) is retried with the
        // back-off, not in a tight loop.
        let short_lived = self.connected_at.is_some_and(|at| at.elapsed() < STEADY_STREAM);
        if short_lived {
            tracing::warn!(why, retry_in = ?self.backoff, "lost the team hub right after connecting");
            self.next_attempt = Instant::now() + self.backoff;
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        } else {
            tracing::warn!(why, "lost the team hub; connecting again");
            self.next_attempt = Instant::now();
            self.backoff = Duration::from_secs(1);
        }
        self.connected_at = None;
    }

    fn retry_later(&mut self, why: &str) {
        tracing::warn!(hub = %self.client.base(), why, retry_in = ?self.backoff, "cannot reach the team hub");
        if self.lost_at.is_none() {
            self.lost_at = Some(Instant::now());
        }
        self.next_attempt = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

/// Claims through the team hub: which of the computers following a call
/// writes it (see `callcard_core::claims`).
pub struct HubClaims {
    client: HubClient,
    lease: Duration,
}

impl HubClaims {
    /// `computer`: this computer's id, so that the hub tells it from
    /// another computer on the same token.
    pub fn new(connection: &HubConnection, computer: Option<i64>) -> Result<Self, HubError> {
        let client = HubClient::new(&connection.url, &connection.token)?;
        Ok(Self {
            client: match computer {
                Some(computer) => client.on_computer(computer),
                None => client,
            },
            lease: connection.claim_lease,
        })
    }
}

#[async_trait::async_trait]
impl callcard_core::claims::WriteClaims for HubClaims {
    async fn claim(&self, key: &str) -> Result<callcard_core::claims::Claim, String> {
        self.client
            .claim(key, self.lease)
            .await
            .map_err(|e| e.to_string())
    }

    async fn written(&self, key: &str, remote: &callcard_core::crm::RemoteRef) -> Result<(), String> {
        self.client
            .claim_written(key, remote)
            .await
            .map_err(|e| e.to_string())
    }
}
