//! Sellsy's JSON ↔ the core's records and writes.

use crate::links::SellsyLinks;
use crate::phone_call::PhoneCall;
use callcard_core::clock::parse_rfc3339;
use callcard_core::crm::{CrmRecord, Opportunity, OpportunityStatus, Person, RecordKind, RecordRef, Write};
use callcard_core::phone::Region;
use serde_json::{json, Value};

/// A member of the account's staff: phone calls are owned by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
}

use callcard_crm_http::text_field as text;

fn joined(parts: &[Option<String>]) -> String {
    parts.iter().flatten().cloned().collect::<Vec<_>>().join(" ")
}

fn time_ms(value: &Value, keys: &[&str]) -> i64 {
    keys.iter()
        .find_map(|key| value[*key].as_str().and_then(parse_rfc3339))
        .unwrap_or(0)
}

pub(crate) fn staff(value: &Value) -> Option<Staff> {
    let name = joined(&[text(value, "firstname"), text(value, "lastname")]);
    Some(Staff {
        id: value["id"].as_i64()?,
        name: if name.is_empty() { "(no name)".into() } else { name },
        email: text(value, "email"),
    })
}

/// A contact, company or individual (list item, search hit or single read).
pub(crate) fn record(
    kind: RecordKind,
    value: &Value,
    links: &SellsyLinks,
    region: Option<Region>,
    staff: &[Staff],
) -> Option<CrmRecord> {
    let id = value["id"].as_i64()?.to_string();
    let name = match kind {
        RecordKind::Company => text(value, "name").unwrap_or_default(),
        _ => joined(&[text(value, "first_name"), text(value, "last_name")]),
    };
    let stored: Vec<String> = ["phone_number", "mobile_number"]
        .iter()
        .filter_map(|key| text(value, key))
        .collect();
    let (phones, unreadable_phones) =
        callcard_core::phone::read_numbers(stored.iter().map(String::as_str), region);
    let owner = value["owner"]["id"].as_i64().map(|owner_id| {
        let known = staff.iter().find(|s| s.id == owner_id);
        Person {
            id: Some(owner_id.to_string()),
            name: known.map_or_else(|| format!("Sellsy user {owner_id}"), |s| s.name.clone()),
            email: known.and_then(|s| s.email.clone()),
        }
    });
    Some(CrmRecord {
        record: RecordRef { kind, id: id.clone() },
        name: if name.is_empty() { "(no name)".into() } else { name },
        email: text(value, "email"),
        position: text(value, "position"),
        company: None,
        owner,
        // Contacts say `updated`, companies and individuals `updated_at`.
        updated_ms: time_ms(value, &["updated", "updated_at"]),
        archived: value["is_archived"].as_bool().unwrap_or(false),
        link: Some(links.record(kind, &id)),
        phones,
        company_id: None,
        opportunity: None,
        unreadable_phones,
    })
}

pub(crate) fn opportunity(value: &Value, links: &SellsyLinks) -> Option<Opportunity> {
    let id = value["id"].as_i64()?.to_string();
    let status = match value["status"].as_str()? {
        "open" => OpportunityStatus::Open,
        "won" => OpportunityStatus::Won,
        "lost" => OpportunityStatus::Lost,
        "cancelled" => OpportunityStatus::Cancelled,
        "late" => OpportunityStatus::Late,
        _ => OpportunityStatus::Closed,
    };
    Some(Opportunity {
        name: text(value, "name").unwrap_or_else(|| format!("Opportunity {id}")),
        status,
        updated_ms: time_ms(value, &["updated_status", "updated", "created"]),
        contact_ids: value["contact_ids"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_i64)
                    .map(|i| i.to_string())
                    .collect()
            })
            .unwrap_or_default(),
        link: Some(links.opportunity(&id)),
        id,
    })
}

/// The outbox write for a phone call: the body of `POST /phone-calls` as
/// it is sent (the description carries the call line it is found by).
pub fn phone_call_write(reference: &str, phone_call: &PhoneCall) -> Write {
    Write {
        reference: reference.to_owned(),
        payload: json!(phone_call),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> SellsyLinks {
        SellsyLinks::new("https://www.sellsy.com/")
    }

    #[test]
    fn a_contact_reads_with_both_numbers_its_owner_and_link() {
        let staff = [Staff {
            id: 7,
            name: "Alex Martin".into(),
            email: Some("alex@callcard.test".into()),
        }];
        let value = json!({
            "id": 42, "first_name": "Léa", "last_name": "Durand", "email": "lea@example.fr",
            "position": "Buyer", "phone_number": "01 42 68 53 00", "mobile_number": "+33 6 12 34 56 78",
            "owner": {"id": 7, "type": "staff"}, "updated": "2026-01-02T03:04:05+01:00", "is_archived": false
        });
        let record = record(
            RecordKind::Contact,
            &value,
            &links(),
            Region::parse("FR").ok(),
            &staff,
        )
        .unwrap();
        assert_eq!(record.name, "Léa Durand");
        assert_eq!(record.phones.len(), 2);
        assert_eq!(record.phones[1].as_str(), "+33612345678");
        assert_eq!(record.owner.unwrap().email.as_deref(), Some("alex@callcard.test"));
        assert_eq!(record.link.as_deref(), Some("https://www.sellsy.com/peoples/42"));
        assert!(record.updated_ms > 0);
    }

    #[test]
    fn hostile_or_missing_fields_do_not_break_a_record() {
        let value =
            json!({"id": 3, "name": 12, "phone_number": "not a number", "owner": "x", "is_archived": "yes"});
        let record = record(RecordKind::Company, &value, &links(), None, &[]).unwrap();
        assert_eq!(record.name, "(no name)");
        assert!(record.phones.is_empty() && record.owner.is_none() && !record.archived);
        assert!(super::record(RecordKind::Company, &json!({"id": "x"}), &links(), None, &[]).is_none());
    }

    #[test]
    fn an_opportunity_reads_its_status_and_contacts() {
        let value = json!({"id": 9, "name": "Renewal", "status": "open", "contact_ids": [42, 43],
            "updated_status": "2026-01-02T03:04:05Z"});
        let found = opportunity(&value, &links()).unwrap();
        assert_eq!(found.status, OpportunityStatus::Open);
        assert_eq!(found.contact_ids, vec!["42", "43"]);
        assert_eq!(
            found.link.as_deref(),
            Some("https://www.sellsy.com/opportunities/9")
        );
    }
}
