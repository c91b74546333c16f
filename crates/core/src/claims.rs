//! Who makes a write when several computers follow the same call: one user
//! on two computers, every agent of a shared number for a missed call. Each
//! queues the call in its own outbox; before a write that creates something
//! in the CRM, the dispatcher claims it from a place all of them share (the
//! team hub), so that one computer writes and the others take it as done.
//! See `docs/exactly-once.md` for the design and its remaining window.

use crate::clock::Clock;
use crate::crm::RemoteRef;
use crate::outbox::ItemKey;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This computer writes it. `taken_over`: another held it and went
    /// silent, so it may have written it: look it up first.
    Granted { taken_over: bool },
    /// Another computer wrote it, there.
    WrittenElsewhere(RemoteRef),
    /// Another computer is writing it: ask again later.
    Held { retry_after: Duration },
}

#[async_trait::async_trait]
pub trait WriteClaims: Send + Sync {
    /// Asks to be the computer that makes the write `key`.
    async fn claim(&self, key: &str) -> Result<Claim, String>;
    /// The write `key` is made, there.
    async fn written(&self, key: &str, remote: &RemoteRef) -> Result<(), String>;
}

/// The claim of an outbox item: the same on every computer of the company
/// for the same write (the CRM account, the call, what is written). The
/// target is left out: one computer writes the call wherever its rules say.
pub fn claim_key(key: &ItemKey) -> String {
    format!(
        "{}:{}:{}:{}",
        key.crm,
        key.account,
        key.call_id,
        key.kind.as_str()
    )
}

/// Without a team hub the CRM is the meeting point: before a write that
/// creates something, each computer waits its turn, then looks the write up
/// by its reference and writes only when it is not there yet.
///
/// A computer's turn for a write is a rank from the write's claim key and
/// the computer (so the same computer is not always last), [`STAGGER_RANKS`]
/// ranks `step` apart, counted from when this computer first asked. The
/// first computer whose turn comes writes; the others find its write. Two
/// computers whose turns fall within one write's latency both write: rare,
/// not impossible (see `docs/exactly-once.md`).
pub struct StaggeredClaims {
    computer: i64,
    step: Duration,
    clock: Arc<dyn Clock>,
    /// When this computer first asked for each write not yet granted.
    first_asked: Mutex<HashMap<String, i64>>,
}

/// How many turns a write's computers are spread over.
pub const STAGGER_RANKS: u64 = 30;

/// The gap between two turns by default: above a CRM's usual write time
/// (two computers one turn apart do not both write), small enough that a
/// log is at most half a minute later than without a stagger. Two
/// computers share a turn for one write in [`STAGGER_RANKS`].
pub const DEFAULT_STAGGER_STEP: Duration = Duration::from_secs(1);

impl StaggeredClaims {
    /// `computer` tells this computer from the others (see [`computer_id`]).
    pub fn new(computer: i64, step: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            computer,
            step,
            clock,
            first_asked: Mutex::new(HashMap::new()),
        }
    }

    /// This computer's turn for the write `key`, from 0 to [`STAGGER_RANKS`] − 1.
    pub fn rank(&self, key: &str) -> u64 {
        // FNV-1a: stable across versions and platforms, unlike std's hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in key.bytes().chain(self.computer.to_le_bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash % STAGGER_RANKS
    }
}

/// This data folder's computer id for [`StaggeredClaims`]: random, made once
/// and kept in the store.
pub fn computer_id(store: &Store) -> Result<i64, StoreError> {
    const NAME: &str = "computer_id";
    if let Some(id) = store.checkpoint(NAME)? {
        return Ok(id);
    }
    let id = rand::random::<i64>();
    store.set_checkpoint(NAME, id)?;
    Ok(id)
}

#[async_trait::async_trait]
impl WriteClaims for StaggeredClaims {
    async fn claim(&self, key: &str) -> Result<Claim, String> {
        let now = self.clock.now_ms();
        let wait_ms = self.step.as_millis().saturating_mul(u128::from(self.rank(key)));
        let wait_ms = i64::try_from(wait_ms).unwrap_or(i64::MAX);
        let mut first_asked = self.first_asked.lock().unwrap_or_else(|p| p.into_inner());
        let first = *first_asked.entry(key.to_owned()).or_insert(now);
        let due = first.saturating_add(wait_ms);
        if now >= due {
            first_asked.remove(key);
            // Another computer's turn may have come first: look before writing.
            return Ok(Claim::Granted { taken_over: true });
        }
        Ok(Claim::Held {
            retry_after: Duration::from_millis(u64::try_from(due - now).unwrap_or(0)),
        })
    }

