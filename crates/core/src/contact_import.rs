//! Where an "Import existing contacts" run stands, per CRM account: the
//! cursor of the page it is in and how far into that page, how many
//! contacts are done out of how many, and whether it finished. Saved after
//! every contact, so the progress bar moves at Aircall's pace and an
//! interrupted import (quit, crash, network) resumes where it was.

use crate::crm::CrmAccount;
use crate::store::{sql, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// Migration 8: how far into its page an import is (progress per contact).
pub const MIGRATION_PAGE_DONE: &str = "
ALTER TABLE contact_imports ADD COLUMN page_done INTEGER NOT NULL DEFAULT 0;
";

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportProgress {
    pub crm: String,
    pub account: String,
    /// Where the page being imported starts; `None` for the first page.
    pub cursor: Option<String>,
    /// How many contacts of that page are done.
    pub page_done: u64,
    /// Contacts gone through (brought to Aircall or already in step).
    pub done: u64,
    pub total: Option<u64>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    /// Why the last run stopped early, if it did.
    pub error: Option<String>,
}

impl ImportProgress {
    pub fn start(account: &CrmAccount, now_ms: i64) -> Self {
        Self {
            crm: account.crm.clone(),
            account: account.account.clone(),
            cursor: None,
            page_done: 0,
            done: 0,
            total: None,
            started_ms: now_ms,
            finished_ms: None,
            error: None,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished_ms.is_some()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let account = CrmAccount {
            crm: "crm".into(),
            account: "48213".into(),
        };
        let mut progress = ImportProgress::start(&account, 5);
        progress.cursor = Some("Y3Vyc29yOjEwMA".into());
        progress.page_done = 17;
        progress.done = 117;
        progress.total = Some(1000);
        Store::open(&path)
            .unwrap()
            .save_import_progress(&progress)
            .unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.import_progress(&account).unwrap(), Some(progress.clone()));
        assert_eq!(store.imports().unwrap(), vec![progress]);
    }
}
