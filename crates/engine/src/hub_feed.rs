//! Calls from the team hub: the stream of this user's webhook events moves
//! the tracker on as polling would, without a request to Aircall. When the
//! hub cannot be reached for more than a minute, polling takes over (from
//! when the hub was last heard) and the tray says so; once the hub answers
//! again its stream resumes after the last event seen and the log's
//! missed events come first. Whichever path sees a call, its outbox keys
//! are the same, so nothing is written twice.
//!
//! The hub names its log (see `callcard_hub_contract::paths::LOG_ID`). A
//! hub whose database was reset or restored from a backup answers with
//! another name, or with a log that ends before this computer's
//! checkpoint: its numbers are not the ones counted. The follower then
//! reads the new log from its start, passing over what the hub received
//! before this computer last heard it (seen already, in the old log),
//! catches the gap up from Aircall once, and for a day has every claimed
//! write looked up in the CRM first, since the new log's claims may have
//! forgotten writes that were made. The tray says so.

use crate::hub_account::HubConnection;
use callcard_aircall::hub::{HubClient, HubError, HubStream, LogMark};
use callcard_aircall::poller::{PollError, Tick};
use callcard_aircall::Poller;
use callcard_core::clock::Clock;
use callcard_core::{CallSource, Service, Trouble};
use std::sync::atomic::{AtomicI64, Ordering};
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
/// How long after a new log every claimed write is looked up first: longer
/// than any claim lease and than a call's last write (its AI update).
const LOOK_FIRST_FOR_MS: i64 = 24 * 3_600_000;

/// A log's identity as a checkpoint's number: the hub's 64 bits of hex, or
/// (another hub's longer name) their FNV-1a hash.
fn log_number(id: &str) -> i64 {
    match u64::from_str_radix(id, 16) {
        Ok(n) if id.len() <= 16 => n as i64,
        _ => id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }) as i64,
    }
}

/// Until when every write the hub grants is looked up in the CRM first (see
/// the module's comment), shared by the follower that finds a new log and
/// the claims, and kept in the store so that a restart keeps it.
#[derive(Clone)]
pub struct LookFirst {
    until_ms: Arc<AtomicI64>,
    key: String,
    clock: Arc<dyn Clock>,
}

impl LookFirst {
    pub fn load(service: &Service, connection: &HubConnection) -> Self {
        let base = connection.url.trim().trim_end_matches('/');
        let key = format!("hub_look_first_until:{base}");
        let until = {
            let store = service.shared_store();
            let store = store.lock().unwrap_or_else(|p| p.into_inner());
            store.checkpoint(&key).ok().flatten().unwrap_or(0)
        };
        Self {
            until_ms: Arc::new(AtomicI64::new(until)),
            key,
            clock: service.clock(),
        }
    }

    fn begin(&self, service: &Service) {
        let until = self.clock.now_ms() + LOOK_FIRST_FOR_MS;
        self.until_ms.store(until, Ordering::Relaxed);
        let store = service.shared_store();
        let store = store.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(error) = store.set_checkpoint(&self.key, until) {
            tracing::warn!(%error, "cannot keep how long writes are looked up first (until a restart)");
        }
    }

