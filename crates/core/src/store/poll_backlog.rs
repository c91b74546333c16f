//! Catch-up's table: the stretches of past calls (`from`..=`to`, Unix s) a
//! poll found but could not read at once — after an absence, or a burst of
//! more calls than one page holds. Each is read newest first, one page at a
//! time, its `to` moving down past what was read, so a read never pages
//! (Aircall refuses to page past 10,000 results) and new calls never wait
//! behind it. Kept in SQLite so that a restart carries on where it was.

use super::{sql, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// Part of migration 11.
pub const MIGRATION: &str = "
CREATE TABLE poll_backlog (
    id      INTEGER PRIMARY KEY,
    from_s  INTEGER NOT NULL,
    to_s    INTEGER NOT NULL,
    -- The stretch's length when it was found, for progress.
    span_s  INTEGER NOT NULL,
    -- The page to read next: 1, except within a single second holding
    -- more calls than a page (then the second is paged through).
    page    INTEGER NOT NULL DEFAULT 1
);
";

/// A stretch still to read: calls started in `from..=to` (Unix s), from
/// page `page` of Aircall's answer (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogSlice {
    pub id: i64,
    pub from: i64,
    pub to: i64,
    pub page: u32,
}

/// How far catch-up is: seconds of past calls read of all there were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CatchUp {
    pub done_secs: i64,
    pub total_secs: i64,
}

impl CatchUp {
    /// Done and total in the unit that suits the absence: `(3, 5, "days")`
    /// (or hours, or minutes, for shorter ones).
    pub fn parts(&self) -> (i64, i64, &'static str) {
        let (unit, size) = if self.total_secs >= 86_400 {
            ("days", 86_400)
        } else if self.total_secs >= 3_600 {
            ("hours", 3_600)
        } else {
            ("minutes", 60)
        };
        let total = ((self.total_secs + size - 1) / size).max(1);
        let done = (self.done_secs / size).min(total);
        (done, total, unit)
    }

    /// "3 of 5 days", in English (logs; windows translate [`Self::parts`]).
    pub fn describe(&self) -> String {
        let (done, total, unit) = self.parts();
        format!("{done} of {total} {unit}")
    }
}

impl Store {
    /// A stretch of past calls to read later. Empty stretches are ignored.
    pub fn add_backlog(&self, from: i64, to: i64) -> Result<(), StoreError> {
        if to < from {
            return Ok(());
        }
        self.conn()
            .execute(
                "INSERT INTO poll_backlog (from_s, to_s, span_s) VALUES (?1, ?2, ?3)",
                params![from, to, to - from + 1],
            )
            .map_err(sql("saving a stretch to catch up"))?;
        Ok(())
    }

