//! Sellsy's priority among the records that share a number (also in the
//! README): a contact linked to a company, then a contact on its own, then
//! an individual, then a company; within a kind, the most recently updated
//! first; archived records after all others.

use callcard_core::crm::{CrmRecord, RecordKind};
use std::cmp::Reverse;

/// A Sellsy match, with whether a contact is linked to a company (only the
/// connector knows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellsyMatch {
    pub record: CrmRecord,
    pub linked_to_company: bool,
}

fn sellsy_rank(m: &SellsyMatch) -> u8 {
    match (m.record.record.kind, m.linked_to_company) {
        (RecordKind::Contact, true) => 0,
        (RecordKind::Contact, false) => 1,
        (RecordKind::Individual, _) => 2,
        (RecordKind::Company, _) => 3,
        (RecordKind::Candidate, _) => 4,
    }
}

/// Every match, best first, by the Sellsy priority order.
pub fn order(mut matches: Vec<SellsyMatch>) -> Vec<SellsyMatch> {
    matches.sort_by_key(|m| (m.record.archived, sellsy_rank(m), Reverse(m.record.updated_ms)));
    matches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: RecordKind, id: &str, updated_ms: i64) -> CrmRecord {
        CrmRecord {
            updated_ms,
            ..CrmRecord::new(kind, id, format!("{kind:?} {id}"))
        }
    }

    fn sellsy(kind: RecordKind, id: &str, updated_ms: i64, linked: bool) -> SellsyMatch {
        SellsyMatch {
            record: record(kind, id, updated_ms),
            linked_to_company: linked,
        }
    }

    fn ids(matches: &[SellsyMatch]) -> Vec<&str> {
        matches.iter().map(|m| m.record.record.id.as_str()).collect()
    }

    #[test]
    fn sellsy_prefers_a_contact_linked_to_a_company_then_an_individual_then_a_company() {
        let ordered = order(vec![
            sellsy(RecordKind::Company, "co", 900, false),
            sellsy(RecordKind::Individual, "ind", 800, false),
            sellsy(RecordKind::Contact, "linked", 100, true),
        ]);
        assert_eq!(ids(&ordered), ["linked", "ind", "co"]);
    }

    #[test]
    fn sellsy_within_a_kind_the_most_recently_updated_comes_first() {
        let ordered = order(vec![
            sellsy(RecordKind::Individual, "old", 1, false),
            sellsy(RecordKind::Individual, "new", 2, false),
        ]);
        assert_eq!(ids(&ordered), ["new", "old"]);
    }

    #[test]
    fn sellsy_archived_records_come_last_whatever_their_kind() {
        let mut archived = sellsy(RecordKind::Contact, "archived-contact", 999, true);
        archived.record.archived = true;
        let ordered = order(vec![archived, sellsy(RecordKind::Company, "co", 1, false)]);
        assert_eq!(ids(&ordered), ["co", "archived-contact"]);
    }

    #[test]
    fn sellsy_a_contact_without_company_comes_after_a_linked_one_and_before_an_individual() {
        let ordered = order(vec![
            sellsy(RecordKind::Individual, "ind", 5, false),
            sellsy(RecordKind::Contact, "alone", 9, false),
            sellsy(RecordKind::Contact, "linked", 1, true),
        ]);
        assert_eq!(ids(&ordered), ["linked", "alone", "ind"]);
    }
}
