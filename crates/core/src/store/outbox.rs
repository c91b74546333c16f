//! The outbox table: every CRM write, durable before it is sent, with its
//! state, attempts and outcome. What the states mean is `crate::outbox`'s;
//! the dispatcher (`crate::dispatcher`) drives them.

use super::{sql, Store, StoreError};
use crate::crm::{RemoteRef, Write};
use crate::outbox::{ItemKey, ItemKind, ItemState, OutboxCounts, OutboxItem, Retry};
use rusqlite::{params, OptionalExtension, Row};

/// The outbox table; migration 2 of the store.
pub const MIGRATION: &str = "
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    crm             TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    call_id         TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    target          TEXT    NOT NULL DEFAULT '',
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'in_flight', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    remote_id       TEXT,
    remote_link     TEXT,
    needs_check     INTEGER NOT NULL DEFAULT 0,
    depends_on      INTEGER REFERENCES outbox (id),
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    UNIQUE (crm, account, call_id, kind, target)
);
CREATE INDEX outbox_due ON outbox (state, crm, account, next_attempt_ms);
";

/// Migration 9: whether a pending item waits for a new sign-in, as a column
/// (it was read from the English text of the last error). Items already
/// waiting are found by that text one last time.
pub const MIGRATION_WAITING_FOR_LOGIN: &str = "
ALTER TABLE outbox ADD COLUMN waiting_for_login INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET waiting_for_login = 1
 WHERE state = 'pending' AND last_error LIKE 'the connection to the CRM needs to be renewed%';
";

const ITEM_COLUMNS: &str = "o.id, o.crm, o.account, o.call_id, o.kind, o.target, o.payload, o.state, o.attempts,
    o.next_attempt_ms, o.last_error, o.remote_id, o.remote_link, o.needs_check, o.depends_on, d.remote_id, d.remote_link";

fn item(row: &Row<'_>) -> rusqlite::Result<OutboxItem> {
    let kind: String = row.get(4)?;
    let payload: String = row.get(6)?;
    let state: String = row.get(7)?;
    let remote = |id: Option<String>, link: Option<String>| id.map(|id| RemoteRef { id, link });
    Ok(OutboxItem {
        id: row.get(0)?,
        key: ItemKey {
            crm: row.get(1)?,
            account: row.get(2)?,
            call_id: row.get(3)?,
            kind: ItemKind::parse(&kind).unwrap_or(ItemKind::Call),
            target: row.get(5)?,
        },
        // A payload is only ever written by `enqueue` from a `Write`.
        write: serde_json::from_str(&payload).unwrap_or(Write {
            reference: String::new(),
            payload: serde_json::Value::Null,
        }),
        state: ItemState::parse(&state),
        attempts: row.get(8)?,
        next_attempt_ms: row.get(9)?,
        last_error: row.get(10)?,
        remote: remote(row.get(11)?, row.get(12)?),
        needs_check: row.get(13)?,
        depends_on: row.get(14)?,
        dependency_remote: remote(row.get(15)?, row.get(16)?),
    })
}

