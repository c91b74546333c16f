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
}
