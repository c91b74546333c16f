//! Who writes a call: several desktops follow the same call (one user on two
//! computers, every agent of a shared number for a missed call), and each
//! would write it into the CRM. Before a first write a desktop claims it
//! here; the first claim wins for a lease, renewed by its holder; the
//! holder says when it is written, and the others take the write as done
//! (with where it went). A holder that dies lets its lease run out: the next
//! claimant takes over and looks the write up in the CRM before writing
//! (the holder may have written it before dying).

use super::desktops::{sql, DesktopError, Desktops};
use rusqlite::{params, OptionalExtension};

pub use callcard_hub_contract::ClaimAnswer;

/// The `claims` table; its reads and writes go through [`Desktops`] (whose
/// token opened the claim).
pub const MIGRATION: &str = "
CREATE TABLE IF NOT EXISTS claims (
    key         TEXT    PRIMARY KEY,
    desktop_id  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    remote_id   TEXT,
    remote_link TEXT,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_created ON claims (created_ms);
";

/// Version 3: the holder is a desktop *and* a computer (one person's token
/// on two computers must not make both the holder), and a holder's
/// renewals are counted (one that renews without writing loses the claim).
pub const MIGRATION_COMPUTER: &str = "
ALTER TABLE claims ADD COLUMN computer TEXT NOT NULL DEFAULT '';
ALTER TABLE claims ADD COLUMN renewals INTEGER NOT NULL DEFAULT 0;
";

/// Who asks for a claim: the desktop (its token) on one computer (the
/// desktop's computer id; empty for desktops that send none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimant<'a> {
    pub desktop_id: i64,
    pub computer: &'a str,
}

/// A claim as stored.
struct Held {
    desktop_id: i64,
    computer: String,
    expires_ms: i64,
    done: bool,
    remote_id: Option<String>,
    remote_link: Option<String>,
    renewals: i64,
}

/// Leases asked for are kept within these bounds (ms).
const MIN_LEASE_MS: i64 = 1_000;
const MAX_LEASE_MS: i64 = 10 * 60 * 1000;

/// How often a holder may claim its own write again without reporting it
/// written (each renewal is a failed attempt: a CRM refusing it, a sign-in
/// that lapsed). Past that the claim is the others' for one lease; then
/// anyone's, the old holder's included, so a write is never stuck.
pub const MAX_RENEWALS: i64 = 5;

impl Desktops {
    /// `claimant` claims `key` for `lease_ms`.
    pub fn claim(
        &self,
        key: &str,
        claimant: Claimant<'_>,
        lease_ms: i64,
        now_ms: i64,
    ) -> Result<ClaimAnswer, DesktopError> {
        let lease_ms = lease_ms.clamp(MIN_LEASE_MS, MAX_LEASE_MS);
        let expires = now_ms.saturating_add(lease_ms);
        let conn = self.conn();
        let tx = conn.unchecked_transaction().map_err(sql("claiming a write"))?;
        let held: Option<Held> = tx
            .query_row(
                "SELECT desktop_id, computer, expires_ms, done, remote_id, remote_link, renewals
                 FROM claims WHERE key = ?1",
                params![key],
                |r| {
                    Ok(Held {
                        desktop_id: r.get(0)?,
                        computer: r.get(1)?,
                        expires_ms: r.get(2)?,
                        done: r.get(3)?,
                        remote_id: r.get(4)?,
                        remote_link: r.get(5)?,
                        renewals: r.get(6)?,
                    })
                },
            )
            .optional()
            .map_err(sql("claiming a write"))?;
        let take = |taken_over: bool| -> Result<ClaimAnswer, DesktopError> {
            tx.execute(
                "INSERT INTO claims (key, desktop_id, computer, expires_ms, created_ms, renewals)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)
                 ON CONFLICT (key) DO UPDATE SET desktop_id = ?2, computer = ?3, expires_ms = ?4, renewals = 0",
                params![key, claimant.desktop_id, claimant.computer, expires, now_ms],
            )
            .map_err(sql("claiming a write"))?;
            Ok(ClaimAnswer::Granted { taken_over })
        };
        let answer = match held {
            None => take(false)?,
            // Written is written, for everyone: the holder too (a holder
            // restarted after writing must not write again).
            Some(held) if held.done => ClaimAnswer::Written {
                remote_id: held.remote_id,
                remote_link: held.remote_link,
            },
            // Its own claim again (after a failed attempt or a restart):
            // still its to write, a bounded number of times.
            Some(held) if held.desktop_id == claimant.desktop_id && held.computer == claimant.computer => {
                if held.renewals < MAX_RENEWALS {
                    tx.execute(
                        "UPDATE claims SET expires_ms = ?2, renewals = renewals + 1 WHERE key = ?1",
                        params![key, expires],
                    )
                    .map_err(sql("claiming a write"))?;
                    ClaimAnswer::Granted { taken_over: false }
                } else {
                    // The others get one lease to take it over.
                    let others_until = held.expires_ms.saturating_add(lease_ms);
                    if now_ms >= others_until {
                        take(true)?
                    } else {
                        ClaimAnswer::Held {
                            retry_after_ms: others_until - now_ms,
                        }
                    }
                }
            }
            Some(held) if held.expires_ms <= now_ms => take(true)?,
            Some(held) => ClaimAnswer::Held {
                retry_after_ms: held.expires_ms - now_ms,
            },
        };
        tx.commit().map_err(sql("claiming a write"))?;
        Ok(answer)
    }

