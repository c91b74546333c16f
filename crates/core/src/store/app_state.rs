//! What the app remembers about itself, one row: whether the connect
//! window was shown once already (it opens by itself on the first run only),
//! and whether the user paused logging (a pause outlives a restart).

use super::{sql, Store, StoreError};

/// Migration 10 (with [`super::crm_identities::MIGRATION`]): the first-run
/// flag moves out of the checkpoints, which hold positions in feeds.
pub const MIGRATION: &str = "
CREATE TABLE app_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    welcome_shown INTEGER NOT NULL DEFAULT 0
);
INSERT INTO app_state (id, welcome_shown)
    SELECT 1, EXISTS (SELECT 1 FROM checkpoints WHERE name = 'welcome_shown');
DELETE FROM checkpoints WHERE name = 'welcome_shown';
";

/// Migration 11 (part): the pause, remembered.
pub const MIGRATION_PAUSED: &str = "ALTER TABLE app_state ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;";

impl Store {
    /// Whether the user paused logging (and has not resumed it).
    pub fn paused(&self) -> Result<bool, StoreError> {
        self.conn()
            .query_row("SELECT paused FROM app_state WHERE id = 1", [], |r| r.get(0))
            .map_err(sql("reading whether logging is paused"))
    }

    pub fn set_paused(&self, paused: bool) -> Result<(), StoreError> {
        self.conn()
            .execute("UPDATE app_state SET paused = ?1 WHERE id = 1", [paused])
            .map_err(sql("saving whether logging is paused"))?;
        Ok(())
    }

    /// True the first time it is asked, false ever after.
    pub fn first_welcome(&self) -> Result<bool, StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE app_state SET welcome_shown = 1 WHERE id = 1 AND welcome_shown = 0",
                [],
            )
            .map_err(sql("noting that the connect window was shown"))?;
        Ok(changed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_welcome_is_first_once_and_stays_shown_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let store = Store::open(&path).unwrap();
        assert!(store.first_welcome().unwrap());
        assert!(!store.first_welcome().unwrap());
        drop(store);
        assert!(!Store::open(&path).unwrap().first_welcome().unwrap());
    }

    #[test]
    fn a_pause_is_remembered_until_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let store = Store::open(&path).unwrap();
        assert!(!store.paused().unwrap());
        store.set_paused(true).unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        assert!(store.paused().unwrap());
        store.set_paused(false).unwrap();
        assert!(!store.paused().unwrap());
    }
}