    /// The newest stretch still to read.
    pub fn next_backlog(&self) -> Result<Option<BacklogSlice>, StoreError> {
        self.conn()
            .query_row(
                "SELECT id, from_s, to_s, page FROM poll_backlog ORDER BY to_s DESC, id LIMIT 1",
                [],
                |r| {
                    Ok(BacklogSlice {
                        id: r.get(0)?,
                        from: r.get(1)?,
                        to: r.get(2)?,
                        page: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(sql("reading the stretches to catch up"))
    }

    /// Calls after `to` were read: the stretch ends there now, or is done.
    pub fn shrink_backlog(&self, id: i64, to: i64) -> Result<(), StoreError> {
        let conn = self.conn();
        let done = conn
            .execute(
                "DELETE FROM poll_backlog WHERE id = ?1 AND from_s > ?2",
                params![id, to],
            )
            .map_err(sql("finishing a stretch to catch up"))?;
        if done == 0 {
            conn.execute(
                "UPDATE poll_backlog SET to_s = MIN(to_s, ?2) WHERE id = ?1",
                params![id, to],
            )
            .map_err(sql("moving a stretch to catch up"))?;
        }
        Ok(())
    }

    /// A full page of the stretch's reading started within its newest second
    /// (a burst): that second is paged through on its own (from page 2: page
    /// 1 was this one), and the rest of the stretch goes on before it.
    pub fn split_backlog_second(&self, slice: &BacklogSlice) -> Result<(), StoreError> {
        let conn = self.conn();
        let tx = conn
            .unchecked_transaction()
            .map_err(sql("splitting a stretch to catch up"))?;
        tx.execute(
            "INSERT INTO poll_backlog (from_s, to_s, span_s, page) VALUES (?1, ?1, 0, ?2)",
            params![slice.to, slice.page + 1],
        )
        .map_err(sql("splitting a stretch to catch up"))?;
        tx.execute(
            "UPDATE poll_backlog SET to_s = ?2 WHERE id = ?1",
            params![slice.id, slice.to - 1],
        )
        .map_err(sql("splitting a stretch to catch up"))?;
        tx.execute(
            "DELETE FROM poll_backlog WHERE id = ?1 AND to_s < from_s",
            params![slice.id],
        )
        .map_err(sql("splitting a stretch to catch up"))?;
        tx.commit().map_err(sql("splitting a stretch to catch up"))
    }

    /// The next page of a single second's stretch.
    pub fn next_backlog_page(&self, id: i64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE poll_backlog SET page = page + 1 WHERE id = ?1",
                params![id],
            )
            .map_err(sql("paging a second to catch up"))?;
        Ok(())
    }

    /// Where catch-up is, or `None` when there is nothing to catch up.
    pub fn catch_up(&self) -> Result<Option<CatchUp>, StoreError> {
        let (left, total): (Option<i64>, Option<i64>) = self
            .conn()
            .query_row(
                "SELECT SUM(to_s - from_s + 1), SUM(span_s) FROM poll_backlog",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql("reading catch-up's progress"))?;
        Ok(match (left, total) {
            (Some(left), Some(total)) if total > 0 => Some(CatchUp {
                done_secs: (total - left).max(0),
                total_secs: total,
            }),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stretch_is_read_from_its_newest_end_and_reports_its_progress() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        assert_eq!(store.catch_up().unwrap(), None);
        store.add_backlog(0, 5 * 86_400 - 1).unwrap();
        store.add_backlog(10, 5).unwrap();
        let slice = store.next_backlog().unwrap().unwrap();
        assert_eq!((slice.from, slice.to), (0, 5 * 86_400 - 1));
        store.shrink_backlog(slice.id, 2 * 86_400 - 1).unwrap();
        let progress = store.catch_up().unwrap().unwrap();
        assert_eq!(progress.describe(), "3 of 5 days");
        store.shrink_backlog(slice.id, -1).unwrap();
        assert_eq!(store.next_backlog().unwrap(), None);
        assert_eq!(store.catch_up().unwrap(), None);
    }

    #[test]
    fn short_absences_are_told_in_hours_or_minutes() {
        let hours = CatchUp {
            done_secs: 3_600,
            total_secs: 2 * 3_600,
        };
        assert_eq!(hours.describe(), "1 of 2 hours");
        let minutes = CatchUp {
            done_secs: 0,
            total_secs: 600,
        };
        assert_eq!(minutes.describe(), "0 of 10 minutes");
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;

    #[test]
    fn a_full_second_is_paged_through_before_the_rest_of_its_stretch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        store.add_backlog(100, 200).unwrap();
        let slice = store.next_backlog().unwrap().unwrap();
        store.split_backlog_second(&slice).unwrap();
        let second = store.next_backlog().unwrap().unwrap();
        assert_eq!((second.from, second.to, second.page), (200, 200, 2));
        store.next_backlog_page(second.id).unwrap();
        assert_eq!(store.next_backlog().unwrap().unwrap().page, 3);
        store.shrink_backlog(second.id, 199).unwrap();
        let rest = store.next_backlog().unwrap().unwrap();
        assert_eq!((rest.from, rest.to, rest.page), (100, 199, 1));
    }
}
