//! The hub's own small facts, by key: which Aircall webhook is its own
//! (`callcard-hub webhook create` keeps its id; the token never is), and
//! the identity of the event log.

use rusqlite::{params, Connection, OptionalExtension};

pub const MIGRATION: &str =
    "CREATE TABLE IF NOT EXISTS hub_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

const WEBHOOK_ID: &str = "aircall_webhook_id";
const LOG_ID: &str = "log_id";

/// The log's identity, made with the database (64 random bits in hex): a
/// desktop that sees another one knows the log was reset or restored and
/// that its checkpoint counts in another log's numbers.
pub const MIGRATION_LOG_ID: &str = "
INSERT INTO hub_state (key, value)
SELECT 'log_id', lower(hex(randomblob(8)))
WHERE NOT EXISTS (SELECT 1 FROM hub_state WHERE key = 'log_id');
";

/// The identity of the event log (see [`MIGRATION_LOG_ID`]).
pub fn log_id(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row(
        "SELECT value FROM hub_state WHERE key = ?1",
        params![LOG_ID],
        |r| r.get(0),
    )
}

/// Gives the log a new identity (a restored log is not the one the
/// desktops followed, even where its first numbers are the same); returns it.
pub fn renew_log_id(conn: &Connection) -> rusqlite::Result<String> {
    conn.execute(
        "INSERT INTO hub_state (key, value) VALUES (?1, lower(hex(randomblob(8))))
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![LOG_ID],
    )?;
    log_id(conn)
}

/// The id of the hub's webhook at Aircall, when one is registered.
pub fn webhook_id(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT value FROM hub_state WHERE key = ?1",
        params![WEBHOOK_ID],
        |r| r.get(0),
    )
    .optional()
}

/// Keeps (or, with `None`, forgets) the id of the hub's webhook.
pub fn keep_webhook_id(conn: &Connection, id: Option<&str>) -> rusqlite::Result<()> {
    match id {
        Some(id) => conn.execute(
            "INSERT INTO hub_state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![WEBHOOK_ID, id],
        )?,
        None => conn.execute("DELETE FROM hub_state WHERE key = ?1", params![WEBHOOK_ID])?,
    };
    Ok(())
}