    async fn written(&self, _key: &str, _remote: &RemoteRef) -> Result<(), String> {
        // The write itself, found by its reference, tells the others.
        Ok(())
    }
}

/// Claims through the team hub that do not wait for it for ever: once it
/// has not answered for `wait`, writes follow the rules without a hub
/// (`fallback`: each computer's turn, then a look in the CRM) and the
/// watcher is told; the hub is asked again at most every
/// [`AWAY_RETRY`], and once it answers, what was written meanwhile is
/// reported to it (so that a computer asking it later is not granted a
/// write made already) and its claims rule again.
pub struct AwayFallback {
    primary: Arc<dyn WriteClaims>,
    fallback: Arc<dyn WriteClaims>,
    wait: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<Away>,
    /// Told `true` when writes fall back, `false` when the hub rules again.
    on_change: Box<dyn Fn(bool) + Send + Sync>,
}

/// While fallen back, how often the hub is asked again (its requests may
/// take seconds to fail: not on every write).
pub const AWAY_RETRY: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Away {
    /// Since when the hub has not answered (Unix ms).
    since_ms: Option<i64>,
    fallen_back: bool,
    /// When the hub was last asked while fallen back.
    last_try_ms: i64,
    /// Writes made while fallen back, to report once the hub answers.
    unreported: Vec<(String, RemoteRef)>,
}

