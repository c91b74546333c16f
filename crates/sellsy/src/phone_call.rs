//! What a call becomes in Sellsy: a native phone-call activity (DESIGN
//! §1.4) — Sellsy's result and source words, the owner (the staff member
//! with the agent's e-mail, else the contact's owner), what it relates to
//! (one of each type, three at most) and the call text as its description.

use callcard_core::activity::{call_text, Agent, Direction, FinalCall, LogOptions, Outcome};
use serde::{Deserialize, Serialize};

/// Sellsy's `result`: missed → `noanswer`, answered → `connected`,
/// voicemail left → `msgvocal`.
pub fn result(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Answered => "connected",
        Outcome::Missed => "noanswer",
        Outcome::Voicemail => "msgvocal",
    }
}

/// Sellsy's `source`, in Sellsy's spelling.
pub fn source(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "incoming",
        Direction::Outbound => "outcoming",
    }
}

/// The owner: the staff member whose e-mail is the Aircall agent's, else the
/// contact's owner (an inbound missed call has no agent).
pub fn owner(agent: Option<&Agent>, staff: &[(i64, String)], contact_owner: Option<i64>) -> Option<i64> {
    agent
        .and_then(|a| a.email.as_deref())
        .and_then(|email| staff.iter().find(|(_, e)| e.eq_ignore_ascii_case(email)))
        .map(|(id, _)| *id)
        .or(contact_owner)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
}

/// What the call relates to: at most one of each type, at most three.
pub fn related(
    contact: Option<i64>,
    opportunity: Option<i64>,
    company: Option<i64>,
    individual: Option<i64>,
) -> Vec<Related> {
    [
        ("contact", contact),
        ("opportunity", opportunity),
        ("company", company),
        ("individual", individual),
    ]
    .into_iter()
    .filter_map(|(kind, id)| {
        id.map(|id| Related {
            id,
            kind: kind.to_owned(),
        })
    })
    .take(3)
    .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneCall {
    pub owner_id: i64,
    pub date: String,
    pub result: String,
    pub source: String,
    pub duration: i64,
    pub description: String,
    pub related: Vec<Related>,
}

pub fn phone_call(call: &FinalCall, options: LogOptions, owner_id: i64, related: Vec<Related>) -> PhoneCall {
    PhoneCall {
        owner_id,
        date: callcard_core::clock::rfc3339(call.started_at.saturating_mul(1000)),
        result: result(call.outcome).to_owned(),
        source: source(call.direction).to_owned(),
        duration: call.duration_secs.max(0),
        description: call_text(call, options),
        related,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcard_core::activity::{call_id_of_reference, reference, text_logs_call};

    const ALL: LogOptions = LogOptions {
        ai: true,
        recording_link: true,
    };

    #[test]
    fn sellsy_result_mapping_missed_noanswer_answered_connected_voicemail_msgvocal() {
        assert_eq!(result(Outcome::Missed), "noanswer");
        assert_eq!(result(Outcome::Answered), "connected");
        assert_eq!(result(Outcome::Voicemail), "msgvocal");
        assert_eq!(Outcome::of(false, true), Outcome::Voicemail);
        assert_eq!(Outcome::of(true, true), Outcome::Answered);
        assert_eq!(Outcome::of(false, false), Outcome::Missed);
    }

    #[test]
    fn sellsy_source_is_incoming_or_outcoming() {
        assert_eq!(source(Direction::Inbound), "incoming");
        assert_eq!(source(Direction::Outbound), "outcoming");
    }

    #[test]
    fn sellsy_owner_is_the_staff_with_the_agents_email_else_the_contacts_owner() {
        let staff = [
            (301, "Alex.Martin@callcard.test".to_owned()),
            (302, "sam@x.test".to_owned()),
        ];
        let agent = Agent {
            name: "Alex".into(),
            email: Some("alex.martin@callcard.test".into()),
        };
        assert_eq!(owner(Some(&agent), &staff, Some(302)), Some(301));
        let stranger = Agent {
            name: "Z".into(),
            email: Some("z@elsewhere.test".into()),
        };
        assert_eq!(owner(Some(&stranger), &staff, Some(302)), Some(302));
        assert_eq!(
            owner(None, &staff, Some(302)),
            Some(302),
            "inbound missed: no agent"
        );
    }

    #[test]
    fn sellsy_related_has_at_most_one_per_type_and_three_in_all() {
        let all = related(Some(1), Some(2), Some(3), Some(4));
        assert_eq!(all.len(), 3);
        assert_eq!(
            all.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
            ["contact", "opportunity", "company"]
        );
        assert_eq!(related(None, None, Some(3), None).len(), 1);
    }

    #[test]
    fn a_written_text_is_found_again_by_its_call_line() {
        let pc = phone_call(&callcard_test_support::sample_final_call(), ALL, 301, Vec::new());
        assert_eq!(call_id_of_reference(&reference(812)), Some(812));
        assert!(text_logs_call(&pc.description, 812));
        assert!(!text_logs_call(&pc.description, 81));
        assert!(!text_logs_call(&pc.description, 8120));
        assert_eq!(call_id_of_reference("note-812"), None);
    }

    #[test]
    fn sellsy_phone_call_duration_includes_ringing_and_date_is_rfc3339() {
        let pc = phone_call(
            &callcard_test_support::sample_final_call(),
            ALL,
            301,
            related(Some(1), None, None, None),
        );
        assert_eq!(pc.duration, 200);
        assert_eq!(pc.date, "2020-03-23T21:16:39Z");
        assert_eq!(
            (pc.result.as_str(), pc.source.as_str()),
            ("connected", "incoming")
        );
        assert!(pc
            .description
            .contains("Aircall call 812: https://assets.aircall.io/calls/812"));
        assert!(pc.description.contains("Sentiment: positive"));
        let json = serde_json::to_value(&pc).unwrap();
        assert_eq!(
            json["related"][0],
            serde_json::json!({"id": 1, "type": "contact"})
        );
    }
}