    pub fn active(&self) -> bool {
        self.clock.now_ms() < self.until_ms.load(Ordering::Relaxed)
    }
}

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
    /// The checkpoint naming the log `checkpoint` counts in (see [`log_number`]).
    log_key: String,
    /// When the hub received the last event kept (the hub's Unix ms).
    heard_key: String,
    /// Events the hub received up to this time (its Unix ms) were seen in
    /// a log before the one followed now: passed over (see the module).
    replay_key: String,
    replay_before_ms: i64,
    /// After a new log: where the one catch-up poll of Aircall starts (Unix s).
    catch_up_from_s: Option<i64>,
    look_first: LookFirst,
    /// The tray shows [`Trouble::HubLogReplaced`] (until the look-first day ends).
    told_replaced: bool,
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
        look_first: LookFirst,
        computer: Option<i64>,
    ) -> Result<Self, HubError> {
        let client = HubClient::new(&connection.url, &connection.token)?;
        // The hub refuses one token streaming from two computers at once.
        let client = match computer {
            Some(computer) => client.on_computer(computer),
            None => client,
        };
        let checkpoint = format!("hub_seq:{}:{user_id}", client.base());
        let since = format!("hub_since:{}:{user_id}", client.base());
        let log_key = format!("hub_log:{}:{user_id}", client.base());
        let heard_key = format!("hub_heard:{}:{user_id}", client.base());
        let replay_key = format!("hub_replay_before:{}:{user_id}", client.base());
        let now_ms = service.clock().now_ms();
        let store = service.shared_store();
        let (since_s, replay_before_ms) = {
            let store = store.lock().unwrap_or_else(|p| p.into_inner());
            let since_s = match store.checkpoint(&since).ok().flatten() {
                Some(since_s) => since_s,
                None => {
                    let _ = store.set_checkpoint(&since, now_ms / 1000);
                    now_ms / 1000
                }
            };
            (since_s, store.checkpoint(&replay_key).ok().flatten().unwrap_or(0))
        };
        // Still within a day of a new log (this computer restarted).
        let told_replaced = look_first.active();
        if told_replaced {
            service.set_trouble(Trouble::HubLogReplaced);
        }
        let now = Instant::now();
        Ok(Self {
            client,
            stream: None,
            checkpoint,
            log_key,
            heard_key,
            replay_key,
            replay_before_ms,
            catch_up_from_s: None,
            look_first,
            told_replaced,
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
            if self.stream.is_some() {
                if let Some(from) = self.catch_up_from_s.take() {
                    return self.catch_up(poller, from).await;
                }
            }
            if let Some(stream) = &mut self.stream {
                tokio::select! {
                    next = stream.next(SILENCE) => match next {
                        Ok(Some(event)) => {
                            self.last_heard_ms = service.clock().now_ms();
                            // A call from before this computer followed the hub
                            // is not logged (its AI results neither).
                            let old = event.timestamp > 0 && event.timestamp < self.since_s - 60;
                            // Seen already, in the log before this one.
                            let seen = event.received_ms > 0 && event.received_ms <= self.replay_before_ms;
                            let observed = if old || seen { Ok(Tick::default()) } else { poller.observe_pushed(&event) };
                            let kept = observed.and_then(|tick| {
                                let store = service.shared_store();
                                let store = store.lock().unwrap_or_else(|p| p.into_inner());
                                store.set_checkpoint(&self.checkpoint, event.seq)?;
                                if event.received_ms > 0 {
                                    store.set_checkpoint(&self.heard_key, event.received_ms)?;
                                }
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
                        if self.told_replaced && !self.look_first.active() {
                            self.told_replaced = false;
                            service.clear_trouble(&Trouble::HubLogReplaced);
                        }
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
                match self.another_log(service, stream.log(), after) {
                    Ok(false) => {}
                    Ok(true) => {
                        // Opened after a number of the old log: open it
                        // again from the new log's start.
                        self.next_attempt = Instant::now();
                        return;
                    }
                    Err(error) => {
                        self.retry_later(&format!("cannot note the team hub's new log ({error})"));
                        return;
                    }
                }
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
                if matches!(error, HubError::Refused | HubError::InUseElsewhere(_)) && !self.refused {
                    self.refused = true;
                    service.set_trouble(Trouble::HubRefused);
                }
                self.retry_later(&error.to_string());
            }
            Err(_) => self.retry_later("no answer within 15 s"),
        }
    }

    /// Whether the stream just opened follows another log than the one this
    /// computer's checkpoint counts in; if so, the follower is set to read
    /// the new log from its start (see the module's comment).
    fn another_log(
        &mut self,
        service: &Service,
        mark: Option<&LogMark>,
        after: i64,
    ) -> Result<bool, callcard_core::store::StoreError> {
        let Some(mark) = mark else {
            // A hub from before log identities: nothing to compare.
            return Ok(false);
        };
        let number = log_number(&mark.id);
        let store = service.shared_store();
        let store = store.lock().unwrap_or_else(|p| p.into_inner());
        let known = store.checkpoint(&self.log_key)?;
        let another = known.is_some_and(|known| known != number) || after > mark.end;
        if !another {
            if known.is_none() {
                store.set_checkpoint(&self.log_key, number)?;
            }
            return Ok(false);
        }
        let heard_ms = store.checkpoint(&self.heard_key)?.unwrap_or(self.last_heard_ms);
        // In this order: a crash between them finds the new log again and
        // does the same (nothing was kept from it yet).
        store.set_checkpoint(&self.replay_key, heard_ms)?;
        store.set_checkpoint(&self.checkpoint, 0)?;
        store.set_checkpoint(&self.log_key, number)?;
        drop(store);
        tracing::warn!(
            hub = %self.client.base(),
            log = %mark.id,
            log_end = mark.end,
            checkpoint = after,
            "the team hub's log was reset or restored: reading the new log from its start, \
             catching up from Aircall, and looking writes up in the CRM first for a day"
        );
        self.replay_before_ms = heard_ms;
        self.catch_up_from_s = Some(heard_ms / 1000 - 60);
        self.look_first.begin(service);
        self.told_replaced = true;
        service.set_trouble(Trouble::HubLogReplaced);
        Ok(true)
    }

    /// One poll of Aircall from `from_s`: the calls the hub may not have
    /// had while its log was replaced.
    async fn catch_up(&mut self, poller: &mut Poller, from_s: i64) -> Result<Tick, PollError> {
        tracing::info!(from_s, "catching up from Aircall after the team hub's new log");
        poller.follow_pushed(false);
        let tick = match poller.poll_from(from_s) {
            Ok(()) => poller.tick().await,
            Err(error) => Err(error),
        };
        poller.follow_pushed(true);
        tick
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
    look_first: LookFirst,
}

impl HubClaims {
    /// `computer`: this computer's id, so that the hub tells it from
    /// another computer on the same token.
    pub fn new(
        connection: &HubConnection,
        computer: Option<i64>,
        look_first: LookFirst,
    ) -> Result<Self, HubError> {
        let client = HubClient::new(&connection.url, &connection.token)?;
        Ok(Self {
            client: match computer {
                Some(computer) => client.on_computer(computer),
                None => client,
            },
            lease: connection.claim_lease,
            look_first,
        })
    }
}

#[async_trait::async_trait]
impl callcard_core::claims::WriteClaims for HubClaims {
    async fn claim(&self, key: &str) -> Result<callcard_core::claims::Claim, String> {
        use callcard_core::claims::Claim;
        let claim = self
            .client
            .claim(key, self.lease)
            .await
            .map_err(|e| e.to_string())?;
        Ok(match claim {
            // The hub's log is new: it may grant a write that was made.
            Claim::Granted { taken_over: false } if self.look_first.active() => {
                Claim::Granted { taken_over: true }
            }
            other => other,
        })
    }

    async fn written(&self, key: &str, remote: &callcard_core::crm::RemoteRef) -> Result<(), String> {
        self.client
            .claim_written(key, remote)
            .await
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::log_number;

    #[test]
    fn a_logs_identity_is_one_number_and_two_identities_are_two() {
        assert_eq!(log_number("00000000000000ff"), 255);
        assert_eq!(log_number("ffffffffffffffff"), -1, "all 64 bits");
        assert_ne!(log_number("5ee81bf0d3251d50"), log_number("5ee81bf0d3251d51"));
        // Another hub's longer name is hashed, not refused.
        let long = "a-log-made-by-another-hub-0001";
        assert_eq!(log_number(long), log_number(long));
        assert_ne!(log_number(long), log_number("a-log-made-by-another-hub-0002"));
    }
}
