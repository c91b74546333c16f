//! The hub's durable, ordered log of Aircall webhook events. An event is
//! committed here (SQLite in WAL mode, `synchronous=FULL`) before Aircall is
//! answered 200, so an answered event survives a crash. Aircall retries a
//! delivery it thinks failed and may send an event twice: the same event
//! (name, timestamp and data) is stored once. Desktops read the log in
//! sequence order and resume after the last sequence number they saw.
//! The `events` table.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] super::StoreError),
    #[error("the event log failed while {what}: {source}")]
    Sql {
        what: &'static str,
        source: rusqlite::Error,
    },
}

/// One webhook delivery as Aircall sends it (the token is checked and not kept).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub resource: String,
    pub event: String,
    /// Unix seconds, as Aircall sends it.
    pub timestamp: i64,
    pub data: Value,
}

impl WebhookEvent {
    /// What makes two deliveries the same event: name, timestamp and data
    /// (serde_json keeps object keys sorted, so equal data prints equally).
    pub fn fingerprint(&self) -> String {
        let (timestamp, data) = (self.timestamp.to_string(), self.data.to_string());
        // Each part ends with a NUL, so that no two splits read the same.
        crate::sha256_hex(&[
            self.resource.as_bytes(),
            b"\0",
            self.event.as_bytes(),
            b"\0",
            timestamp.as_bytes(),
            b"\0",
            data.as_bytes(),
            b"\0",
        ])
    }
}

/// An event as the log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    /// Order of arrival, never reused (AUTOINCREMENT): desktops resume after
    /// the last one they saw, even after old events were pruned.
    pub seq: i64,
    pub resource: String,
    pub event: String,
    pub timestamp: i64,
    pub received_ms: i64,
    pub data: Value,
    /// For an event about a call that does not say whose call it is (the
    /// AI events carry only `call_id`): the parties of the call's latest
    /// call event, so that it goes to the same desktops.
    #[serde(skip)]
    pub subject: Option<Value>,
}

/// As a desktop is sent it (the parties stay in the hub).
impl From<StoredEvent> for callcard_hub_contract::HubEvent {
    fn from(stored: StoredEvent) -> Self {
        Self {
            seq: stored.seq,
            resource: stored.resource,
            event: stored.event,
            timestamp: stored.timestamp,
            received_ms: stored.received_ms,
            data: stored.data,
        }
    }
}

impl StoredEvent {
    /// What decides whose event it is: the data, or the call's parties.
    pub fn parties(&self) -> &Value {
        self.subject.as_ref().unwrap_or(&self.data)
    }
}

impl WebhookEvent {
    /// The call an event is about: a call event's own id, or the `call_id`
    /// of an event about a call (AI results).
    pub fn call_id(&self) -> Option<i64> {
        if self.resource == "call" {
            self.data["id"].as_i64()
        } else {
            self.data["call_id"].as_i64()
        }
    }
}

/// The fields of a call that say whose it is.
fn parties_of(call: &Value) -> Value {
    serde_json::json!({
        "user": call["user"],
        "transferred_to": call["transferred_to"],
        "users": call["users"],
        "number": call["number"],
    })
}

/// What appending did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    New(i64),
    /// Already in the log (a retried delivery), under this sequence number.
    Duplicate(i64),
}

/// Where events are kept: SQLite by default; another store (a shared
/// database for a highly available hub) implements the same.
pub trait EventLog: Send + Sync {
    /// Commits the event durably, or says it is already there.
    fn append(&self, event: &WebhookEvent, received_ms: i64) -> Result<Appended, LogError>;
    /// Up to `limit` events after `after`, in order.
    fn after(&self, after: i64, limit: u32) -> Result<Vec<StoredEvent>, LogError>;
    /// Drops events received before `before_ms`; returns how many.
    fn prune(&self, before_ms: i64) -> Result<usize, LogError>;
    /// How many events the log holds.
    fn len(&self) -> Result<u64, LogError>;
    /// The parties of a call, from its latest call event (see [`StoredEvent::subject`]).
    fn parties_of_call(&self, call_id: i64) -> Result<Option<Value>, LogError>;
    fn is_empty(&self) -> Result<bool, LogError> {
        Ok(self.len()? == 0)
    }
    /// The log's identity and the last sequence number it handed out
    /// (pruned events included): what a desktop checks its checkpoint
    /// against (see `callcard_hub_contract::paths::LOG_ID`).
    fn identity(&self) -> Result<LogIdentity, LogError>;
    /// Commits a small write (the time of this check), so that a health
    /// check fails on a disk that is full or a database that turned
    /// read-only, not only on one that cannot be read.
    fn check_writable(&self, now_ms: i64) -> Result<(), LogError>;
}