impl Store {
    /// Adds an item unless one with the same key exists. Returns its id and
    /// whether it is new. An update names the key of the write it follows.
    pub fn enqueue(
        &self,
        key: &ItemKey,
        write: &Write,
        depends_on: Option<&ItemKey>,
        now_ms: i64,
    ) -> Result<(i64, bool), StoreError> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting an outbox transaction"))?;
        let queued = enqueue_in(&tx, key, write, depends_on, now_ms)?;
        tx.commit().map_err(sql("committing to the outbox"))?;
        Ok(queued)
    }

    /// Takes up to `limit` due items of one CRM account and marks them in
    /// flight, in one transaction. Updates wait until their write is done.
    pub fn claim_due(
        &self,
        crm: &str,
        account: &str,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting an outbox transaction"))?;
        let items: Vec<OutboxItem> = {
            let mut statement = tx
                .prepare_cached(&format!(
                    "SELECT {ITEM_COLUMNS} FROM outbox o LEFT JOIN outbox d ON d.id = o.depends_on
                     WHERE o.state = 'pending' AND o.crm = ?1 AND o.account = ?2 AND o.next_attempt_ms <= ?3
                       AND (o.depends_on IS NULL OR d.state = 'done')
                     ORDER BY o.next_attempt_ms, o.id LIMIT ?4"
                ))
                .map_err(sql("preparing the outbox query"))?;
            let rows = statement
                .query_map(params![crm, account, now_ms, limit], item)
                .map_err(sql("reading due outbox items"))?;
            rows.collect::<Result<_, _>>()
                .map_err(sql("reading due outbox items"))?
        };
        for it in &items {
            tx.execute(
                "UPDATE outbox SET state = 'in_flight', attempts = attempts + 1, updated_ms = ?2 WHERE id = ?1",
                params![it.id, now_ms],
            )
            .map_err(sql("claiming an outbox item"))?;
        }
        tx.commit().map_err(sql("committing an outbox claim"))?;
        Ok(items
            .into_iter()
            .map(|mut it| {
                it.state = ItemState::InFlight;
                it.attempts += 1;
                it
            })
            .collect())
    }

    pub fn mark_done(&self, id: i64, remote: &RemoteRef, now_ms: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE outbox SET state = 'done', remote_id = ?2, remote_link = ?3, last_error = NULL, needs_check = 0, waiting_for_login = 0,
                 updated_ms = ?4 WHERE id = ?1",
                params![id, remote.id, remote.link, now_ms],
            )
            .map_err(sql("marking an outbox item done"))?;
        Ok(())
    }

    pub fn mark_retry(&self, id: i64, retry: &Retry, now_ms: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE outbox SET state = 'pending', last_error = ?2, next_attempt_ms = ?3,
                 needs_check = MAX(needs_check, ?4), attempts = attempts - ?5, updated_ms = ?6,
                 waiting_for_login = ?7 WHERE id = ?1",
                params![
                    id,
                    retry.error,
                    retry.next_attempt_ms,
                    retry.needs_check,
                    !retry.counts,
                    now_ms,
                    retry.waits_for_login
                ],
            )
            .map_err(sql("scheduling an outbox retry"))?;
        Ok(())
    }

    /// Parks an item: it stays visible with its error until retried by hand.
    pub fn mark_failed(&self, id: i64, error: &str, now_ms: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE outbox SET state = 'failed', last_error = ?2, updated_ms = ?3, waiting_for_login = 0 WHERE id = ?1",
                params![id, error, now_ms],
            )
            .map_err(sql("parking an outbox item"))?;
        Ok(())
    }

    /// The user's Retry button: a parked item goes back in line, checked
    /// first since an earlier attempt may have reached the CRM.
    pub fn retry_failed(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_ms = ?2, needs_check = 1, updated_ms = ?2
                 WHERE id = ?1 AND state = 'failed'",
                params![id, now_ms],
            )
            .map_err(sql("retrying an outbox item"))?;
        Ok(changed == 1)
    }

    /// At start: items left in flight by a crash may have been written.
    pub fn recover_in_flight(&self, now_ms: i64) -> Result<usize, StoreError> {
        self.conn()
            .execute(
                "UPDATE outbox SET state = 'pending', needs_check = 1, updated_ms = ?1 WHERE state = 'in_flight'",
                params![now_ms],
            )
            .map_err(sql("recovering outbox items"))
    }

    /// Whether pending items wait for the user to sign in to their CRM
    /// again: the tray says so.
    pub fn outbox_waits_for_login(&self) -> Result<bool, StoreError> {
        self.conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'pending' AND waiting_for_login = 1)",
                [],
                |r| r.get(0),
            )
            .map_err(sql("looking for items waiting for a login"))
    }

    /// After a new sign-in: the items that waited for it are due now.
    pub fn retry_waiting_for_login(&self, now_ms: i64) -> Result<usize, StoreError> {
        self.conn()
            .execute(
                "UPDATE outbox SET next_attempt_ms = ?1, updated_ms = ?1
                 WHERE state = 'pending' AND waiting_for_login = 1 AND next_attempt_ms > ?1",
                params![now_ms],
            )
            .map_err(sql("retrying items that waited for a login"))
    }

    /// Whether an item with this key was ever enqueued.
    pub fn outbox_key_exists(&self, key: &ItemKey) -> Result<bool, StoreError> {
        self.conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE crm = ?1 AND account = ?2 AND call_id = ?3 AND kind = ?4 AND target = ?5)",
                rusqlite::params![key.crm, key.account, key.call_id, key.kind.as_str(), key.target],
                |r| r.get(0),
            )
            .map_err(sql("looking for an outbox item"))
    }

    /// Whether this computer wrote another target of `key`'s write (same
    /// CRM account, call and kind) to `remote_id`: the hub's claim covers the
    /// call, not the target, so its holder hears "written" for the first
    /// target and must still write the others.
    pub fn wrote_sibling_at(&self, key: &ItemKey, remote_id: &str) -> Result<bool, StoreError> {
        self.conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE crm = ?1 AND account = ?2 AND call_id = ?3
                   AND kind = ?4 AND target <> ?5 AND state = 'done' AND remote_id = ?6)",
                params![
                    key.crm,
                    key.account,
                    key.call_id,
                    key.kind.as_str(),
                    key.target,
                    remote_id
                ],
                |r| r.get(0),
            )
            .map_err(sql("looking for a written target of the same call"))
    }

    pub fn outbox_item(&self, id: i64) -> Result<Option<OutboxItem>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {ITEM_COLUMNS} FROM outbox o LEFT JOIN outbox d ON d.id = o.depends_on WHERE o.id = ?1"),
                params![id],
                item,
            )
            .optional()
            .map_err(sql("reading an outbox item"))
    }

    /// The items that follow `id` one after the other (an SMS conversation's
    /// next lines), not yet written, in order.
    pub fn followers(&self, id: i64) -> Result<Vec<OutboxItem>, StoreError> {
        let mut chain = Vec::new();
        let mut last = id;
        // A chain is one line per SMS; the bound only stops a corrupt loop.
        for _ in 0..10_000 {
            let next: Option<OutboxItem> = self
                .conn()
                .query_row(
                    &format!(
                        "SELECT {ITEM_COLUMNS} FROM outbox o LEFT JOIN outbox d ON d.id = o.depends_on
                         WHERE o.depends_on = ?1 AND o.state != 'done' ORDER BY o.id LIMIT 1"
                    ),
                    params![last],
                    item,
                )
                .optional()
                .map_err(sql("following an outbox chain"))?;
            match next {
                Some(found) => {
                    last = found.id;
                    chain.push(found);
                }
                None => break,
            }
        }
        Ok(chain)
    }

    /// Items for the history window: pending and failed first, then recent.
    pub fn outbox_items(&self, limit: u32) -> Result<Vec<OutboxItem>, StoreError> {
        let mut statement = self
            .conn()
            // Two index scans (state, updated_ms) rather than a sort of the
            // whole table: the open items (few), then the newest done ones.
            .prepare_cached(&format!(
                "SELECT * FROM (SELECT {ITEM_COLUMNS} FROM outbox o LEFT JOIN outbox d ON d.id = o.depends_on
                   WHERE o.state IN ('pending', 'in_flight', 'failed') ORDER BY o.updated_ms DESC LIMIT ?1)
                 UNION ALL
                 SELECT * FROM (SELECT {ITEM_COLUMNS} FROM outbox o LEFT JOIN outbox d ON d.id = o.depends_on
                   WHERE o.state = 'done' ORDER BY o.updated_ms DESC LIMIT ?1)
                 LIMIT ?1"
            ))
            .map_err(sql("preparing the outbox list"))?;
        let rows = statement
            .query_map(params![limit], item)
            .map_err(sql("listing the outbox"))?;
        rows.collect::<Result<_, _>>().map_err(sql("listing the outbox"))
    }

    /// The accounts of a CRM with writes still to go out, and how many each.
    pub fn accounts_with_waiting_writes(&self, crm: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached(
                "SELECT account, COUNT(*) FROM outbox WHERE crm = ?1 AND state IN ('pending', 'in_flight')
                 GROUP BY account ORDER BY account",
            )
            .map_err(sql("listing the accounts with waiting writes"))?;
        let rows = statement
            .query_map(params![crm], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql("listing the accounts with waiting writes"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("listing the accounts with waiting writes"))
    }

    /// When the earliest pending item of an account is due, for sleeping until then.
    pub fn next_due_ms(&self, crm: &str, account: &str) -> Result<Option<i64>, StoreError> {
        self.conn()
            .query_row(
                "SELECT MIN(next_attempt_ms) FROM outbox WHERE state = 'pending' AND crm = ?1 AND account = ?2",
                params![crm, account],
                |r| r.get(0),
            )
            .map_err(sql("reading the next due time"))
    }

    pub fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let mut counts = OutboxCounts::default();
        let mut statement = self
            .conn()
            .prepare_cached("SELECT state, COUNT(*) FROM outbox GROUP BY state")
            .map_err(sql("counting the outbox"))?;
        let rows = statement
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))
            .map_err(sql("counting the outbox"))?;
        for row in rows {
            let (state, n) = row.map_err(sql("counting the outbox"))?;
            match ItemState::parse(&state) {
                ItemState::Pending => counts.pending = n,
                ItemState::InFlight => counts.in_flight = n,
                ItemState::Done => counts.done = n,
                ItemState::Failed => counts.failed = n,
            }
        }
        Ok(counts)
    }
}

