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

/// A claim as stored: holder, lease end, written, where.
type Held = (i64, i64, bool, Option<String>, Option<String>);

/// Leases asked for are kept within these bounds (ms).
const MIN_LEASE_MS: i64 = 1_000;
const MAX_LEASE_MS: i64 = 10 * 60 * 1000;

impl Desktops {
    /// `desktop_id` claims `key` for `lease_ms`.
    pub fn claim(
        &self,
        key: &str,
        desktop_id: i64,
        lease_ms: i64,
        now_ms: i64,
    ) -> Result<ClaimAnswer, DesktopError> {
        let lease_ms = lease_ms.clamp(MIN_LEASE_MS, MAX_LEASE_MS);
        let expires = now_ms.saturating_add(lease_ms);
        let conn = self.conn();
        let tx = conn.unchecked_transaction().map_err(sql("claiming a write"))?;
        let held: Option<Held> = tx
            .query_row(
                "SELECT desktop_id, expires_ms, done, remote_id, remote_link FROM claims WHERE key = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(sql("claiming a write"))?;
        let answer = match held {
            None => {
                tx.execute(
                    "INSERT INTO claims (key, desktop_id, expires_ms, created_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![key, desktop_id, expires, now_ms],
                )
                .map_err(sql("claiming a write"))?;
                ClaimAnswer::Granted { taken_over: false }
            }
            // Its own claim (again after a restart, or another target of
            // the same call): still its to write.
            Some((holder, _, _, _, _)) if holder == desktop_id => {
                tx.execute(
                    "UPDATE claims SET expires_ms = ?2 WHERE key = ?1",
                    params![key, expires],
                )
                .map_err(sql("claiming a write"))?;
                ClaimAnswer::Granted { taken_over: false }
            }
            Some((_, _, true, remote_id, remote_link)) => ClaimAnswer::Written {
                remote_id,
                remote_link,
            },
            Some((_, expires_ms, false, _, _)) if expires_ms <= now_ms => {
                tx.execute(
                    "UPDATE claims SET desktop_id = ?2, expires_ms = ?3 WHERE key = ?1",
                    params![key, desktop_id, expires],
                )
                .map_err(sql("claiming a write"))?;
                ClaimAnswer::Granted { taken_over: true }
            }
            Some((_, expires_ms, false, _, _)) => ClaimAnswer::Held {
                retry_after_ms: expires_ms - now_ms,
            },
        };
        tx.commit().map_err(sql("claiming a write"))?;
        Ok(answer)
    }

    /// The holder wrote `key` (there). Another desktop's word is ignored.
    pub fn claim_written(
        &self,
        key: &str,
        desktop_id: i64,
        remote_id: Option<&str>,
        remote_link: Option<&str>,
    ) -> Result<bool, DesktopError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE claims SET done = 1, remote_id = ?3, remote_link = ?4 WHERE key = ?1 AND desktop_id = ?2",
                params![key, desktop_id, remote_id, remote_link],
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
    use crate::store::desktops::Desktops;
    use callcard_hub_contract::ClaimAnswer;

    #[test]
    fn the_first_claim_wins_until_written_or_its_lease_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let desktops = Desktops::open(&dir.path().join("hub.sqlite3")).unwrap();
        let granted = ClaimAnswer::Granted { taken_over: false };
        assert_eq!(desktops.claim("k1", 1, 5_000, 0).unwrap(), granted);
        assert_eq!(
            desktops.claim("k1", 2, 5_000, 1_000).unwrap(),
            ClaimAnswer::Held {
                retry_after_ms: 4_000
            }
        );
        assert_eq!(
            desktops.claim("k1", 1, 5_000, 1_000).unwrap(),
            granted,
            "its own again"
        );
        assert!(
            !desktops.claim_written("k1", 2, Some("n9"), None).unwrap(),
            "not the holder"
        );
        assert!(desktops
            .claim_written("k1", 1, Some("n1"), Some("https://x/n1"))
            .unwrap());
        assert_eq!(
            desktops.claim("k1", 2, 5_000, 2_000).unwrap(),
            ClaimAnswer::Written {
                remote_id: Some("n1".into()),
                remote_link: Some("https://x/n1".into())
            }
        );
        // A holder that went silent: the lease runs out, the next takes over.
        assert_eq!(desktops.claim("k2", 1, 5_000, 0).unwrap(), granted);
        assert_eq!(
            desktops.claim("k2", 3, 5_000, 6_000).unwrap(),
            ClaimAnswer::Granted { taken_over: true }
        );
        assert!(matches!(
            desktops.claim("k2", 1, 5_000, 7_000).unwrap(),
            ClaimAnswer::Held { .. }
        ));
        assert_eq!(desktops.prune_claims(1).unwrap(), 2);
    }
}
