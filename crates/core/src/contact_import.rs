//! Where an "Import existing contacts" run stands, per CRM account: the
//! cursor of the page it is in and how far into that page, how many
//! contacts are done out of how many, and whether it finished. Saved after
//! every contact, so the progress bar moves at Aircall's pace and an
//! interrupted import (quit, crash, network) resumes where it was.

use crate::crm::CrmAccount;
use serde::Serialize;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

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
