//! Contact sync into Aircall: one Aircall contact per number. A number
//! Aircall already has is overwritten with the CRM's details; otherwise a
//! contact is created. The CRM's id goes into `information`, so a person can
//! see where it came from and the app can find it again.

use crate::client::{Aircall, AircallError};
use callcard_core::crm::{CrmRecord, RecordKind};
use callcard_core::phone::E164;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synced {
    Created(i64),
    Updated(i64),
}

impl Synced {
    pub fn contact_id(&self) -> i64 {
        match self {
            Self::Created(id) | Self::Updated(id) => *id,
        }
    }
}

/// `JobAdder candidate 123`: the CRM and its id, readable by a person.
pub fn information(crm: &str, record: &CrmRecord) -> String {
    let kind = match record.record.kind {
        RecordKind::Candidate => "candidate",
        RecordKind::Contact => "contact",
        RecordKind::Company => "company",
        RecordKind::Individual => "individual",
    };
    let mut text = format!("{crm} {kind} {}", record.record.id);
    if let Some(link) = &record.link {
        text.push_str(&format!(" — {link}"));
    }
    text
}

fn names(record: &CrmRecord) -> (String, String) {
    match record.name.rsplit_once(' ') {
        Some((first, last))
            if matches!(
                record.record.kind,
                RecordKind::Candidate | RecordKind::Contact | RecordKind::Individual
            ) =>
        {
            (first.to_owned(), last.to_owned())
        }
        _ => (record.name.clone(), String::new()),
    }
}

fn fields(crm: &str, record: &CrmRecord) -> Value {
    let (first, last) = names(record);
    let mut body = json!({
        "first_name": first,
        "last_name": last,
        "information": information(crm, record),
    });
    if let Some(company) = &record.company {
        body["company_name"] = json!(company);
    }
    body
}

/// Creates or overwrites the Aircall contact for `number`.
pub async fn sync_contact(
    client: &Aircall,
    crm: &str,
    record: &CrmRecord,
    number: &E164,
) -> Result<Synced, AircallError> {
    let existing = client.contacts_with_number(number.as_str()).await?;
    if let Some(contact) = existing.first() {
        client.update_contact(contact.id, &fields(crm, record)).await?;
        return Ok(Synced::Updated(contact.id));
    }
    let mut body = fields(crm, record);
    body["phone_numbers"] = json!([{ "label": "Work", "value": number.as_str() }]);
    if let Some(email) = &record.email {
        body["emails"] = json!([{ "label": "Work", "value": email }]);
    }
    let created = client.create_contact(&body).await?;
    Ok(Synced::Created(created.id))
}
