//! The desktops a hub serves: one per Aircall user, each with its own
//! token. An admin adds a user by e-mail (the hub looks the user and their
//! numbers up in Aircall) and hands the printed token over once; the hub
//! keeps only the token's SHA-256 (tokens are 32 random bytes, so a fast
//! hash is enough), and a revoked token stops working at once.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    #[error(transparent)]
    Store(#[from] super::StoreError),
    #[error("the desktops table failed while {what}: {source}")]
    Sql {
        what: &'static str,
        source: rusqlite::Error,
    },
    #[error("no desktop user {0}")]
    Unknown(String),
    #[error("cannot make a token: {0}")]
    Random(String),
}

pub(crate) fn sql(what: &'static str) -> impl FnOnce(rusqlite::Error) -> DesktopError {
    move |source| DesktopError::Sql { what, source }
}

/// Whose events a desktop gets: its Aircall user, and the numbers that
/// user belongs to (calls ringing on a shared number, its SMS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Desktop {
    pub id: i64,
    pub email: String,
    pub aircall_user_id: i64,
    pub number_ids: Vec<i64>,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

impl Desktop {
    /// Whether a webhook event concerns this desktop's user: a call they
    /// are the user of, one ringing on or made from a number they belong
    /// to, one transferred to them; a message on one of their numbers.
    pub fn concerns(&self, data: &Value) -> bool {
        let is_me = |v: &Value| v["id"].as_i64() == Some(self.aircall_user_id);
        let mine_number = data["number"]["id"]
            .as_i64()
            .is_some_and(|id| self.number_ids.contains(&id));
        is_me(&data["user"])
            || is_me(&data["transferred_to"])
            || data["users"]
                .as_array()
                .is_some_and(|users| users.iter().any(is_me))
            || mine_number
    }
}

pub const MIGRATION: &str = "
CREATE TABLE IF NOT EXISTS desktops (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL,
    aircall_user_id INTEGER NOT NULL,
    number_ids      TEXT    NOT NULL,
    token_hash      TEXT    NOT NULL UNIQUE,
    created_ms      INTEGER NOT NULL,
    revoked_ms      INTEGER
);
";

/// The `desktops` table (and, through [`super::claims`], the `claims` table
/// on the same connection).
pub struct Desktops {
    conn: Mutex<Connection>,
}

/// A new token: `cch_` and 43 URL-safe characters (32 random bytes).
fn new_token() -> Result<String, DesktopError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| DesktopError::Random(e.to_string()))?;
    Ok(format!(
        "cch_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

fn token_hash(token: &str) -> String {
    crate::sha256_hex(&[token.as_bytes()])
}

impl Desktops {
    /// Opens (and migrates) the hub's database at `path` for its desktops.
    pub fn open(path: &Path) -> Result<Self, DesktopError> {
        Ok(Self::from_connection(super::open(path)?))
    }

    /// The desktops on a migrated connection (see [`super::Store`]).
    pub(crate) fn from_connection(conn: Connection) -> Self {
        Self {
            conn: Mutex::new(conn),
        }
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a desktop; returns it and its token, which is shown once and
    /// never kept.
    pub fn add(
        &self,
        email: &str,
        aircall_user_id: i64,
        number_ids: &[i64],
        now_ms: i64,
    ) -> Result<(Desktop, String), DesktopError> {
        let token = new_token()?;
        let numbers = serde_json::to_string(number_ids).unwrap_or_else(|_| "[]".into());
        let conn = self.conn();
        conn.execute(
            "INSERT INTO desktops (email, aircall_user_id, number_ids, token_hash, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![email.trim(), aircall_user_id, numbers, token_hash(&token), now_ms],
        )
        .map_err(sql("adding a desktop"))?;
        let desktop = Desktop {
            id: conn.last_insert_rowid(),
            email: email.trim().to_owned(),
            aircall_user_id,
            number_ids: number_ids.to_vec(),
            created_ms: now_ms,
            revoked_ms: None,
        };
        Ok((desktop, token))
    }

    /// The desktop a token opens, unless revoked.
    pub fn authenticate(&self, token: &str) -> Result<Option<Desktop>, DesktopError> {
        let conn = self.conn();
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM desktops WHERE token_hash = ?1 AND revoked_ms IS NULL"),
            params![token_hash(token.trim())],
            desktop,
        )
        .optional()
        .map_err(sql("checking a desktop token"))
    }

    /// Revokes every token of a user (by e-mail) or one desktop (by id).
    pub fn revoke(&self, who: &str, now_ms: i64) -> Result<usize, DesktopError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE desktops SET revoked_ms = ?2
                 WHERE revoked_ms IS NULL AND (lower(email) = lower(?1) OR CAST(id AS TEXT) = ?1)",
                params![who.trim(), now_ms],
            )
            .map_err(sql("revoking a desktop"))?;
        if changed == 0 {
            return Err(DesktopError::Unknown(who.to_owned()));
        }
        Ok(changed)
    }

    /// The ids of the revoked desktops (what open streams are checked against).
    pub fn revoked_ids(&self) -> Result<std::collections::HashSet<i64>, DesktopError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached("SELECT id FROM desktops WHERE revoked_ms IS NOT NULL")
            .map_err(sql("listing revoked desktops"))?;
        let rows = statement
            .query_map([], |r| r.get(0))
            .map_err(sql("listing revoked desktops"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("listing revoked desktops"))
    }

    pub fn list(&self) -> Result<Vec<Desktop>, DesktopError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(&format!("SELECT {COLUMNS} FROM desktops ORDER BY id"))
            .map_err(sql("listing desktops"))?;
        let rows = statement
            .query_map([], desktop)
            .map_err(sql("listing desktops"))?;
        rows.collect::<Result<_, _>>().map_err(sql("listing desktops"))
    }
}

