//! Who a CRM connection is (its account, and the user in it), kept so that
//! a start without the network can still queue writes under the right
//! account. One row per CRM and connection (OAuth client and identity
//! server: a sandbox is another connection).

use super::{sql, Store, StoreError};
use rusqlite::{params, OptionalExtension};

/// Migration 10 (with [`super::app_state::MIGRATION`]).
pub const MIGRATION: &str = "
CREATE TABLE crm_identities (
    crm        TEXT    NOT NULL,
    connection TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    user_id    TEXT,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (crm, connection)
);
";

/// A CRM connection's account and user, as the CRM named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmIdentity {
    pub account: String,
    pub user_id: Option<String>,
}

impl Store {
    pub fn keep_crm_identity(
        &self,
        crm: &str,
        connection: &str,
        identity: &CrmIdentity,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO crm_identities (crm, connection, account, user_id, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (crm, connection) DO UPDATE SET account = excluded.account,
                     user_id = excluded.user_id, updated_ms = excluded.updated_ms",
                params![crm, connection, identity.account, identity.user_id, now_ms],
            )
            .map_err(sql("keeping a CRM identity"))?;
        Ok(())
    }

    pub fn kept_crm_identity(&self, crm: &str, connection: &str) -> Result<Option<CrmIdentity>, StoreError> {
        self.conn()
            .query_row(
                "SELECT account, user_id FROM crm_identities WHERE crm = ?1 AND connection = ?2",
                params![crm, connection],
                |r| {
                    Ok(CrmIdentity {
                        account: r.get(0)?,
                        user_id: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(sql("reading a kept CRM identity"))
    }
}

impl Store {
    /// Everything kept under the account name `from` (queued writes, cards,
    /// picks, the phone index and its checkpoint, contact maps, imports, SMS
    /// conversations) now belongs to `to`: how a connection whose account
    /// was named otherwise by an older Callcard keeps its data. A row `to`
    /// already has stays as it is. Returns the rows moved.
    pub fn move_account(&self, crm: &str, from: &str, to: &str) -> Result<usize, StoreError> {
        const TABLES: [&str; 7] = [
            "outbox",
            "call_cards",
            "number_choices",
            "contact_imports",
            "contact_map",
            "phone_index",
            "sms_conversations",
        ];
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting to move an account"))?;
        let mut moved = 0;
        for table in TABLES {
            moved += tx
                .execute(
                    &format!("UPDATE OR IGNORE {table} SET account = ?3 WHERE crm = ?1 AND account = ?2"),
                    params![crm, from, to],
                )
                .map_err(sql("moving an account's rows"))?;
        }
        tx.execute(
            "UPDATE OR IGNORE checkpoints SET name = ?2 WHERE name = ?1",
            params![format!("index:{crm}:{from}"), format!("index:{crm}:{to}")],
        )
        .map_err(sql("moving an account's index checkpoint"))?;
        tx.commit().map_err(sql("moving an account"))?;
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_is_kept_per_crm_and_connection_and_replaced_by_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        let first = CrmIdentity {
            account: "48213".into(),
            user_id: Some("301".into()),
        };
        store
            .keep_crm_identity("crm", "client@server", &first, 1)
            .unwrap();
        assert_eq!(
            store.kept_crm_identity("crm", "client@server").unwrap(),
            Some(first)
        );
        assert_eq!(store.kept_crm_identity("crm", "client@other").unwrap(), None);
        let moved = CrmIdentity {
            account: "9".into(),
            user_id: None,
        };
        store
            .keep_crm_identity("crm", "client@server", &moved, 2)
            .unwrap();
        assert_eq!(
            store.kept_crm_identity("crm", "client@server").unwrap(),
            Some(moved)
        );
    }

    #[test]
    fn an_accounts_rows_move_to_its_new_name_and_other_accounts_stay() {
        use crate::crm::Write;
        use crate::outbox::{ItemKey, ItemKind};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        let key = |account: &str, call: &str| ItemKey {
            crm: "jobadder".into(),
            account: account.into(),
            call_id: call.into(),
            kind: ItemKind::Call,
            target: "candidate:1".into(),
        };
        let write = Write {
            reference: "r".into(),
            payload: serde_json::json!({}),
        };
        store.enqueue(&key("client-id", "1"), &write, None, 0).unwrap();
        store.enqueue(&key("other", "2"), &write, None, 0).unwrap();
        store.set_checkpoint("index:jobadder:client-id", 77).unwrap();

        assert_eq!(store.move_account("jobadder", "client-id", "Acme").unwrap(), 1);
        let accounts: Vec<String> = store
            .outbox_items(10)
            .unwrap()
            .into_iter()
            .map(|item| item.key.account)
            .collect();
        assert_eq!(accounts, vec!["Acme".to_owned(), "other".to_owned()]);
        assert_eq!(store.checkpoint("index:jobadder:Acme").unwrap(), Some(77));
        assert_eq!(store.checkpoint("index:jobadder:client-id").unwrap(), None);
    }
}
