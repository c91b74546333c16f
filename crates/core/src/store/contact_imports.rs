//! Contact imports' progress (`contact_imports`): where an import stopped,
//! saved after every contact so a resumed import skips what was done.

use super::{sql, Store, StoreError};
use crate::contact_import::ImportProgress;
use crate::crm::CrmAccount;
use rusqlite::{params, OptionalExtension};

/// Migration 7: contact imports.
pub const MIGRATION: &str = "
CREATE TABLE contact_imports (
    crm         TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    cursor      TEXT,
    done        INTEGER NOT NULL,
    total       INTEGER,
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    error       TEXT,
    PRIMARY KEY (crm, account)
);
";

/// Migration 8: how far into its page an import is (progress per contact).
pub const MIGRATION_PAGE_DONE: &str = "
ALTER TABLE contact_imports ADD COLUMN page_done INTEGER NOT NULL DEFAULT 0;
";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImportProgress> {
    Ok(ImportProgress {
        crm: r.get(0)?,
        account: r.get(1)?,
        cursor: r.get(2)?,
        done: r.get::<_, i64>(3)?.max(0) as u64,
        total: r.get::<_, Option<i64>>(4)?.map(|t| t.max(0) as u64),
        started_ms: r.get(5)?,
        finished_ms: r.get(6)?,
        error: r.get(7)?,
        page_done: r.get::<_, i64>(8)?.max(0) as u64,
    })
}

const COLUMNS: &str = "crm, account, cursor, done, total, started_ms, finished_ms, error, page_done";

impl Store {
    pub fn import_progress(&self, account: &CrmAccount) -> Result<Option<ImportProgress>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM contact_imports WHERE crm = ?1 AND account = ?2"),
                params![account.crm, account.account],
                row,
            )
            .optional()
            .map_err(sql("reading an import's progress"))
    }

    /// Every import there has been, for the settings window.
    pub fn imports(&self) -> Result<Vec<ImportProgress>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM contact_imports ORDER BY crm, account"
            ))
            .map_err(sql("reading imports"))?;
        let rows = statement.query_map([], row).map_err(sql("reading imports"))?;
        rows.collect::<Result<_, _>>().map_err(sql("reading imports"))
    }

    pub fn save_import_progress(&self, progress: &ImportProgress) -> Result<(), StoreError> {
        self.conn()
            .execute(
                &format!("INSERT OR REPLACE INTO contact_imports ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![
                    progress.crm,
                    progress.account,
                    progress.cursor,
                    progress.done as i64,
                    progress.total.map(|t| t as i64),
                    progress.started_ms,
                    progress.finished_ms,
                    progress.error,
                    progress.page_done as i64,
                ],
            )
            .map_err(sql("saving an import's progress"))?;
        Ok(())
    }
}