/// Which log this is and how far it has counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogIdentity {
    pub id: String,
    pub end: i64,
}

pub struct SqliteEventLog {
    conn: Mutex<Connection>,
}

fn sql(what: &'static str) -> impl FnOnce(rusqlite::Error) -> LogError {
    move |source| LogError::Sql { what, source }
}

/// The log as first released.
pub const MIGRATION: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT    NOT NULL UNIQUE,
    resource    TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    timestamp   INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    data        TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS events_received ON events (received_ms);
";

/// The call an event is about, and for the events that do not say whose
/// they are, the parties of that call.
pub const MIGRATION_CALL_ID: &str = "
ALTER TABLE events ADD COLUMN call_id INTEGER;
ALTER TABLE events ADD COLUMN subject TEXT;
";
pub const MIGRATION_CALL_INDEX: &str = "CREATE INDEX IF NOT EXISTS events_call ON events (call_id, seq);";

/// Whether the log has its call columns (see [`MIGRATION_CALL_ID`]).
pub(crate) fn has_call_id(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'call_id'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

impl SqliteEventLog {
    /// Opens (and migrates) the hub's database at `path` for its log.
    pub fn open(path: &Path) -> Result<Self, LogError> {
        Ok(Self::from_connection(super::open(path)?))
    }

    /// The log on a migrated connection (see [`super::Store`]).
    pub(crate) fn from_connection(conn: Connection) -> Self {
        Self {
            conn: Mutex::new(conn),
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // Every change is one transaction: a poisoned lock leaves nothing half-done.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// AI results that came before any event of their call (deliveries can be
/// out of order, and Aircall retries) could not be given to anyone: now that
/// the call is known, they go to the end of the log with its parties, so
/// that streams past them get them too. Same fingerprints: still once.
fn requeue_orphans(tx: &rusqlite::Transaction<'_>, call_id: i64, parties: &str) -> Result<(), LogError> {
    let orphans: Vec<(i64, String, String, String, i64, i64, String)> = {
        let mut statement = tx
            .prepare_cached(
                "SELECT seq, fingerprint, resource, event, timestamp, received_ms, data FROM events
                 WHERE call_id = ?1 AND resource != 'call' AND subject IS NULL ORDER BY seq",
            )
            .map_err(sql("finding early AI results"))?;
        let rows = statement
            .query_map(params![call_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .map_err(sql("finding early AI results"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("finding early AI results"))?
    };
    for (seq, fingerprint, resource, event, timestamp, received_ms, data) in orphans {
        tx.execute("DELETE FROM events WHERE seq = ?1", params![seq])
            .map_err(sql("moving an early AI result"))?;
        tx.execute(
            "INSERT INTO events (fingerprint, resource, event, timestamp, received_ms, data, call_id, subject)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![fingerprint, resource, event, timestamp, received_ms, data, call_id, parties],
        )
        .map_err(sql("moving an early AI result"))?;
    }
    Ok(())
}

impl EventLog for SqliteEventLog {
    fn append(&self, event: &WebhookEvent, received_ms: i64) -> Result<Appended, LogError> {
        let fingerprint = event.fingerprint();
        let mut conn = self.conn();
        // One transaction that writes from the start: another process on the
        // same file waits, so the look-up and the insert cannot interleave,
        // and a duplicate does not use up a sequence number.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql("starting an append"))?;
        let known: Option<i64> = tx
            .query_row(
                "SELECT seq FROM events WHERE fingerprint = ?1",
                params![fingerprint],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("looking for a delivered event"))?;
        if let Some(seq) = known {
            return Ok(Appended::Duplicate(seq));
        }
        let call_id = event.call_id();
        let subject = match call_id {
            Some(call_id) if event.resource != "call" => tx
                .query_row(
                    "SELECT data FROM events WHERE call_id = ?1 AND resource = 'call' ORDER BY seq DESC LIMIT 1",
                    params![call_id],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(sql("finding the call of an event"))?
                .and_then(|data| serde_json::from_str::<Value>(&data).ok())
                .map(|call| parties_of(&call).to_string()),
            _ => None,
        };
        tx.execute(
            "INSERT INTO events (fingerprint, resource, event, timestamp, received_ms, data, call_id, subject)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                fingerprint,
                event.resource,
                event.event,
                event.timestamp,
                received_ms,
                event.data.to_string(),
                call_id,
                subject
            ],
        )
        .map_err(sql("appending an event"))?;
        let seq = tx.last_insert_rowid();
        if let (Some(call_id), "call") = (call_id, event.resource.as_str()) {
            requeue_orphans(&tx, call_id, &parties_of(&event.data).to_string())?;
        }
        tx.commit().map_err(sql("committing an event"))?;
        Ok(Appended::New(seq))
    }

    fn after(&self, after: i64, limit: u32) -> Result<Vec<StoredEvent>, LogError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT seq, resource, event, timestamp, received_ms, data, subject FROM events
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(sql("reading events"))?;
        let rows = statement
            .query_map(params![after, limit], |r| {
                let data: String = r.get(5)?;
                let subject: Option<String> = r.get(6)?;
                Ok(StoredEvent {
                    subject: subject.and_then(|s| serde_json::from_str(&s).ok()),
                    seq: r.get(0)?,
                    resource: r.get(1)?,
                    event: r.get(2)?,
                    timestamp: r.get(3)?,
                    received_ms: r.get(4)?,
                    // Stored from a parsed value: it parses again.
                    data: serde_json::from_str(&data).unwrap_or(Value::Null),
                })
            })
            .map_err(sql("reading events"))?;
        rows.collect::<Result<_, _>>().map_err(sql("reading events"))
    }

    fn prune(&self, before_ms: i64) -> Result<usize, LogError> {
        self.conn()
            .execute("DELETE FROM events WHERE received_ms < ?1", params![before_ms])
            .map_err(sql("pruning old events"))
    }

    fn len(&self) -> Result<u64, LogError> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .map_err(sql("counting events"))
    }

    fn check_writable(&self, now_ms: i64) -> Result<(), LogError> {
        self.conn()
            .execute(
                "INSERT INTO hub_state (key, value) VALUES ('health_checked_ms', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![now_ms.to_string()],
            )
            .map(|_| ())
            .map_err(sql("writing the health check"))
    }

    fn identity(&self) -> Result<LogIdentity, LogError> {
        let conn = self.conn();
        let id = super::hub_state::log_id(&conn).map_err(sql("reading the log's identity"))?;
        // AUTOINCREMENT keeps the highest number ever handed out, pruned or not.
        let end: Option<i64> = conn
            .query_row("SELECT seq FROM sqlite_sequence WHERE name = 'events'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql("reading the log's last number"))?;
        Ok(LogIdentity {
            id,
            end: end.unwrap_or(0),
        })
    }

    fn parties_of_call(&self, call_id: i64) -> Result<Option<Value>, LogError> {
        let conn = self.conn();
        let subject: Option<Option<String>> = conn
            .query_row(
                "SELECT subject FROM events WHERE call_id = ?1 AND resource != 'call' ORDER BY seq DESC LIMIT 1",
                params![call_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("finding the call of an event"))?;
        Ok(subject.flatten().and_then(|s| serde_json::from_str(&s).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str, id: i64) -> WebhookEvent {
        WebhookEvent {
            resource: "call".into(),
            event: name.into(),
            timestamp: 1_700_000_000,
            data: json!({"id": id, "direction": "inbound"}),
        }
    }

    #[test]
    fn events_keep_their_order_and_a_retried_delivery_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = SqliteEventLog::open(&dir.path().join("events.sqlite3")).unwrap();
        assert_eq!(
            log.append(&event("call.created", 1), 10).unwrap(),
            Appended::New(1)
        );
        assert_eq!(
            log.append(&event("call.ringing_on_agent", 1), 11).unwrap(),
            Appended::New(2)
        );
        assert_eq!(
            log.append(&event("call.created", 1), 12).unwrap(),
            Appended::Duplicate(1)
        );
        assert_eq!(
            log.append(&event("call.created", 2), 13).unwrap(),
            Appended::New(3)
        );
        let events = log.after(0, 10).unwrap();
        let order: Vec<(i64, &str)> = events.iter().map(|e| (e.seq, e.event.as_str())).collect();
        assert_eq!(
            order,
            vec![
                (1, "call.created"),
                (2, "call.ringing_on_agent"),
                (3, "call.created")
            ]
        );
        assert_eq!(log.after(2, 10).unwrap().len(), 1);
        assert_eq!(log.len().unwrap(), 3);
    }

    #[test]
    fn a_committed_event_is_there_after_a_reopen_and_pruning_never_reuses_a_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.sqlite3");
        {
            let log = SqliteEventLog::open(&path).unwrap();
            log.append(&event("call.created", 1), 1_000).unwrap();
            log.append(&event("call.ended", 1), 9_000).unwrap();
        }
        let log = SqliteEventLog::open(&path).unwrap();
        assert_eq!(log.len().unwrap(), 2);
        assert_eq!(log.prune(10_000).unwrap(), 2);
        assert!(log.is_empty().unwrap());
        assert_eq!(
            log.append(&event("call.created", 2), 11_000).unwrap(),
            Appended::New(3)
        );
    }

    #[test]
    fn an_ai_result_carries_the_parties_of_its_call() {
        let dir = tempfile::tempdir().unwrap();
        let log = SqliteEventLog::open(&dir.path().join("events.sqlite3")).unwrap();
        let call = |name: &str, user: Value| WebhookEvent {
            resource: "call".into(),
            event: name.into(),
            timestamp: 1_700_000_000,
            data: json!({"id": 7, "user": user, "number": {"id": 1001}}),
        };
        log.append(&call("call.created", Value::Null), 1).unwrap();
        log.append(&call("call.answered", json!({"id": 2001})), 2)
            .unwrap();
        let summary = WebhookEvent {
            resource: "summary".into(),
            event: "summary.created".into(),
            timestamp: 1_700_000_100,
            data: json!({"id": 1, "call_id": 7, "content": "Spoke about the role"}),
        };
        log.append(&summary, 3).unwrap();
        let events = log.after(2, 10).unwrap();
        assert_eq!(events[0].parties()["user"]["id"], 2001);
        assert_eq!(events[0].parties()["number"]["id"], 1001);
        assert_eq!(log.parties_of_call(7).unwrap().unwrap()["user"]["id"], 2001);
        // A call event speaks for itself.
        assert!(log.after(0, 1).unwrap()[0].subject.is_none());

        // A result that comes before its call waits for it, then follows it.
        let early = WebhookEvent {
            resource: "summary".into(),
            event: "summary.created".into(),
            timestamp: 1_700_000_200,
            data: json!({"id": 2, "call_id": 8, "content": "Early"}),
        };
        assert_eq!(log.append(&early, 4).unwrap(), Appended::New(4));
        let call8 = WebhookEvent {
            resource: "call".into(),
            event: "call.created".into(),
            timestamp: 1_700_000_100,
            data: json!({"id": 8, "user": {"id": 2002}, "number": {"id": 1003}}),
        };
        assert_eq!(log.append(&call8, 5).unwrap(), Appended::New(5));
        let tail = log.after(3, 10).unwrap();
        let order: Vec<(i64, &str)> = tail.iter().map(|e| (e.seq, e.event.as_str())).collect();
        assert_eq!(order, vec![(5, "call.created"), (6, "summary.created")]);
        assert_eq!(tail[1].parties()["user"]["id"], 2002);
        assert_eq!(
            log.append(&early, 7).unwrap(),
            Appended::Duplicate(6),
            "still once"
        );
    }
}
