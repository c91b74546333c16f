//! A caller card: what the card window shows for a call in one CRM, and how
//! a record is named in keys (`candidate:12`). Plain data; the card is built
//! by `crate::call_log` and kept by the store (`store::cards`).

use crate::activity::Direction;
use crate::crm::{CrmRecord, RecordKind, RecordRef};
use serde::{Deserialize, Serialize};

/// `candidate:123`: how a record is named in outbox keys and the store.
pub fn target_key(record: &RecordRef) -> String {
    let kind = match record.kind {
        RecordKind::Candidate => "candidate",
        RecordKind::Contact => "contact",
        RecordKind::Company => "company",
        RecordKind::Individual => "individual",
    };
    format!("{kind}:{}", record.id)
}

/// What the card window shows for a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Card {
    pub call_id: i64,
    pub number: String,
    pub direction: Direction,
    pub crm: String,
    pub account: String,
    /// Every match, best first.
    pub matches: Vec<CrmRecord>,
    /// The record the call will be logged to, when the user picked one.
    pub chosen: Option<RecordRef>,
    /// Found in the local index (then worth completing with a live search).
    #[serde(skip)]
    pub from_index: bool,
}

impl Card {
    /// The record this call is about, for the card, the log and History
    /// alike: the user's pick when it is still among the matches, else the
    /// best match (matches are kept best first).
    pub fn best_record(&self) -> Option<&CrmRecord> {
        self.chosen
            .as_ref()
            .and_then(|chosen| self.matches.iter().find(|m| &m.record == chosen))
            .or(self.matches.first())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(matches: Vec<CrmRecord>, chosen: Option<RecordRef>) -> Card {
        Card {
            call_id: 1,
            number: "+33612345678".into(),
            direction: Direction::Inbound,
            crm: "jobadder".into(),
            account: "acme".into(),
            matches,
            chosen,
            from_index: false,
        }
    }

    #[test]
    fn the_best_record_is_the_users_pick_while_it_matches_else_the_first_match() {
        let first = CrmRecord::new(RecordKind::Candidate, "1", "Ada");
        let second = CrmRecord::new(RecordKind::Contact, "2", "Grace");
        let picked = card(vec![first.clone(), second.clone()], Some(second.record.clone()));
        assert_eq!(picked.best_record(), Some(&second));
        let unpicked = card(vec![first.clone(), second.clone()], None);
        assert_eq!(unpicked.best_record(), Some(&first));
        // A pick that is no longer among the matches (the record went away).
        let gone = RecordRef {
            kind: RecordKind::Candidate,
            id: "9".into(),
        };
        let stale = card(vec![first.clone()], Some(gone));
        assert_eq!(stale.best_record(), Some(&first));
        assert_eq!(card(Vec::new(), None).best_record(), None);
    }
}
