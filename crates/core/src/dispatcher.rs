//! The dispatcher: takes due items from the outbox and writes them through a
//! CRM, one CRM account per dispatcher. It retries with exponential backoff
//! and jitter, honours `Retry-After` and the CRM's quota hints through a
//! per-CRM rate limiter, checks by reference before writing again after an
//! ambiguous failure, and parks an item after too many failures.

use crate::claims::{claim_key, Claim, WriteClaims};
use crate::clock::Clock;
use crate::crm::{Crm, CrmError, RemoteRef, Write};
use crate::outbox::{ItemKind, OutboxItem, Retry};
use crate::store::{Store, StoreError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// ± this fraction of the delay, so many clients do not retry in step.
    pub jitter: f64,
    /// Failed attempts (not counting rate limits and logins) before parking.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(15 * 60),
            jitter: 0.2,
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempts + 1`, with `unit` in [0, 1) as the jitter's draw.
    pub fn delay(&self, attempts: u32, unit: f64) -> Duration {
        let exponent = attempts.saturating_sub(1).min(20);
        let base = self.first_delay.as_secs_f64() * 2f64.powi(exponent as i32);
        let capped = base.min(self.max_delay.as_secs_f64());
        let jittered = capped * (1.0 + self.jitter * (2.0 * unit - 1.0));
        Duration::from_secs_f64(jittered.max(0.0))
    }
}

/// Paces requests to one CRM: at most `per_second` on average, and nothing at
/// all until a pause (429, spent quota) is over.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Option<Duration>,
    next_free: Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(per_second: Option<f64>) -> Self {
        Self {
            interval: per_second
                .filter(|r| *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            next_free: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this request's turn.
    pub async fn acquire(&self) {
        let turn = {
            let mut next = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let turn = (*next).max(now);
            *next = turn + self.interval.unwrap_or_default();
            turn
        };
        tokio::time::sleep_until(turn).await;
    }

    /// Nothing goes out for `duration` from now.
    pub fn pause(&self, duration: Duration) {
        let mut next = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
        *next = (*next).max(Instant::now() + duration);
    }
}

/// What happened to one item, for logs, events and tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Written(RemoteRef),
    /// Found by reference: an earlier attempt had written it.
    AlreadyThere(RemoteRef),
    Retry(Retry),
    Parked(String),
}

pub struct Dispatcher {
    store: Arc<Mutex<Store>>,
    crm: Arc<dyn Crm>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    limiter: RateLimiter,
    batch: u32,
    /// Told after each batch that changed items (the history window follows).
    on_change: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Who makes a write among the computers following the same calls.
    claims: Option<Arc<dyn WriteClaims>>,
}

/// How long a write waits before asking again when the claims cannot be
/// asked (the team hub is away): it waits rather than risk a second copy.
const CLAIMS_AWAY_RETRY: Duration = Duration::from_secs(30);

impl Dispatcher {
    pub fn new(
        store: Arc<Mutex<Store>>,
        crm: Arc<dyn Crm>,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
        per_second: Option<f64>,
    ) -> Self {
        Self {
            store,
            crm,
            clock,
            policy,
            limiter: RateLimiter::new(per_second),
            batch: 20,
            on_change: None,
            claims: None,
        }
    }

    /// Claims each creating write from `claims` first (see [`crate::claims`]).
    pub fn with_claims(mut self, claims: Arc<dyn WriteClaims>) -> Self {
        self.claims = Some(claims);
        self
    }

    /// A wait that is nobody's fault: not counted towards parking the item.
    fn wait(&self, delay: Duration, why: String) -> Outcome {
        Outcome::Retry(Retry {
            error: why,
            next_attempt_ms: self.clock.now_ms() + delay.as_millis() as i64,
            needs_check: false,
            counts: false,
            waits_for_login: false,
        })
    }

    /// Calls `on_change` after every batch of items written, retried or parked.
    pub fn on_change(mut self, on_change: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_change = Some(Arc::new(on_change));
        self
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Processes every item due now; returns what happened to each.
    pub async fn run_once(&self) -> Result<Vec<(i64, Outcome)>, StoreError> {
        let account = self.crm.account();
        let items =
            self.store()
                .claim_due(&account.crm, &account.account, self.clock.now_ms(), self.batch)?;
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            let outcome = self.process(&item).await;
            let now = self.clock.now_ms();
            {
                let store = self.store();
                match &outcome {
                    Outcome::Written(remote) | Outcome::AlreadyThere(remote) => {
                        store.mark_done(item.id, remote, now)?
                    }
                    Outcome::Retry(retry) => store.mark_retry(item.id, retry, now)?,
                    Outcome::Parked(error) => store.mark_failed(item.id, error, now)?,
                }
            }
            match &outcome {
                Outcome::Parked(error) => {
                    tracing::warn!(id = item.id, call = %item.key.call_id, %error, "outbox item parked")
                }
                Outcome::Retry(retry) => {
                    tracing::info!(id = item.id, error = %retry.error, "outbox item will be retried")
                }
                _ => tracing::debug!(id = item.id, "outbox item written"),
            }
            outcomes.push((item.id, outcome));
        }
        Ok(outcomes)
    }

    async fn process(&self, item: &OutboxItem) -> Outcome {
        self.limiter.acquire().await;
        let result = self.attempt(item).await;
        if let Some(hint) = self.crm.rate_hint() {
            if hint.remaining == 0 {
                self.limiter.pause(hint.window);
            }
        }
        match result {
            Ok(outcome) => outcome,
            Err(error) => self.on_error(item, error),
        }
    }

    async fn attempt(&self, item: &OutboxItem) -> Result<Outcome, CrmError> {
        // Only a write that creates something is looked up after an
        // ambiguous failure: an update (the AI part, a conversation note
        // growing) carries the original's reference, so a lookup would find
        // the original and take the update as done without applying it.
        // Updates write the whole text again, so repeating one is harmless.
        let creates = match item.key.kind {
            ItemKind::Call => true,
            ItemKind::Sms => item.dependency_remote.is_none(),
            ItemKind::CallUpdate => false,
        };
        let mut look_first = item.needs_check && creates;
        let claim = match (&self.claims, creates) {
            (Some(claims), true) => Some((claims, claim_key(&item.key))),
            _ => None,
        };
        if let Some((claims, key)) = &claim {
            match claims.claim(key).await {
                Ok(Claim::Granted { taken_over }) => look_first |= taken_over,
                Ok(Claim::WrittenElsewhere(remote)) => {
                    // "Written" is what the holder hears too once it wrote the
                    // call; if what was written is another target of this
                    // call, on this computer, this target is still to write
                    // (an attempt cut short is looked up first, as ever:
                    // `needs_check`).
                    if !self.wrote_sibling_at(&item.key, &remote.id) {
                        return Ok(Outcome::AlreadyThere(remote));
                    }
                }
                Ok(Claim::Held { retry_after }) => {
                    return Ok(self.wait(
                        retry_after,
                        "waiting its turn among the computers following this call".into(),
                    ))
                }
                Err(why) => {
                    return Ok(self.wait(
                        CLAIMS_AWAY_RETRY,
                        format!("waiting to know which computer writes it: {why}"),
                    ))
                }
            }
        }
        if look_first {
            if let Some(remote) = self.crm.find_by_reference(&item.write).await? {
                if let Some((claims, key)) = &claim {
                    self.tell_written(claims.as_ref(), key, &remote).await;
                }
                return Ok(Outcome::AlreadyThere(remote));
            }
        }
        let remote = match item.key.kind {
            ItemKind::Call => self.crm.write_call(&item.write).await?,
            ItemKind::Sms => match self
                .crm
                .write_sms(item.dependency_remote.as_ref(), &item.write)
                .await
            {
                // The note cannot grow: this SMS starts a new one.
                Err(CrmError::TooLong) if item.dependency_remote.is_some() => {
                    self.start_new_sms_note(item).await?
                }
                other => other?,
            },
            ItemKind::CallUpdate => {
                let Some(remote) = item.dependency_remote.clone() else {
                    return Err(CrmError::Rejected(
                        "the call this update belongs to was never written".into(),
                    ));
                };
                self.crm.update_call(&remote, &item.write).await?;
                remote
            }
        };
        if let Some((claims, key)) = &claim {
            self.tell_written(claims.as_ref(), key, &remote).await;
        }
        Ok(Outcome::Written(remote))
    }

    fn wrote_sibling_at(&self, key: &crate::outbox::ItemKey, remote_id: &str) -> bool {
        self.store()
            .wrote_sibling_at(key, remote_id)
            .unwrap_or_else(|error| {
                // Unknown: taking it as written elsewhere can only lose a second
                // target's note, writing could repeat the first's; lose nothing
                // silently: say so.
                tracing::warn!(%error, "cannot tell whether this computer wrote the call's other target");
                false
            })
    }

    /// Tells the other computers where the write went. Best effort: if this
    /// is lost, the claim's lease runs out and the next computer finds the
    /// write by its reference before writing.
    async fn tell_written(&self, claims: &dyn WriteClaims, key: &str, remote: &RemoteRef) {
        if let Err(error) = claims.written(key, remote).await {
            tracing::warn!(key, %error, "cannot tell the other computers this write is made");
        }
    }

    /// The CRM refused to extend a conversation note ("too long"): the SMS
    /// starts a new note with its line alone, and the lines queued after it
    /// are rewritten to extend the new note. The rewrite is stored before
    /// the new note is written, so a retry after a crash starts the new note
    /// and never puts the single line over the old one.
    async fn start_new_sms_note(&self, item: &OutboxItem) -> Result<RemoteRef, CrmError> {
        let line_of = |write: &Write, key: &crate::outbox::ItemKey| {
            Some(crate::store::SmsLine {
                at_ms: write.payload["sms_at_ms"].as_i64().unwrap_or(0),
                id: key
                    .call_id
                    .strip_prefix("sms:")
                    .unwrap_or(&key.call_id)
                    .to_owned(),
                line: write.payload["sms_line"].as_str()?.to_owned(),
            })
        };
        let first = line_of(&item.write, &item.key).ok_or(CrmError::TooLong)?;
        let fresh = self
            .crm
            .with_sms_text(&item.write, &first.line)
            .ok_or(CrmError::TooLong)?;
        let followers = self
            .store()
            .followers(item.id)
            .map_err(|e| CrmError::Transient(e.to_string()))?;
        let mut lines = vec![first];
        let mut rewrites = vec![(item.id, fresh.clone())];
        for follower in followers {
            let Some(line) = line_of(&follower.write, &follower.key) else {
                break;
            };
            lines.push(line);
            let text = lines
                .iter()
                .map(|l| l.line.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let Some(write) = self.crm.with_sms_text(&follower.write, &text) else {
                break;
            };
            rewrites.push((follower.id, write));
        }
        self.store()
            .restart_sms_note(&item.key, &rewrites, &lines, self.clock.now_ms())
            .map_err(|e| CrmError::Transient(e.to_string()))?;
        tracing::info!(id = item.id, "the note is full: this SMS starts a new one");
        self.crm.write_sms(None, &fresh).await
    }

    fn on_error(&self, item: &OutboxItem, error: CrmError) -> Outcome {
        let now = self.clock.now_ms();
        let unit: f64 = rand::random();
        let backoff = self.policy.delay(item.attempts, unit);
        let retry = |delay: Duration, needs_check: bool, counts: bool| Retry {
            error: error.to_string(),
            next_attempt_ms: now + delay.as_millis() as i64,
            needs_check,
            counts,
            waits_for_login: matches!(error, CrmError::NeedsReconnect(_)),
        };
        match &error {
            CrmError::RateLimited { retry_after } => {
                let wait = retry_after.unwrap_or(backoff);
                self.limiter.pause(wait);
                Outcome::Retry(retry(wait, false, false))
            }
            CrmError::NeedsReconnect(_) => Outcome::Retry(retry(Duration::from_secs(60), false, false)),
            CrmError::Rejected(message) => Outcome::Parked(message.clone()),
            CrmError::TooLong => Outcome::Parked(error.to_string()),
            CrmError::Transient(_) | CrmError::Ambiguous(_) if item.attempts >= self.policy.max_attempts => {
                Outcome::Parked(format!("gave up after {} attempts: {error}", item.attempts))
            }
            CrmError::Transient(_) => Outcome::Retry(retry(backoff, false, true)),
            CrmError::Ambiguous(_) => Outcome::Retry(retry(backoff, true, true)),
        }
    }

    /// Runs until `shutdown`: processes due items, then sleeps until the next
    /// is due (at most `idle`), or until `wake` is notified (a new item).
    pub async fn run(self, wake: Arc<tokio::sync::Notify>, shutdown: CancellationToken, idle: Duration) {
        let account = self.crm.account();
        match self.store().recover_in_flight(self.clock.now_ms()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "outbox items left in flight will be checked before writing"),
            Err(error) => tracing::error!(%error, "cannot recover the outbox"),
        }
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let processed = match self.run_once().await {
                Ok(outcomes) => outcomes.len(),
                Err(error) => {
                    tracing::error!(%error, "the outbox cannot be read");
                    0
                }
            };
            if processed > 0 {
                if let Some(on_change) = &self.on_change {
                    on_change();
                }
                continue;
            }
            let next_due = self
                .store()
                .next_due_ms(&account.crm, &account.account)
                .ok()
                .flatten();
            let wait = next_due
                .map(|due| Duration::from_millis((due - self.clock.now_ms()).max(0) as u64))
                .unwrap_or(idle)
                .min(idle);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_delay_up_to_the_cap() {
        let policy = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let secs: Vec<u64> = (1..=12).map(|a| policy.delay(a, 0.5).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let policy = RetryPolicy::default();
        let low = policy.delay(3, 0.0).as_secs_f64();
        let high = policy.delay(3, 0.999_999).as_secs_f64();
        assert!(
            (6.39..=6.41).contains(&low) && (9.59..=9.61).contains(&high),
            "{low} {high}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_limiter_spaces_requests_and_honours_pauses() {
        let limiter = RateLimiter::new(Some(10.0));
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(400));
        limiter.pause(Duration::from_secs(3));
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(3_400));
    }
}
