//! The insight card: the caller's CRM card, posted to Aircall while the call
//! is live so the agent sees it in Aircall too — once per call.

use crate::client::{Aircall, AircallError};
use callcard_core::crm::{Crm, CrmError, CrmRecord, RecordKind};
use callcard_core::phone::E164;
use callcard_core::Store;
use serde_json::{json, Value};
use std::sync::Mutex;

/// Aircall's card lines: a title with the record's link, then short texts
/// (the opportunity with its link, for Sellsy).
pub fn card_contents(record: &CrmRecord) -> Value {
    let kind = match record.record.kind {
        RecordKind::Candidate => "Candidate",
        RecordKind::Contact => "Contact",
        RecordKind::Company => "Company",
        RecordKind::Individual => "Individual",
    };
    let mut title = json!({"type": "title", "text": record.name});
    if let Some(link) = &record.link {
        title["link"] = json!(link);
    }
    let mut lines = vec![title, json!({"type": "shortText", "label": "Type", "text": kind})];
    let mut line = |label: &str, text: Option<&str>| {
        if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
            lines.push(json!({"type": "shortText", "label": label, "text": text}));
        }
    };
    line("E-mail", record.email.as_deref());
    line("Position", record.position.as_deref());
    line("Company", record.company.as_deref());
    line("Owner", record.owner.as_ref().map(|o| o.name.as_str()));
    if let Some(opportunity) = &record.opportunity {
        let mut item = json!({"type": "shortText", "label": "Opportunity", "text": opportunity.name});
        if let Some(link) = &opportunity.link {
            item["link"] = json!(link);
        }
        lines.push(item);
    }
    Value::Array(lines)
}

#[derive(Debug, PartialEq)]
pub enum CardOutcome {
    Posted(Vec<CrmRecord>),
    /// Anonymous or not a number: nothing to look up.
    NoNumber,
    NoMatch,
    /// Already posted, or the call is over.
    NotWanted,
}

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error(transparent)]
    Crm(#[from] CrmError),
    #[error(transparent)]
    Aircall(#[from] AircallError),
    #[error(transparent)]
    Store(#[from] callcard_core::StoreError),
}

/// Looks the caller up and posts the card, unless it was posted already.
pub async fn post_card(
    client: &Aircall,
    store: &Mutex<Store>,
    crm: &dyn Crm,
    call_id: i64,
    other_party: Option<&E164>,
) -> Result<CardOutcome, CardError> {
    let wants = store
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .wants_card(call_id)?;
    if !wants {
        return Ok(CardOutcome::NotWanted);
    }
    let Some(number) = other_party else {
        return Ok(CardOutcome::NoNumber);
    };
    let records = crm.lookup(number).await?;
    let Some(best) = records.first() else {
        return Ok(CardOutcome::NoMatch);
    };
    client.post_insight_card(call_id, &card_contents(best)).await?;
    store
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .mark_card_posted(call_id)?;
    Ok(CardOutcome::Posted(records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcard_core::crm::{Opportunity, Person, RecordRef};

    #[test]
    fn the_card_has_a_linked_title_and_the_known_details_only() {
        let record = CrmRecord {
            record: RecordRef {
                kind: RecordKind::Candidate,
                id: "7".into(),
            },
            name: "Léa <b>Bernard</b>".into(),
            email: Some("lea@example.com".into()),
            position: None,
            company: Some("Acme".into()),
            owner: Some(Person {
                id: None,
                name: "Alex Martin".into(),
                email: None,
            }),
            updated_ms: 0,
            archived: false,
            link: Some("https://app.jobadder.com/candidates/7".into()),
            company_id: None,
            opportunity: None,
            phones: vec![],
            unreadable_phones: Vec::new(),
        };
        let card = card_contents(&record);
        assert_eq!(
            card[0],
            json!({"type": "title", "text": "Léa <b>Bernard</b>", "link": "https://app.jobadder.com/candidates/7"})
        );
        let labels: Vec<&str> = card.as_array().unwrap()[1..]
            .iter()
            .map(|l| l["label"].as_str().unwrap())
            .collect();
        assert_eq!(labels, ["Type", "E-mail", "Company", "Owner"]);

        let with_deal = CrmRecord {
            opportunity: Some(Opportunity {
                id: "9".into(),
                name: "Renewal 2027".into(),
                status: callcard_core::crm::OpportunityStatus::Open,
                updated_ms: 1,
                contact_ids: vec!["7".into()],
                link: Some("https://www.sellsy.com/opportunities/9".into()),
            }),
            ..record
        };
        let last = card_contents(&with_deal)
            .as_array()
            .unwrap()
            .last()
            .cloned()
            .unwrap();
        assert_eq!(
            last,
            json!({"type": "shortText", "label": "Opportunity", "text": "Renewal 2027",
                   "link": "https://www.sellsy.com/opportunities/9"})
        );
    }
}
