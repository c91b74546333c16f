//! Which CRM record a call is about, as pure functions. The rules that are
//! no one CRM's (also in the README; a CRM's own order of matches lives in
//! its crate, behind `Crm::order_matches`):
//! * Duplicates: when two records of the same kind (two contacts, two
//!   candidates) share the number, log to the most recently updated one, or
//!   to none of that kind — as the user's setting says.
//! * Opportunity: the open ones linked to the contact, most recently updated.
//! * A record the user picked for this number before wins over every rule.

use crate::crm::{CrmRecord, Opportunity, OpportunityStatus, RecordKind, RecordRef};
use crate::settings::DuplicateRule;
use std::cmp::Reverse;

/// The kinds a CRM that logs to people logs a call to (a candidate and a contact).
pub const PEOPLE: [RecordKind; 2] = [RecordKind::Candidate, RecordKind::Contact];

/// The records a call is logged to when a CRM logs to one record of each of
/// `kinds`: the duplicates rule applied within each kind.
pub fn targets(matches: &[CrmRecord], kinds: &[RecordKind], rule: DuplicateRule) -> Vec<CrmRecord> {
    let mut targets = Vec::new();
    for &kind in kinds {
        let mut of_kind: Vec<&CrmRecord> = matches.iter().filter(|r| r.record.kind == kind).collect();
        match (of_kind.len(), rule) {
            (0, _) => {}
            (1, _) => targets.push(of_kind[0].clone()),
            (_, DuplicateRule::DoNothing) => {}
            (_, DuplicateRule::MostRecentlyUpdated) => {
                of_kind.sort_by_key(|r| Reverse(r.updated_ms));
                targets.push(of_kind[0].clone());
            }
        }
    }
    targets
}

/// The open opportunity linked to the contact that moved last.
pub fn best_opportunity<'a>(opportunities: &'a [Opportunity], contact_id: &str) -> Option<&'a Opportunity> {
    opportunities
        .iter()
        .filter(|o| o.status == OpportunityStatus::Open && o.contact_ids.iter().any(|c| c == contact_id))
        .max_by_key(|o| o.updated_ms)
}

/// The [`targets`] once the user picked a record on the card: the pick
/// replaces the rule for its kind (even under "do nothing": the user chose);
/// the other kinds follow the rule.
pub fn targets_with_choice(
    matches: &[CrmRecord],
    kinds: &[RecordKind],
    rule: DuplicateRule,
    chosen: Option<&RecordRef>,
) -> Vec<CrmRecord> {
    let Some(picked) = chosen.and_then(|c| matches.iter().find(|r| &r.record == c)) else {
        return targets(matches, kinds, rule);
    };
    let mut targets: Vec<CrmRecord> = targets(matches, kinds, rule)
        .into_iter()
        .filter(|r| r.record.kind != picked.record.kind)
        .collect();
    targets.push(picked.clone());
    targets
}

/// The user's earlier pick for this number, when it is still among the matches.
pub fn remembered<'a>(matches: &'a [CrmRecord], choice: Option<&RecordRef>) -> Option<&'a CrmRecord> {
    let choice = choice?;
    matches.iter().find(|r| &r.record == choice)
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

    #[test]
    fn duplicates_log_to_the_most_recently_updated_within_each_kind() {
        let matches = [
            record(RecordKind::Candidate, "c-old", 1),
            record(RecordKind::Candidate, "c-new", 2),
            record(RecordKind::Contact, "k", 1),
        ];
        let targets = targets(&matches, &PEOPLE, DuplicateRule::MostRecentlyUpdated);
        let ids: Vec<&str> = targets.iter().map(|r| r.record.id.as_str()).collect();
        assert_eq!(ids, ["c-new", "k"]);
    }

    #[test]
    fn duplicates_with_do_nothing_log_nothing_for_that_kind_only() {
        let matches = [
            record(RecordKind::Candidate, "c1", 1),
            record(RecordKind::Candidate, "c2", 2),
            record(RecordKind::Contact, "k", 1),
        ];
        let targets = targets(&matches, &PEOPLE, DuplicateRule::DoNothing);
        assert_eq!(
            targets.iter().map(|r| r.record.id.as_str()).collect::<Vec<_>>(),
            ["k"]
        );
    }

    #[test]
    fn a_single_match_is_logged_whatever_the_rule() {
        let matches = [record(RecordKind::Contact, "k", 1)];
        assert_eq!(targets(&matches, &PEOPLE, DuplicateRule::DoNothing).len(), 1);
    }

    #[test]
    fn a_pick_on_the_card_replaces_the_rule_for_its_kind_only() {
        let matches = vec![
            record(RecordKind::Contact, "old", 1),
            record(RecordKind::Contact, "new", 2),
            record(RecordKind::Candidate, "cand", 1),
        ];
        let pick = RecordRef {
            kind: RecordKind::Contact,
            id: "old".into(),
        };
        let targets = targets_with_choice(&matches, &PEOPLE, DuplicateRule::MostRecentlyUpdated, Some(&pick));
        let ids: Vec<&str> = targets.iter().map(|r| r.record.id.as_str()).collect();
        assert_eq!(ids, ["cand", "old"]);
        let targets = targets_with_choice(&matches, &PEOPLE, DuplicateRule::DoNothing, Some(&pick));
        assert_eq!(targets.len(), 2, "a pick counts even under do nothing");
        let gone = RecordRef {
            kind: RecordKind::Contact,
            id: "deleted".into(),
        };
        assert_eq!(
            targets_with_choice(&matches, &PEOPLE, DuplicateRule::DoNothing, Some(&gone)).len(),
            1
        );
    }

    fn opportunity(id: &str, status: OpportunityStatus, updated_ms: i64, contacts: &[&str]) -> Opportunity {
        Opportunity {
            id: id.into(),
            name: id.into(),
            status,
            updated_ms,
            contact_ids: contacts.iter().map(|c| (*c).to_owned()).collect(),
            link: None,
        }
    }

    #[test]
    fn the_opportunity_is_the_open_one_linked_to_the_contact_most_recently_updated() {
        let opps = [
            opportunity("won-newest", OpportunityStatus::Won, 9, &["42"]),
            opportunity("open-old", OpportunityStatus::Open, 1, &["42"]),
            opportunity("open-new", OpportunityStatus::Open, 5, &["42", "7"]),
            opportunity("open-other-contact", OpportunityStatus::Open, 8, &["7"]),
        ];
        assert_eq!(
            best_opportunity(&opps, "42").map(|o| o.id.as_str()),
            Some("open-new")
        );
        assert_eq!(best_opportunity(&opps, "99"), None);
    }

    #[test]
    fn a_remembered_choice_for_the_number_wins_when_still_a_match() {
        let matches = [
            record(RecordKind::Candidate, "a", 9),
            record(RecordKind::Candidate, "b", 1),
        ];
        let choice = RecordRef {
            kind: RecordKind::Candidate,
            id: "b".into(),
        };
        assert_eq!(
            remembered(&matches, Some(&choice)).map(|r| r.record.id.as_str()),
            Some("b")
        );
        let gone = RecordRef {
            kind: RecordKind::Candidate,
            id: "deleted".into(),
        };
        assert_eq!(remembered(&matches, Some(&gone)), None);
    }
}
