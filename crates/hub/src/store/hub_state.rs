//! The hub's own small facts, by key: which Aircall webhook is its own
//! (`callcard-hub webhook create` keeps its id; the token never is).

use rusqlite::{params, Connection, OptionalExtension};

pub const MIGRATION: &str =
    "CREATE TABLE IF NOT EXISTS hub_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

const WEBHOOK_ID: &str = "aircall_webhook_id";

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
