//! Which desktop streams are open, for the limits on them: one computer per
//! token at a time, one stream per computer (a new one ends the last: a
//! desktop killed or moved to another network leaves its old connection
//! open on the hub until a keep-alive fails), a few per token from desktops
//! that do not say their computer, and a revoked token's streams ended
//! within seconds (`callcard-hub user revoke` runs in another
//! process, so the hub reads the revocations from the database).

use crate::store::desktops::Desktops;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Streams one desktop token may hold open at once when they do not say
/// their computer (desktops before computer ids).
pub const MAX_STREAMS_PER_TOKEN: usize = 8;
/// How often the revocations are read: a revoked token's streams end
/// within this (and the check's own time).
pub const REVOCATION_CHECK: Duration = Duration::from_secs(2);

/// Why a stream is not opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The token follows the hub from another computer now.
    OtherComputer,
    /// The token has [`MAX_STREAMS_PER_TOKEN`] open already.
    TooMany,
}

/// One open stream: its number, the computer it comes from, and what ends
/// it when a newer stream of that computer replaces it.
type OpenStream = (u64, Option<String>, tokio_util::sync::CancellationToken);

#[derive(Default)]
pub struct OpenStreams {
    /// Per desktop, its open streams.
    open: Mutex<HashMap<i64, Vec<OpenStream>>>,
    next: std::sync::atomic::AtomicU64,
}

/// An open stream, counted until dropped.
pub struct Registered {
    streams: Arc<OpenStreams>,
    desktop: i64,
    serial: u64,
    /// Cancelled when a newer stream of the same computer replaces this one.
    pub superseded: tokio_util::sync::CancellationToken,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut open = self.streams.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = open.get_mut(&self.desktop) {
            list.retain(|(serial, _, _)| *serial != self.serial);
            if list.is_empty() {
                open.remove(&self.desktop);
            }
        }
    }
}

impl OpenStreams {
    /// Counts a new stream of `desktop` from `computer`, unless refused.
    pub fn register(self: &Arc<Self>, desktop: i64, computer: Option<&str>) -> Result<Registered, Refusal> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let list = open.entry(desktop).or_default();
        // Desktops from before computer ids say none: not compared.
        if let Some(computer) = computer {
            if list
                .iter()
                .any(|(_, other, _)| other.as_deref().is_some_and(|o| o != computer))
            {
                return Err(Refusal::OtherComputer);
            }
            // This computer's last stream is dead or about to be: replaced.
            list.retain(|(_, other, superseded)| {
                let same = other.as_deref() == Some(computer);
                if same {
                    superseded.cancel();
                }
                !same
            });
        }
        if list.len() >= MAX_STREAMS_PER_TOKEN {
            return Err(Refusal::TooMany);
        }
        let serial = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let superseded = tokio_util::sync::CancellationToken::new();
        list.push((serial, computer.map(str::to_owned), superseded.clone()));
        Ok(Registered {
            streams: self.clone(),
            desktop,
            serial,
            superseded,
        })
    }
}

/// The revoked desktops, read again every [`REVOCATION_CHECK`] by one task
/// (started with the first stream) until the hub closes.
pub struct Revocations {
    revoked: tokio::sync::watch::Sender<Arc<HashSet<i64>>>,
    started: std::sync::OnceLock<()>,
}

impl Default for Revocations {
    fn default() -> Self {
        Self {
            revoked: tokio::sync::watch::channel(Arc::default()).0,
            started: std::sync::OnceLock::new(),
        }
    }
}

impl Revocations {
    pub fn follow(
        self: &Arc<Self>,
        desktops: &Arc<Desktops>,
        closing: &tokio_util::sync::CancellationToken,
    ) -> tokio::sync::watch::Receiver<Arc<HashSet<i64>>> {
        self.started.get_or_init(|| {
            let (this, desktops, closing) = (self.clone(), desktops.clone(), closing.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = closing.cancelled() => return,
                        _ = tokio::time::sleep(REVOCATION_CHECK) => {}
                    }
                    let desktops = desktops.clone();
                    match tokio::task::spawn_blocking(move || desktops.revoked_ids()).await {
                        Ok(Ok(revoked)) => {
                            this.revoked.send_if_modified(|known| {
                                let changed = **known != revoked;
                                if changed {
                                    *known = Arc::new(revoked);
                                }
                                changed
                            });
                        }
                        Ok(Err(error)) => tracing::warn!(%error, "cannot read the revoked desktops"),
                        Err(_) => {}
                    }
                }
            });
        });
        self.revoked.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_streams_from_one_computer_whose_newest_stream_replaces_its_last() {
        let streams = Arc::new(OpenStreams::default());
        let first = streams.register(1, Some("a1")).unwrap();
        assert_eq!(
            streams.register(1, Some("b2")).err(),
            Some(Refusal::OtherComputer),
            "the same token on another computer"
        );
        let _other_desktop = streams.register(2, Some("b2")).unwrap();
        // A desktop killed and started again, many times: each new stream
        // ends the last, none is refused.
        let mut last = first;
        for _ in 0..3 * MAX_STREAMS_PER_TOKEN {
            let next = streams.register(1, Some("a1")).unwrap();
            assert!(last.superseded.is_cancelled());
            assert!(!next.superseded.is_cancelled());
            last = next;
        }
        drop(last);
        let _now = streams
            .register(1, Some("b2"))
            .expect("the first computer's streams have ended");
    }

    #[test]
    fn streams_that_do_not_say_their_computer_are_capped_per_token() {
        let streams = Arc::new(OpenStreams::default());
        let mut open: Vec<_> = (0..MAX_STREAMS_PER_TOKEN)
            .map(|_| streams.register(1, None).unwrap())
            .collect();
        assert_eq!(streams.register(1, None).err(), Some(Refusal::TooMany));
        open.pop();
        assert!(streams.register(1, None).is_ok());
    }
}