    /// The holder wrote `key` (there). Another desktop's or computer's word
    /// is ignored.
    pub fn claim_written(
        &self,
        key: &str,
        claimant: Claimant<'_>,
        remote_id: Option<&str>,
        remote_link: Option<&str>,
    ) -> Result<bool, DesktopError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE claims SET done = 1, remote_id = ?4, remote_link = ?5
                 WHERE key = ?1 AND desktop_id = ?2 AND computer = ?3",
                params![
                    key,
                    claimant.desktop_id,
                    claimant.computer,
                    remote_id,
                    remote_link
                ],
            )
            .map_err(sql("marking a claim written"))?;
        Ok(changed > 0)
    }

    /// Forgets claims made before `before_ms` (with the event log's retention).
    pub fn prune_claims(&self, before_ms: i64) -> Result<usize, DesktopError> {
        self.conn()
            .execute("DELETE FROM claims WHERE created_ms < ?1", params![before_ms])
            .map_err(sql("pruning claims"))
    }
}

#[cfg(test)]
mod tests {
    use super::{Claimant, MAX_RENEWALS};
    use crate::store::desktops::Desktops;
    use callcard_hub_contract::ClaimAnswer;

    fn on(desktop_id: i64, computer: &str) -> Claimant<'_> {
        Claimant { desktop_id, computer }
    }

    fn open() -> (tempfile::TempDir, Desktops) {
        let dir = tempfile::tempdir().unwrap();
        let desktops = Desktops::open(&dir.path().join("hub.sqlite3")).unwrap();
        (dir, desktops)
    }

    const GRANTED: ClaimAnswer = ClaimAnswer::Granted { taken_over: false };

    #[test]
    fn the_first_claim_wins_until_written_or_its_lease_runs_out() {
        let (_dir, desktops) = open();
        assert_eq!(desktops.claim("k1", on(1, "a"), 5_000, 0).unwrap(), GRANTED);
        assert_eq!(
            desktops.claim("k1", on(2, "b"), 5_000, 1_000).unwrap(),
            ClaimAnswer::Held {
                retry_after_ms: 4_000
            }
        );
        assert_eq!(
            desktops.claim("k1", on(1, "a"), 5_000, 1_000).unwrap(),
            GRANTED,
            "its own again"
        );
        assert!(
            !desktops
                .claim_written("k1", on(2, "b"), Some("n9"), None)
                .unwrap(),
            "not the holder"
        );
        assert!(desktops
            .claim_written("k1", on(1, "a"), Some("n1"), Some("https://x/n1"))
            .unwrap());
        let written = ClaimAnswer::Written {
            remote_id: Some("n1".into()),
            remote_link: Some("https://x/n1".into()),
        };
        assert_eq!(desktops.claim("k1", on(2, "b"), 5_000, 2_000).unwrap(), written);
        // A holder that went silent: the lease runs out, the next takes over.
        assert_eq!(desktops.claim("k2", on(1, "a"), 5_000, 0).unwrap(), GRANTED);
        assert_eq!(
            desktops.claim("k2", on(3, "c"), 5_000, 6_000).unwrap(),
            ClaimAnswer::Granted { taken_over: true }
        );
        assert!(matches!(
            desktops.claim("k2", on(1, "a"), 5_000, 7_000).unwrap(),
            ClaimAnswer::Held { .. }
        ));
        assert_eq!(desktops.prune_claims(1).unwrap(), 2);
    }

    #[test]
    fn once_written_the_holder_too_is_told_written() {
        let (_dir, desktops) = open();
        assert_eq!(desktops.claim("k", on(1, "a"), 5_000, 0).unwrap(), GRANTED);
        assert!(desktops.claim_written("k", on(1, "a"), Some("n1"), None).unwrap());
        assert_eq!(
            desktops.claim("k", on(1, "a"), 5_000, 1_000).unwrap(),
            ClaimAnswer::Written {
                remote_id: Some("n1".into()),
                remote_link: None
            },
            "a holder restarted after writing must not write again"
        );
    }

    #[test]
    fn one_token_on_two_computers_makes_only_one_of_them_the_holder() {
        let (_dir, desktops) = open();
        assert_eq!(desktops.claim("k", on(1, "laptop"), 5_000, 0).unwrap(), GRANTED);
        assert_eq!(
            desktops.claim("k", on(1, "office"), 5_000, 1_000).unwrap(),
            ClaimAnswer::Held {
                retry_after_ms: 4_000
            }
        );
        assert!(
            !desktops
                .claim_written("k", on(1, "office"), Some("n2"), None)
                .unwrap(),
            "the other computer does not hold it"
        );
    }

    #[test]
    fn a_holder_that_renews_without_writing_loses_the_claim_but_a_write_is_never_stuck() {
        let (_dir, desktops) = open();
        let mut now = 0;
        assert_eq!(desktops.claim("k", on(1, "a"), 5_000, now).unwrap(), GRANTED);
        for _ in 0..MAX_RENEWALS {
            now += 1_000;
            assert_eq!(desktops.claim("k", on(1, "a"), 5_000, now).unwrap(), GRANTED);
        }
        // One renewal too many: the others get a lease to take it over.
        now += 1_000;
        let ClaimAnswer::Held { retry_after_ms } = desktops.claim("k", on(1, "a"), 5_000, now).unwrap()
        else {
            panic!("the holder renewed past the cap");
        };
        assert!(retry_after_ms > 5_000, "{retry_after_ms}");
        // Another computer takes it once the lease is over.
        assert_eq!(
            desktops.claim("k", on(2, "b"), 5_000, now + 4_001).unwrap(),
            ClaimAnswer::Granted { taken_over: true }
        );
        // Alone, the old holder gets it back after the others' lease.
        assert_eq!(desktops.claim("solo", on(1, "a"), 5_000, 0).unwrap(), GRANTED);
        for n in 1..=MAX_RENEWALS {
            assert_eq!(
                desktops.claim("solo", on(1, "a"), 5_000, n * 100).unwrap(),
                GRANTED
            );
        }
        let last_lease_end = MAX_RENEWALS * 100 + 5_000;
        assert!(matches!(
            desktops.claim("solo", on(1, "a"), 5_000, last_lease_end).unwrap(),
            ClaimAnswer::Held { .. }
        ));
        assert_eq!(
            desktops
                .claim("solo", on(1, "a"), 5_000, last_lease_end + 5_000)
                .unwrap(),
            ClaimAnswer::Granted { taken_over: true }
        );
    }
}