const COLUMNS: &str = "id, email, aircall_user_id, number_ids, created_ms, revoked_ms";

fn desktop(r: &rusqlite::Row<'_>) -> rusqlite::Result<Desktop> {
    let numbers: String = r.get(3)?;
    Ok(Desktop {
        id: r.get(0)?,
        email: r.get(1)?,
        aircall_user_id: r.get(2)?,
        number_ids: serde_json::from_str(&numbers).unwrap_or_default(),
        created_ms: r.get(4)?,
        revoked_ms: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_token_opens_its_desktop_until_revoked_and_only_its_hash_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sqlite3");
        let desktops = Desktops::open(&path).unwrap();
        let (alex, token) = desktops.add("alex@example.com", 2001, &[1001, 1002], 5).unwrap();
        assert!(token.starts_with("cch_") && token.len() == 4 + 43, "{token}");
        let (_, other) = desktops.add("sam@example.com", 2002, &[1002], 6).unwrap();
        assert_ne!(token, other);
        assert_eq!(desktops.authenticate(&token).unwrap(), Some(alex.clone()));
        assert_eq!(desktops.authenticate("cch_forged").unwrap(), None);
        let file = std::fs::read(&path).unwrap();
        assert!(
            !file.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token itself is not in the database"
        );
        assert_eq!(desktops.revoke("ALEX@example.com", 9).unwrap(), 1);
        assert_eq!(desktops.authenticate(&token).unwrap(), None);
        assert!(desktops.authenticate(&other).unwrap().is_some());
        assert!(matches!(
            desktops.revoke("nobody@example.com", 9),
            Err(DesktopError::Unknown(_))
        ));
    }

    #[test]
    fn a_desktop_gets_its_users_calls_its_numbers_calls_transfers_and_messages() {
        let alex = Desktop {
            id: 1,
            email: "alex@example.com".into(),
            aircall_user_id: 2001,
            number_ids: vec![1001],
            created_ms: 0,
            revoked_ms: None,
        };
        assert!(alex.concerns(&json!({"id": 1, "user": {"id": 2001}, "number": {"id": 1009}})));
        assert!(
            alex.concerns(&json!({"id": 2, "user": null, "number": {"id": 1001}})),
            "ringing on a shared number"
        );
        assert!(alex.concerns(&json!({"id": 3, "user": {"id": 2002}, "transferred_to": {"id": 2001}})));
        assert!(
            alex.concerns(&json!({"id": "m1", "number": {"id": 1001}, "body": "hi"})),
            "an SMS"
        );
        assert!(!alex.concerns(&json!({"id": 4, "user": {"id": 2002}, "number": {"id": 1002}})));
        assert!(!alex.concerns(&json!({"id": 5})));
    }
}
