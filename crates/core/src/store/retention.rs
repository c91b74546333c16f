//! Retention: what the windows no longer show and no write needs is pruned
//! (done outbox items, caller cards, tracked calls and the lists beside
//! them, older than the setting: 90 days by default), and every list the
//! windows show reads an index instead of sorting a whole table.

use super::{sql, Store, StoreError};
use rusqlite::params;

/// Migration 15: the indexes behind the history window's lists and pruning.
pub const MIGRATION: &str = "
CREATE INDEX outbox_updated ON outbox (updated_ms);
CREATE INDEX outbox_open ON outbox (state, updated_ms);
CREATE INDEX outbox_depends ON outbox (depends_on);
CREATE INDEX call_cards_seen ON call_cards (seen_ms, call_id);
CREATE INDEX tracked_calls_updated ON tracked_calls (updated_ms);
CREATE INDEX tracked_calls_final_due ON tracked_calls (stage, final_due_ms);
";

/// What one pruning removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub outbox_items: usize,
    pub cards: usize,
    pub calls: usize,
    pub other: usize,
}

impl Pruned {
    pub fn total(&self) -> usize {
        self.outbox_items + self.cards + self.calls + self.other
    }
}

impl Store {
    /// Removes what is older than `cutoff_ms` and finished: done outbox items
    /// (unless an item that stays follows one), cards, calls whose log is
    /// settled, calls given up on, SMS from unknown numbers and SMS
    /// conversations. Pending and failed items are never pruned.
    pub fn prune_older_than(&self, cutoff_ms: i64) -> Result<Pruned, StoreError> {
        let tx = self
            .conn()
            .unchecked_transaction()
            .map_err(sql("starting to prune"))?;
        let run = |query: &str| {
            tx.execute(query, params![cutoff_ms])
                .map_err(sql("pruning old data"))
        };
        let outbox_items = run("DELETE FROM outbox WHERE state = 'done' AND updated_ms < ?1
             AND id NOT IN (SELECT depends_on FROM outbox
                            WHERE depends_on IS NOT NULL AND (state != 'done' OR updated_ms >= ?1))")?;
        let cards = run("DELETE FROM call_cards WHERE seen_ms < ?1")?;
        // A call is settled once it is logged (or given up on) and its AI
        // update too; one still waiting is kept whatever its age.
        let calls = run("DELETE FROM tracked_calls WHERE updated_ms < ?1 AND logged = 1 AND ai_logged = 1")?;
        let mut other = tx
            .execute(
                "DELETE FROM call_crm_logs WHERE call_id NOT IN (SELECT call_id FROM tracked_calls)",
                [],
            )
            .map_err(sql("pruning old data"))?;
        other += run("DELETE FROM calls_not_logged WHERE at_ms < ?1")?;
        other += run("DELETE FROM sms_without_record WHERE at_ms < ?1")?;
        other += run("DELETE FROM sms_conversations WHERE last_change_ms < ?1")?;
        tx.commit().map_err(sql("committing the pruning"))?;
        Ok(Pruned {
            outbox_items,
            cards,
            calls,
            other,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::activity::Direction;
    use crate::card::Card;
    use crate::crm::{RemoteRef, Write};
    use crate::outbox::{ItemKey, ItemKind};
    use crate::Store;
    use rusqlite::params;

    const DAY: i64 = 86_400_000;

    fn key(call_id: &str, kind: ItemKind) -> ItemKey {
        ItemKey {
            crm: "jobadder".into(),
            account: "a".into(),
            call_id: call_id.into(),
            kind,
            target: "candidate:1".into(),
        }
    }

    fn card(call_id: i64) -> Card {
        Card {
            call_id,
            number: "+447400111001".into(),
            direction: Direction::Inbound,
            crm: "jobadder".into(),
            account: "a".into(),
            matches: Vec::new(),
            chosen: None,
            from_index: false,
        }
    }

    #[test]
    fn old_finished_things_go_and_anything_still_to_write_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let write = Write {
            reference: "r".into(),
            payload: serde_json::json!({}),
        };
        let done = |store: &Store, k: &ItemKey, follows: Option<&ItemKey>, at: i64| {
            let (id, _) = store.enqueue(k, &write, follows, at).unwrap();
            store
                .mark_done(
                    id,
                    &RemoteRef {
                        id: format!("n{id}"),
                        link: None,
                    },
                    at,
                )
                .unwrap();
            id
        };
        let old_done = done(&store, &key("1", ItemKind::Call), None, DAY);
        // An old done write an update that is still to go out follows.
        let followed = done(&store, &key("2", ItemKind::Call), None, DAY);
        let (update, _) = store
            .enqueue(
                &key("2", ItemKind::CallUpdate),
                &write,
                Some(&key("2", ItemKind::Call)),
                DAY,
            )
            .unwrap();
        let (old_pending, _) = store
            .enqueue(&key("3", ItemKind::Call), &write, None, DAY)
            .unwrap();
        let recent = done(&store, &key("4", ItemKind::Call), None, 100 * DAY);
        store.save_card(&card(1), DAY).unwrap();
        store.save_card(&card(4), 100 * DAY).unwrap();
        for (call_id, logged, at) in [(1, 1, DAY), (3, 0, DAY), (4, 1, 100 * DAY)] {
            store
                .conn()
                .execute(
                    "INSERT INTO tracked_calls (call_id, stage, started_at, logged, ai_logged, updated_ms)
                     VALUES (?1, 'final', 0, ?2, ?2, ?3)",
                    params![call_id, logged, at],
                )
                .unwrap();
        }
        store.give_up_on_call(5, "gone", DAY).unwrap();

        let pruned = store.prune_older_than(10 * DAY).unwrap();
        assert_eq!(pruned.outbox_items, 1, "{pruned:?}");
        assert_eq!(pruned.cards, 1);
        assert_eq!(pruned.calls, 1, "only the settled call");
        let ids: Vec<i64> = store.outbox_items(100).unwrap().iter().map(|i| i.id).collect();
        assert!(!ids.contains(&old_done));
        for kept in [followed, update, old_pending, recent] {
            assert!(ids.contains(&kept), "{kept} kept: {ids:?}");
        }
        let cards: Vec<i64> = store
            .recent_cards(10)
            .unwrap()
            .into_iter()
            .map(|(c, _)| c.call_id)
            .collect();
        assert_eq!(cards, vec![4]);
        assert!(store.calls_not_logged(10).unwrap().is_empty());
        let calls: Vec<i64> = {
            let mut statement = store
                .conn()
                .prepare("SELECT call_id FROM tracked_calls ORDER BY call_id")
                .unwrap();
            let rows = statement.query_map([], |r| r.get(0)).unwrap();
            rows.map(Result::unwrap).collect()
        };
        assert_eq!(calls, vec![3, 4], "a call still to log stays, whatever its age");
        // Nothing more the second time.
        assert_eq!(store.prune_older_than(10 * DAY).unwrap().total(), 0);
    }

    #[test]
    fn the_history_lists_read_an_index_instead_of_sorting_a_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let plan = |query: &str| -> String {
            let mut statement = store
                .conn()
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap();
            let rows = statement.query_map([], |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
        };
        for query in [
            "SELECT id FROM outbox WHERE state = 'done' ORDER BY updated_ms DESC LIMIT 50",
            "SELECT call_id FROM call_cards ORDER BY seen_ms DESC, call_id DESC LIMIT 50",
            "SELECT call_id, reason FROM calls_not_logged ORDER BY at_ms DESC LIMIT 50",
            "SELECT id FROM sms_without_record ORDER BY at_ms DESC LIMIT 50",
        ] {
            let plan = plan(query);
            assert!(!plan.contains("TEMP B-TREE"), "{query}:\n{plan}");
            assert!(plan.contains("INDEX"), "{query}:\n{plan}");
        }
    }
}