impl AwayFallback {
    pub fn new(
        primary: Arc<dyn WriteClaims>,
        fallback: Arc<dyn WriteClaims>,
        wait: Duration,
        clock: Arc<dyn Clock>,
        on_change: impl Fn(bool) + Send + Sync + 'static,
    ) -> Self {
        Self {
            primary,
            fallback,
            wait,
            clock,
            state: Mutex::default(),
            on_change: Box::new(on_change),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Away> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether to ask the hub now (always, unless fallen back and asked
    /// within [`AWAY_RETRY`]).
    fn ask_hub(&self, now: i64) -> bool {
        let mut state = self.state();
        if !state.fallen_back || now - state.last_try_ms >= AWAY_RETRY.as_millis() as i64 {
            state.last_try_ms = now;
            return true;
        }
        false
    }

    /// The hub answered: report what was written without it, then let it rule.
    async fn hub_answered(&self) {
        let (was_fallen_back, unreported) = {
            let mut state = self.state();
            let was = state.fallen_back;
            state.since_ms = None;
            state.fallen_back = false;
            (was, std::mem::take(&mut state.unreported))
        };
        for (key, remote) in unreported {
            if let Err(why) = self.primary.written(&key, &remote).await {
                tracing::warn!(key, why, "cannot report a write made while the team hub was away");
            }
        }
        if was_fallen_back {
            tracing::info!("the team hub answers again: its claims decide the writes again");
            (self.on_change)(false);
        }
    }

    /// The hub did not answer: whether writes fall back now.
    fn hub_away(&self, now: i64, why: &str) -> bool {
        let mut state = self.state();
        let since = *state.since_ms.get_or_insert(now);
        if state.fallen_back {
            return true;
        }
        if now - since < self.wait.as_millis() as i64 {
            return false;
        }
        state.fallen_back = true;
        state.last_try_ms = now;
        drop(state);
        tracing::warn!(why, waited = ?self.wait, "the team hub has not answered claims for too long: writing without it");
        (self.on_change)(true);
        true
    }
}

#[async_trait::async_trait]
impl WriteClaims for AwayFallback {
    async fn claim(&self, key: &str) -> Result<Claim, String> {
        let now = self.clock.now_ms();
        if self.ask_hub(now) {
            match self.primary.claim(key).await {
                Ok(claim) => {
                    self.hub_answered().await;
                    return Ok(claim);
                }
                Err(why) => {
                    if !self.hub_away(self.clock.now_ms(), &why) {
                        return Err(why);
                    }
                }
            }
        }
        self.fallback.claim(key).await
    }

    async fn written(&self, key: &str, remote: &RemoteRef) -> Result<(), String> {
        if self.state().fallen_back {
            self.state().unreported.push((key.to_owned(), remote.clone()));
            return self.fallback.written(key, remote).await;
        }
        self.primary.written(key, remote).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    /// A hub that answers `Granted` or fails, as told, and keeps what it was told.
    #[derive(Default)]
    struct FakeHub {
        away: std::sync::atomic::AtomicBool,
        asked: std::sync::atomic::AtomicUsize,
        written: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl WriteClaims for FakeHub {
        async fn claim(&self, _key: &str) -> Result<Claim, String> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if self.away.load(std::sync::atomic::Ordering::Relaxed) {
                return Err("the team hub cannot be reached".into());
            }
            Ok(Claim::Granted { taken_over: false })
        }
        async fn written(&self, key: &str, _remote: &RemoteRef) -> Result<(), String> {
            if self.away.load(std::sync::atomic::Ordering::Relaxed) {
                return Err("the team hub cannot be reached".into());
            }
            self.written.lock().unwrap().push(key.to_owned());
            Ok(())
        }
    }

    #[tokio::test]
    async fn writes_wait_for_an_away_hub_for_a_bounded_time_then_follow_the_rules_without_it_until_it_is_back(
    ) {
        let clock = Arc::new(ManualClock::at(1_000_000));
        let hub = Arc::new(FakeHub::default());
        // Rank 0 for every key: the stagger grants at once, looking first.
        let stagger = Arc::new(StaggeredClaims::new(7, Duration::ZERO, clock.clone()));
        let told = Arc::new(Mutex::new(Vec::new()));
        let seen = told.clone();
        let claims = AwayFallback::new(
            hub.clone(),
            stagger,
            Duration::from_secs(900),
            clock.clone(),
            move |away| seen.lock().unwrap().push(away),
        );
        let asked = || hub.asked.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(claims.claim("a").await, Ok(Claim::Granted { taken_over: false }));

        hub.away.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(claims.claim("b").await.is_err(), "the write waits for the hub");
        clock.advance_ms(899_000);
        assert!(claims.claim("b").await.is_err(), "still within the wait");
        clock.advance_ms(1_000);
        assert_eq!(
            claims.claim("b").await,
            Ok(Claim::Granted { taken_over: true }),
            "then without the hub: looked up in the CRM first"
        );
        assert_eq!(*told.lock().unwrap(), vec![true]);
        let remote = RemoteRef {
            id: "n-1".into(),
            link: None,
        };
        claims.written("b", &remote).await.unwrap();
        // Fallen back, the hub is not asked on every write.
        let before = asked();
        assert_eq!(claims.claim("c").await, Ok(Claim::Granted { taken_over: true }));
        assert_eq!(asked(), before, "asked again only after {AWAY_RETRY:?}");

        hub.away.store(false, std::sync::atomic::Ordering::Relaxed);
        clock.advance_ms(AWAY_RETRY.as_millis() as i64);
        assert_eq!(
            claims.claim("d").await,
            Ok(Claim::Granted { taken_over: false }),
            "the hub rules again"
        );
        assert_eq!(*told.lock().unwrap(), vec![true, false]);
        assert_eq!(
            *hub.written.lock().unwrap(),
            vec!["b".to_owned()],
            "what was written meanwhile is reported to the hub"
        );
        // Away again: the wait starts over.
        hub.away.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(claims.claim("e").await.is_err());
    }

    #[tokio::test]
    async fn each_computer_waits_its_own_turn_then_looks_before_writing() {
        let clock = Arc::new(ManualClock::at(1_000));
        let step = Duration::from_secs(3);
        let computers: Vec<StaggeredClaims> = (0..40)
            .map(|c| StaggeredClaims::new(c, step, clock.clone()))
            .collect();
        let key = "jobadder:acme:123:call";
        let ranks: std::collections::BTreeSet<u64> = computers.iter().map(|c| c.rank(key)).collect();
        assert!(ranks.len() > 4, "computers spread over the turns: {ranks:?}");
        assert!(ranks.iter().all(|r| *r < STAGGER_RANKS));

        for computer in &computers {
            let rank = computer.rank(key);
            let answer = computer.claim(key).await.unwrap();
            if rank == 0 {
                assert_eq!(answer, Claim::Granted { taken_over: true });
            } else {
                assert_eq!(
                    answer,
                    Claim::Held {
                        retry_after: step * rank as u32
                    }
                );
            }
        }
        clock.advance_ms(3_000 * (STAGGER_RANKS as i64 - 1));
        for computer in &computers {
            assert_eq!(
                computer.claim(key).await.unwrap(),
                Claim::Granted { taken_over: true }
            );
        }
    }

    #[test]
    fn the_computer_id_is_made_once_per_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        let first = computer_id(&store).unwrap();
        assert_eq!(computer_id(&store).unwrap(), first);
    }
}