/// Replaces an item's write within `tx`; `detach` makes it follow nothing
/// (it starts a note of its own).
pub(super) fn rewrite_in(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    write: &Write,
    detach: bool,
    now_ms: i64,
) -> Result<(), StoreError> {
    let payload = serde_json::to_string(write).map_err(StoreError::CorruptSettings)?;
    tx.execute(
        "UPDATE outbox SET payload = ?2, depends_on = CASE WHEN ?3 THEN NULL ELSE depends_on END, updated_ms = ?4
         WHERE id = ?1",
        params![id, payload, detach, now_ms],
    )
    .map_err(sql("rewriting an outbox item"))?;
    Ok(())
}

/// Adds an item within `tx` (see [`Store::enqueue`]): for tables that
/// change together with the outbox (an SMS conversation and its next line).
pub(super) fn enqueue_in(
    tx: &rusqlite::Transaction<'_>,
    key: &ItemKey,
    write: &Write,
    depends_on: Option<&ItemKey>,
    now_ms: i64,
) -> Result<(i64, bool), StoreError> {
    let payload = serde_json::to_string(write).map_err(StoreError::CorruptSettings)?;
    let dependency: Option<i64> = match depends_on {
            None => None,
            Some(dep) => tx
                .query_row(
                    "SELECT id FROM outbox WHERE crm = ?1 AND account = ?2 AND call_id = ?3 AND kind = ?4 AND target = ?5",
                    params![dep.crm, dep.account, dep.call_id, dep.kind.as_str(), dep.target],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("finding the write an update follows"))?,
        };
    let inserted = tx
            .execute(
                "INSERT INTO outbox (crm, account, call_id, kind, target, payload, state, next_attempt_ms, depends_on, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?7, ?7)
                 ON CONFLICT (crm, account, call_id, kind, target) DO NOTHING",
                params![key.crm, key.account, key.call_id, key.kind.as_str(), key.target, payload, now_ms, dependency],
            )
            .map_err(sql("adding to the outbox"))?;
    let id: i64 = tx
            .query_row(
                "SELECT id FROM outbox WHERE crm = ?1 AND account = ?2 AND call_id = ?3 AND kind = ?4 AND target = ?5",
                params![key.crm, key.account, key.call_id, key.kind.as_str(), key.target],
                |r| r.get(0),
            )
            .map_err(sql("reading an outbox id"))?;
    Ok((id, inserted == 1))
}
