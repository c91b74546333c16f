//! A user's database from before the typed tables (schema 8, as the
//! previous release left it, with its data) upgrades in place: nothing is
//! lost, and what was read from text or kept among the checkpoints is now
//! in its own column or table.

use callcard_core::outbox::ItemState;
use callcard_core::store::SCHEMA_VERSION;
use callcard_core::{Settings, Store};
use rusqlite::{params, Connection};

/// Schema 8 exactly as released (a dump of its `sqlite_master`).
fn schema_8(db: &Connection) {
    db.execute_batch(include_str!("fixtures/schema-8.sql")).unwrap();
    db.pragma_update(None, "user_version", 8).unwrap();
}

fn outbox_row(db: &Connection, call_id: &str, state: &str, last_error: Option<&str>) {
    db.execute(
        "INSERT INTO outbox (crm, account, call_id, kind, target, payload, state, next_attempt_ms, last_error,
             created_ms, updated_ms) VALUES ('crm', 'acct', ?1, 'call', 'contact:1', '{}', ?2, 9000000, ?3, 1, 1)",
        params![call_id, state, last_error],
    )
    .unwrap();
}

#[test]
fn a_schema_8_database_upgrades_in_place_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callcard.sqlite3");
    {
        let db = Connection::open(&path).unwrap();
        schema_8(&db);
        // Settings as an older release wrote them (contact sync by `<crm>_to_aircall`).
        db.execute(
            "INSERT INTO settings (id, json, updated_ms) VALUES (1, ?1, 1)",
            [
                r#"{"crms": {"jobadder": false, "sellsy": true}, "look_back_days": 3,
                 "contact_sync": {"jobadder_to_aircall": true, "sellsy_to_aircall": false}}"#,
            ],
        )
        .unwrap();
        // One log waiting for a sign-in (known then only by its error text), one written.
        outbox_row(
            &db,
            "7",
            "pending",
            Some("the connection to the CRM needs to be renewed: refresh refused"),
        );
        outbox_row(&db, "8", "done", None);
        outbox_row(&db, "9", "pending", Some("temporary failure: 503"));
        db.execute_batch(
            "INSERT INTO checkpoints (name, value) VALUES ('welcome_shown', 1);
             INSERT INTO checkpoints (name, value) VALUES ('aircall_polled_until', 1700000000);",
        )
        .unwrap();
    }

    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    const { assert!(SCHEMA_VERSION >= 10) };

    let settings: Settings = store.load_settings().unwrap();
    assert_eq!(settings.look_back_days, 3);
    let json = serde_json::to_value(&settings).unwrap();
    assert_eq!(
        json["crms"],
        serde_json::json!({"jobadder": false, "sellsy": true})
    );
    assert_eq!(
        json["contact_sync"],
        serde_json::json!({"jobadder": true, "sellsy": false})
    );

    // The wait for a sign-in is a column now, set for the one item that waited.
    assert!(store.outbox_waits_for_login().unwrap());
    assert_eq!(
        store.retry_waiting_for_login(5).unwrap(),
        1,
        "only the item that waited"
    );
    let items = store.outbox_items(10).unwrap();
    assert_eq!(items.len(), 3, "no outbox item lost");
    assert_eq!(items.iter().filter(|i| i.state == ItemState::Done).count(), 1);

    // The first-run flag left the checkpoints and was carried over.
    assert!(
        !store.first_welcome().unwrap(),
        "the connect window was shown before"
    );
    assert_eq!(store.checkpoint("welcome_shown").unwrap(), None);
    assert_eq!(
        store.checkpoint("aircall_polled_until").unwrap(),
        Some(1_700_000_000),
        "the poll checkpoint is kept"
    );
    drop(store);
    // Opening again changes nothing.
    let again = Store::open(&path).unwrap();
    assert_eq!(again.outbox_items(10).unwrap().len(), 3);
}

#[test]
fn the_migrations_up_to_8_still_make_the_released_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (released, rebuilt) = (
        dir.path().join("released.sqlite3"),
        dir.path().join("rebuilt.sqlite3"),
    );
    schema_8(&Connection::open(&released).unwrap());
    callcard_core::store::create_at_version(&rebuilt, 8).unwrap();
    let tables = |path: &std::path::Path| -> Vec<(String, String)> {
        let db = Connection::open(path).unwrap();
        let mut statement = db
            .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        let rows = statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows
    };
    assert_eq!(tables(&rebuilt), tables(&released));
}

#[test]
fn a_new_database_shows_the_welcome_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("new.sqlite3")).unwrap();
    assert!(store.first_welcome().unwrap());
    assert!(!store.outbox_waits_for_login().unwrap());
}
