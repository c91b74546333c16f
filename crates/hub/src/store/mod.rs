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
