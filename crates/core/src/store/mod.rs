//! The SQLite store: one file, WAL journal, versioned migrations.
//!
//! One module per table (or per small family of tables), each with its
//! migration beside it and its reads and writes as `Store` methods; no
//! module touches another's table. This module is their router: it opens
//! the file and lists every migration once, in order.
//!
//! The schema version lives in `PRAGMA user_version`. A database written by a
//! newer Callcard is refused with a clear message rather than opened and
//! possibly damaged by code that does not know its tables.

mod app_state;
mod calls;
mod cards;
mod contact_imports;
mod contact_map;
mod crm_identities;
pub mod outbox;
mod phone_index;
mod poll_backlog;
mod pushed_calls;
mod retention;
mod sms_conversations;
mod sms_inbox;

pub use calls::Queued;
pub use crm_identities::CrmIdentity;
pub use poll_backlog::{BacklogSlice, CatchUp};
pub use retention::Pruned;
pub use sms_conversations::{SmsConversation, SmsLine};

use crate::settings::{FieldError, Settings};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Each entry moves the schema one version up; never edit a released one,
/// add a new one.
const MIGRATIONS: &[&[&str]] = &[
    // 1: settings, stored whole as JSON so that new fields take their defaults.
    &["CREATE TABLE settings (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        json       TEXT    NOT NULL,
        updated_ms INTEGER NOT NULL
    );"],
    // 2: the outbox of CRM writes.
    &[outbox::MIGRATION],
    // 3: the call tracker's stages and the poll checkpoint.
    &[calls::MIGRATION],
    // 4: insight cards posted, per call.
    &[calls::MIGRATION_CARDS],
    // 5: AI updates logged, caller cards and the user's picks, the local
    // phone index, the Aircall contact of each number.
    &[
        calls::MIGRATION_AI_LOGGED,
        cards::MIGRATION,
        phone_index::MIGRATION,
        contact_map::MIGRATION,
    ],
    // 6: a card per call and CRM (both CRMs at once).
    &[cards::MIGRATION_CARDS_PER_CRM],
    // 7: contact imports' progress.
    &[contact_imports::MIGRATION],
    // 8: an import's progress within its page.
    &[contact_imports::MIGRATION_PAGE_DONE],
    // 9: the outbox's wait for a new sign-in, as a column.
    &[outbox::MIGRATION_WAITING_FOR_LOGIN],
    // 10: the first-run flag and the CRM identities in tables of their own
    // (they were kept among the checkpoints).
    &[app_state::MIGRATION, crm_identities::MIGRATION],
    // 11: what each call is queued in per CRM, the open calls' index, the
    // stretches of past calls still to be read (catch-up), the pause.
    &[
        calls::MIGRATION_LOGGED_PER_CRM,
        poll_backlog::MIGRATION,
        app_state::MIGRATION_PAUSED,
    ],
    // 12: what the team hub pushed about each call.
    &[pushed_calls::MIGRATION],
    // 13: the open SMS conversation note per record, and the SMS to log.
    &[sms_conversations::MIGRATION, sms_inbox::MIGRATION],
    // 14: calls given up on, with the reason.
    &[calls::MIGRATION_NOT_LOGGED],
    // 15: the indexes behind the history's lists and pruning.
    &[retention::MIGRATION],
];

/// A database at an older schema `version`, as that release created it
/// (migrations are never edited): for the tests of upgrades.
pub fn create_at_version(path: &Path, version: u32) -> Result<(), StoreError> {
    let mut conn = Connection::open(path).map_err(|source| StoreError::Open {
        path: path.to_owned(),
        source,
    })?;
    let tx = conn.transaction().map_err(sql("creating an old schema"))?;
    for step in MIGRATIONS.iter().take(version as usize) {
        for part in step.iter() {
            tx.execute_batch(part).map_err(sql("creating an old schema"))?;
        }
    }
    tx.pragma_update(None, "user_version", version)
        .map_err(sql("creating an old schema"))?;
    tx.commit().map_err(sql("creating an old schema"))
}

pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "the database {path} was written by a newer version of Callcard (schema {found}, this \
         version knows up to {supported}); update Callcard, or move the file away to start afresh"
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("cannot upgrade the database {path} to schema {version}: {source}")]
    Migrate {
        path: PathBuf,
        version: u32,
        source: rusqlite::Error,
    },
    #[error("database error while {doing}: {source}")]
    Sql {
        doing: &'static str,
        source: rusqlite::Error,
    },
    #[error("the stored settings cannot be read: {0}")]
    CorruptSettings(serde_json::Error),
    #[error("invalid settings: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidSettings(Vec<FieldError>),
}

pub(crate) fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// Wraps a SQLite error with what the store was doing.
pub(crate) fn sql(doing: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sql { doing, source }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        // WAL lets the UI read while the dispatcher writes; FULL sync because a
        // call log must survive a power cut, not only a crash.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        let mut store = Self {
            conn,
            path: path.to_owned(),
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// For the modules that keep their tables in this database (the outbox).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sql("reading the schema version"))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (index, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let version = index as u32 + 1;
            let migrate_err = |source| StoreError::Migrate {
                path: self.path.clone(),
                version,
                source,
            };
            // Schema change and version bump in one transaction: a crash
            // leaves the database at the old version, never half-way.
            let tx = self.conn.transaction().map_err(migrate_err)?;
            for part in step.iter() {
                tx.execute_batch(part).map_err(migrate_err)?;
            }
            tx.pragma_update(None, "user_version", version)
                .map_err(migrate_err)?;
            tx.commit().map_err(migrate_err)?;
            tracing::info!(version, "database schema upgraded");
        }
        Ok(())
    }

    /// The saved settings, or the defaults when none were saved yet.
    pub fn load_settings(&self) -> Result<Settings, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT json FROM settings WHERE id = 1", [], |row| row.get(0))
            .optional()
            .map_err(sql("loading settings"))?;
        match json {
            None => Ok(Settings::default()),
            Some(json) => serde_json::from_str(&json).map_err(StoreError::CorruptSettings),
        }
    }

    /// Validates, then saves; invalid settings are never written.
    pub fn save_settings(&self, settings: &Settings, now_ms: i64) -> Result<(), StoreError> {
        settings.validate().map_err(StoreError::InvalidSettings)?;
        let json = serde_json::to_string(settings).map_err(StoreError::CorruptSettings)?;
        self.conn
            .execute(
                "INSERT INTO settings (id, json, updated_ms) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET json = excluded.json, updated_ms = excluded.updated_ms",
                rusqlite::params![json, now_ms],
            )
            .map_err(sql("saving settings"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.sqlite3");
        (dir, path)
    }

    #[test]
    fn a_new_database_is_migrated_to_the_current_schema_in_wal_mode() {
        let (_dir, path) = temp_db();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn reopening_does_not_migrate_twice() {
        let (_dir, path) = temp_db();
        Store::open(&path).unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused_with_a_clear_message() {
        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 3)
                .unwrap();
        }
        let err = Store::open(&path).err().expect("must refuse");
        assert!(matches!(err, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 3));
        assert!(err.to_string().contains("newer version of Callcard"), "{err}");
    }

    #[test]
    fn settings_default_until_saved_then_round_trip() {
        let (_dir, path) = temp_db();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load_settings().unwrap(), Settings::default());
        let changed = Settings {
            settle_delay_secs: 90,
            connected_numbers: vec![101, 202],
            ..Settings::default()
        };
        store.save_settings(&changed, 1).unwrap();
        drop(store);
        let reopened = Store::open(&path).unwrap();
        assert_eq!(reopened.load_settings().unwrap(), changed);
    }

    #[test]
    fn invalid_settings_are_never_written() {
        let (_dir, path) = temp_db();
        let store = Store::open(&path).unwrap();
        let bad = Settings {
            settle_delay_secs: 10_000,
            ..Settings::default()
        };
        let err = store.save_settings(&bad, 1).unwrap_err();
        assert!(matches!(err, StoreError::InvalidSettings(ref e) if e[0].field == "settle_delay_secs"));
        assert_eq!(store.load_settings().unwrap(), Settings::default());
    }

    #[test]
    fn corrupt_stored_settings_are_reported_not_replaced() {
        let (_dir, path) = temp_db();
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO settings (id, json, updated_ms) VALUES (1, '{not json', 0)",
                [],
            )
            .unwrap();
        assert!(matches!(
            store.load_settings(),
            Err(StoreError::CorruptSettings(_))
        ));
    }
}
