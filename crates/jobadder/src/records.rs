//! JobAdder's JSON ↔ the core's records and writes.

use crate::note::Note;
use callcard_core::clock::parse_rfc3339;
use callcard_core::crm::{CrmRecord, Person, RecordKind, RecordRef, Write};
use callcard_core::phone::{Region, E164};
use serde_json::{json, Value};

/// The body of `POST /contacts/{id}/notes` and `/candidates/{id}/notes`.
pub fn note_body(note: &Note) -> Value {
    let mut body = json!({
        "type": note.note_type,
        "text": note.text,
        "reference": note.reference,
    });
    if let Some(email) = &note.created_by_email {
        body["createdBy"] = json!({ "email": email });
    }
    body
}

/// The outbox write for a note on `target`: the target travels with the
/// payload so a retry or a lookup by reference knows where to look.
pub fn note_write(target: &RecordRef, note: &Note) -> Write {
    Write {
        reference: note.reference.clone(),
        payload: json!({
            "target": { "kind": target.kind, "id": target.id },
            "note": note_body(note),
        }),
    }
}

pub(crate) fn parse_time_ms(value: &Value) -> i64 {
    value.as_str().and_then(parse_rfc3339).unwrap_or(0)
}

pub(crate) use callcard_core::clock::rfc3339 as iso8601;

use callcard_crm_http::text_field as text;

fn full_name(value: &Value) -> String {
    let name = [text(value, "firstName"), text(value, "lastName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        "(no name)".to_owned()
    } else {
        name
    }
}

pub(crate) fn person(value: &Value) -> Option<Person> {
    if !value.is_object() {
        return None;
    }
    Some(Person {
        id: value["userId"].as_i64().map(|id| id.to_string()),
        name: full_name(value),
        email: text(value, "email"),
    })
}

/// A candidate or contact (search hit or list item) as a core record.
pub(crate) fn record(
    kind: RecordKind,
    value: &Value,
    app_url: &str,
    region: Option<Region>,
) -> Option<CrmRecord> {
    let (id_key, path) = match kind {
        RecordKind::Candidate => ("candidateId", "candidates"),
        RecordKind::Contact => ("contactId", "contacts"),
        _ => return None,
    };
    let id = value[id_key].as_i64()?.to_string();
    let stored: Vec<String> = ["mobileNormalized", "mobile", "phone"]
        .iter()
        .filter_map(|key| text(value, key))
        .collect();
    let (mut phones, mut unreadable_phones) =
        callcard_core::phone::read_numbers(stored.iter().map(String::as_str), region);
    // JobAdder's own normalised mobile reads where the stored text did not.
    if !phones.is_empty() && text(value, "mobileNormalized").is_some() {
        unreadable_phones.retain(|t| text(value, "mobile").as_deref() != Some(t.as_str()));
    }
    if let Some(normalized) = value["match"]["normalized"].as_str() {
        if let Ok(number) = E164::parse(normalized, None) {
            if !phones.contains(&number) {
                phones.push(number);
            }
        }
    }
    let owner = person(&value["owner"]).or_else(|| value["recruiters"].get(0).and_then(person));
    let archived =
        value["inactive"].as_bool().unwrap_or(false) || value["status"]["active"].as_bool() == Some(false);
    Some(CrmRecord {
        record: RecordRef { kind, id: id.clone() },
        name: full_name(value),
        email: text(value, "email"),
        position: text(value, "position"),
        company: text(&value["company"], "name"),
        owner,
        updated_ms: parse_time_ms(&value["updatedAt"]),
        archived,
        link: Some(format!("{}/{path}/{id}", app_url.trim_end_matches('/'))),
        company_id: None,
        opportunity: None,
        phones,
        unreadable_phones,
    })
}

/// Where a note payload goes.
pub(crate) fn note_target(write: &Write) -> Option<NoteTarget> {
    let target = &write.payload["target"];
    let id: i64 = target["id"].as_str()?.parse().ok()?;
    match target["kind"].as_str()? {
        "candidate" => Some(NoteTarget::Candidate(id)),
        "contact" => Some(NoteTarget::Contact(id)),
        _ => None,
    }
}

/// The JobAdder record a note is posted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteTarget {
    Contact(i64),
    Candidate(i64),
}

impl NoteTarget {
    pub(crate) fn notes_path(self) -> String {
        match self {
            Self::Contact(id) => format!("contacts/{id}/notes"),
            Self::Candidate(id) => format!("candidates/{id}/notes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_hit_becomes_a_record_with_its_numbers_and_link() {
        let hit = json!({"match": {"type": "Mobile", "number": "07400 123456", "normalized": "+447400123456"},
            "contactId": 42, "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
            "company": {"companyId": 7, "name": "Analytical Ltd"}, "position": "CTO",
            "updatedAt": "2026-01-02T03:04:05Z"});
        let record = record(
            RecordKind::Contact,
            &hit,
            "https://app.jobadder.com/",
            Region::parse("GB").ok(),
        )
        .expect("a record");
        assert_eq!(record.name, "Ada Lovelace");
        assert_eq!(record.company.as_deref(), Some("Analytical Ltd"));
        assert_eq!(
            record.link.as_deref(),
            Some("https://app.jobadder.com/contacts/42")
        );
        assert_eq!(record.phones[0].as_str(), "+447400123456");
        assert_eq!(record.updated_ms, 1_767_323_045_000);
    }

    #[test]
    fn hostile_or_missing_fields_do_not_break_a_record() {
        let hit = json!({"candidateId": 5, "firstName": null, "mobile": "call me maybe", "updatedAt": 12,
            "status": {"active": false}});
        let record = record(RecordKind::Candidate, &hit, "x", None).expect("a record");
        assert_eq!(record.name, "(no name)");
        assert!(record.phones.is_empty());
        assert!(record.archived);
        assert!(super::record(RecordKind::Candidate, &json!({"candidateId": "x"}), "x", None).is_none());
    }

    #[test]
    fn the_write_names_its_target_and_times_round_trip() {
        let note = Note {
            note_type: "Phone call".into(),
            text: "hello".into(),
            reference: "aircall-call-1".into(),
            created_by_email: Some("agent@example.com".into()),
        };
        let write = note_write(
            &RecordRef {
                kind: RecordKind::Candidate,
                id: "12".into(),
            },
            &note,
        );
        assert_eq!(note_target(&write), Some(NoteTarget::Candidate(12)));
        assert_eq!(write.payload["note"]["createdBy"]["email"], "agent@example.com");
        assert_eq!(
            parse_time_ms(&json!(iso8601(1_767_323_045_000))),
            1_767_323_045_000
        );
        assert_eq!(parse_time_ms(&json!("2026-01-02T03:04:05")), 1_767_323_045_000);
    }
}
