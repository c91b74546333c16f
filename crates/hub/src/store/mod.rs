//! The hub's SQLite database: one file, WAL journal, versioned migrations.
//!
//! One module per table, each with its migration beside it and its reads
//! and writes: the event log ([`events`]), the desktops and their tokens
//! ([`desktops`]), the write claims ([`claims`]), the hub's own state
//! ([`hub_state`]: which Aircall webhook is its own). This module opens the
//! file and lists every migration once, in order; no table module knows
//! another's.
//!
//! The schema version lives in `PRAGMA user_version`. A database written by
//! a newer hub is refused rather than opened by code that does not know
//! its tables.

pub mod claims;
pub mod desktops;
pub mod events;
pub mod hub_state;

use desktops::Desktops;
use events::SqliteEventLog;
use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};

/// Each entry moves the schema one version up; never edit a released one,
/// add a new one.
///
/// Hubs before the schema version created their tables as they opened
/// them: version 1 is written (`IF NOT EXISTS`) to be safe on such a file.
const MIGRATIONS: &[&[&str]] = &[
    // 1: the event log as first released, the desktops, the claims, the
    // hub's state.
    &[
        events::MIGRATION,
        desktops::MIGRATION,
        claims::MIGRATION,
        hub_state::MIGRATION,
    ],
    // 2: the call an event is about, and the parties of that call.
    &[events::MIGRATION_CALL_ID, events::MIGRATION_CALL_INDEX],
    // 3: a claim's holder is a desktop on one computer; its renewals counted.
    &[claims::MIGRATION_COMPUTER],
    // 4: the log's identity.
    &[hub_state::MIGRATION_LOG_ID],
];

pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the hub's database cannot be opened at {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "the hub's database {path} was written by a newer callcard-hub (schema {found}, this \
         version knows up to {supported}); update the hub"
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("the hub's database {path} cannot be upgraded to schema {version}: {source}")]
    Migrate {
        path: PathBuf,
        version: u32,
        source: rusqlite::Error,
    },
    #[error("cannot {what} {path}: {source}")]
    Copy {
        what: &'static str,
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path} is not a backup of a team hub's database: {why}")]
    NotABackup { path: PathBuf, why: String },
    #[error("{0} is already there: name a new file for the backup")]
    BackupExists(PathBuf),
}

/// The hub's tables in one database, migrated once.
pub struct Store {
    pub events: SqliteEventLog,
    pub desktops: Desktops,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let events = SqliteEventLog::from_connection(open(path)?);
        // Already migrated: the second connection only needs its settings.
        let desktops = Desktops::from_connection(connect(path)?);
        Ok(Self { events, desktops })
    }
}

/// A connection to the database at `path`, migrated to [`SCHEMA_VERSION`].
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = connect(path)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// A connection with the hub's settings, not migrated.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(open_error)?;
    // WAL for readers beside the writer; FULL so that a committed event is
    // on disk before Aircall is told so. The hub, its admin commands and the
    // tests open the same file from several processes: they wait their turn.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 5000;",
    )
    .map_err(open_error)?;
    Ok(conn)
}

/// Copies the database at `database` to a new file `to` while the hub
/// runs: one consistent snapshot (SQLite's `VACUUM INTO`, inside a read
/// transaction), checked once written.
pub fn backup(database: &Path, to: &Path) -> Result<(), StoreError> {
    if to.exists() {
        return Err(StoreError::BackupExists(to.to_owned()));
    }
    let conn = open(database)?;
    let copy_error = |what| {
        move |source| StoreError::Copy {
            what,
            path: to.to_owned(),
            source,
        }
    };
    let target = to.to_string_lossy().into_owned();
    conn.execute("VACUUM INTO ?1", [&target])
        .map_err(copy_error("write the backup"))?;
    check_backup(to).map(|_| ())
}

/// Whether `path` holds a hub database this hub can take (its schema
/// version, its log, SQLite's own check); its schema version.
fn check_backup(path: &Path) -> Result<u32, StoreError> {
    let not_a_backup = |why: String| StoreError::NotABackup {
        path: path.to_owned(),
        why,
    };
    if !path.is_file() {
        return Err(not_a_backup("no such file".into()));
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| not_a_backup(e.to_string()))?;
    let found = version(&conn).map_err(|e| not_a_backup(e.to_string()))?;
    if found == 0 || found > SCHEMA_VERSION {
        return Err(not_a_backup(format!(
            "its schema version is {found} (this hub reads 1 to {SCHEMA_VERSION})"
        )));
    }
    let checked: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| not_a_backup(e.to_string()))?;
    if checked != "ok" {
        return Err(not_a_backup(format!("SQLite finds it damaged: {checked}")));
    }
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
        .map_err(|e| not_a_backup(format!("it has no event log ({e})")))?;
    Ok(found)
}

/// Replaces the database at `database` with the backup `from` (checked
/// first; the hub must be stopped), migrated to this hub's schema, and
/// gives the restored log a new identity: the desktops' checkpoints count
/// in the old log's numbers, and they must know (see
/// [`hub_state::MIGRATION_LOG_ID`]).
pub fn restore(database: &Path, from: &Path) -> Result<events::LogIdentity, StoreError> {
    check_backup(from)?;
    let mut conn = connect(database)?;
    let copy_error = |what| {
        move |source| StoreError::Copy {
            what,
            path: from.to_owned(),
            source,
        }
    };
    // SQLite's backup API, page by page under its locks: the WAL and any
    // reader of the old file see the restored database whole, never half.
    conn.restore(
        rusqlite::DatabaseName::Main,
        from,
        None::<fn(rusqlite::backup::Progress)>,
    )
    .map_err(copy_error("restore from"))?;
    migrate(&mut conn, database)?;
    let id =
        hub_state::renew_log_id(&conn).map_err(copy_error("give a new identity to the log restored from"))?;
    let log = SqliteEventLog::from_connection(conn);
    let identity = events::EventLog::identity(&log).map_err(|e| StoreError::NotABackup {
        path: from.to_owned(),
        why: e.to_string(),
    })?;
    debug_assert_eq!(identity.id, id);
    tracing::info!(log_id = %identity.id, end = identity.end, "hub database restored");
    Ok(identity)
}

fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let open_error = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    if version(conn).map_err(open_error)? == SCHEMA_VERSION {
        return Ok(());
    }
    // One writer at a time, the version read again inside: another process
    // opening the same file does not run a migration twice.
    for (index, step) in MIGRATIONS.iter().enumerate() {
        let step_version = index as u32 + 1;
        let migrate_error = |source| StoreError::Migrate {
            path: path.to_owned(),
            version: step_version,
            source,
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(migrate_error)?;
        let found = version(&tx).map_err(migrate_error)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found >= step_version {
            continue;
        }
        // An unversioned hub added the call columns as it opened the log:
        // on its file they are there already (the index is made either way).
        let columns_there = step_version == 2 && events::has_call_id(&tx).map_err(migrate_error)?;
        for (n, part) in step.iter().enumerate() {
            if columns_there && n == 0 {
                continue;
            }
            tx.execute_batch(part).map_err(migrate_error)?;
        }
        tx.pragma_update(None, "user_version", step_version)
            .map_err(migrate_error)?;
        tx.commit().map_err(migrate_error)?;
        tracing::info!(version = step_version, "hub database schema upgraded");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_migrated_to_the_current_schema_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("hub.sqlite3")).unwrap();
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(conn);
        assert!(open(&dir.path().join("hub.sqlite3")).is_ok(), "reopened");
    }

    #[test]
    fn a_database_of_a_hub_before_the_schema_version_is_adopted_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sqlite3");
        {
            // As the unversioned hub left it: the log with its call columns.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(events::MIGRATION).unwrap();
            conn.execute_batch(events::MIGRATION_CALL_ID).unwrap();
            conn.execute_batch(events::MIGRATION_CALL_INDEX).unwrap();
            conn.execute(
                "INSERT INTO events (fingerprint, resource, event, timestamp, received_ms, data)
                 VALUES ('f', 'call', 'call.created', 1, 2, '{}')",
                [],
            )
            .unwrap();
        }
        let conn = open(&path).unwrap();
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        let kept: i64 = conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 1);
        let desktops: i64 = conn
            .query_row("SELECT COUNT(*) FROM desktops", [], |r| r.get(0))
            .unwrap();
        assert_eq!(desktops, 0, "the tables it lacked are made");
    }

    fn call_event(id: i64) -> events::WebhookEvent {
        events::WebhookEvent {
            resource: "call".into(),
            event: "call.created".into(),
            timestamp: 1_700_000_000 + id,
            data: serde_json::json!({"id": id}),
        }
    }

    #[test]
    fn a_backup_taken_while_the_log_grows_is_whole_and_a_restore_gives_the_log_a_new_identity() {
        use events::EventLog;
        let dir = tempfile::tempdir().unwrap();
        let (database, copy) = (dir.path().join("hub.sqlite3"), dir.path().join("backup.sqlite3"));
        let store = Store::open(&database).unwrap();
        for id in 1..=3 {
            store.events.append(&call_event(id), id).unwrap();
        }
        let first = store.events.identity().unwrap();
        assert_eq!(first.end, 3);
        assert_eq!(first.id.len(), 16, "64 bits in hex: {}", first.id);
        backup(&database, &copy).unwrap();
        assert!(
            matches!(backup(&database, &copy), Err(StoreError::BackupExists(_))),
            "a backup never overwrites a file"
        );
        for id in 4..=5 {
            store.events.append(&call_event(id), id).unwrap();
        }
        assert_eq!(
            store.events.identity().unwrap().id,
            first.id,
            "the same log as it grows"
        );

        let restored = restore(&database, &copy).unwrap();
        assert_ne!(restored.id, first.id, "a restored log is another log");
        assert_eq!(restored.end, 3, "the backup's numbers");
        // The running connections see the restored database whole.
        assert_eq!(store.events.len().unwrap(), 3);
        assert_eq!(store.events.identity().unwrap(), restored);
        assert_eq!(
            store.events.append(&call_event(6), 6).unwrap(),
            events::Appended::New(4),
            "the restored log counts on from its own end"
        );
        // Reopened, it is still the restored log.
        drop(store);
        assert_eq!(
            Store::open(&database).unwrap().events.identity().unwrap().id,
            restored.id
        );
    }

    #[test]
    fn a_file_that_is_not_a_hub_backup_is_refused_and_the_database_is_left_as_it_was() {
        use events::EventLog;
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("hub.sqlite3");
        let store = Store::open(&database).unwrap();
        store.events.append(&call_event(1), 1).unwrap();
        let before = store.events.identity().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database").unwrap();
        let other = dir.path().join("other.sqlite3");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); PRAGMA user_version = 1;")
            .unwrap();
        for bad in [text, other, dir.path().join("missing.sqlite3")] {
            let refused = restore(&database, &bad);
            assert!(
                matches!(refused, Err(StoreError::NotABackup { .. })),
                "{bad:?}: {refused:?}"
            );
        }
        assert_eq!(store.events.identity().unwrap(), before);
        assert_eq!(store.events.len().unwrap(), 1);
    }

    #[test]
    fn a_database_from_a_newer_hub_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sqlite3");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let Err(refused) = open(&path) else {
            panic!("a newer schema must be refused")
        };
        assert!(matches!(refused, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1));
    }
}
