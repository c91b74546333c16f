//! What an event pushed by the team hub says, in Aircall's terms: a call as
//! it is now, a call ringing on an agent, a piece of a call's AI results,
//! an SMS ([`Pushed::read`]). Fetching the events is the hub client's job
//! (`callcard-hub-client`), their wire shape the contract's
//! (`callcard-hub-contract`).
//!
//! The hub relays Aircall's own payloads, so a call event's `data` is the
//! same Call resource the API answers, and the AI results are what
//! `/summary`, `/topics` and `/sentiments` answer, with the call's id.

use crate::model::{Call, Insights};
use serde_json::Value;

pub use callcard_hub_contract::HubEvent;
// The client moved to its own crate; re-exported so that the engine's
// `callcard_aircall::hub::HubClient` paths keep working until it names
// `callcard_hub_client` itself.
pub use callcard_hub_client::{HubClient, HubError, HubStream, LogMark};
/// How the hub's JobAdder token broker marks its own refusals.
pub use callcard_hub_contract::paths::BROKER_OWN_ERROR;

/// A piece of a call's AI results.
#[derive(Debug, Clone, PartialEq)]
pub enum AiPiece {
    Summary(String),
    Topics(Vec<String>),
    Sentiment(String),
}

impl AiPiece {
    /// Adds this piece to what is known of a call's AI results.
    pub fn fill(self, insights: &mut Insights) {
        match self {
            Self::Summary(summary) => insights.summary = Some(summary),
            Self::Topics(topics) => insights.topics = topics,
            Self::Sentiment(sentiment) => insights.sentiment = Some(sentiment),
        }
    }
}

/// An SMS as the webhook tells it. Aircall has no list of SMS: this is the
/// only place they come from.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedSms {
    /// Aircall's message id (a string, `SM…`): the SMS's identity for logging once.
    pub id: String,
    pub inbound: bool,
    /// The other party's number, as Aircall wrote it.
    pub external_number: String,
    pub body: String,
    /// When it was sent or received (the event's time, Unix ms).
    pub at_ms: i64,
    /// The company's Aircall number it went through.
    pub number_id: Option<i64>,
    pub number_name: String,
    pub number_digits: String,
    /// The agent who sent it, when Aircall says.
    pub agent: Option<String>,
    /// Links to media (MMS), listed rather than fetched.
    pub media: Vec<String>,
}

impl PushedSms {
    /// The SMS as the core logs it.
    pub fn to_log(&self) -> callcard_core::sms::SmsLog {
        callcard_core::sms::SmsLog {
            id: self.id.clone(),
            inbound: self.inbound,
            other_party: self.external_number.clone(),
            body: self.body.clone(),
            at_ms: self.at_ms,
            line_name: self.number_name.clone(),
            line_digits: self.number_digits.clone(),
            agent: self.agent.clone(),
            media: self.media.clone(),
        }
    }

    fn read(event: &HubEvent) -> Option<Self> {
        let data = &event.data;
        let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
        let id = data["id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| data["id"].as_i64().map(|n| n.to_string()))?;
        let external = data["external_number"]
            .as_str()
            .or(data["raw_digits"].as_str())?
            .to_owned();
        Some(Self {
            id,
            inbound: event.event == "message.received" || data["direction"] == "inbound",
            external_number: external,
            body: text(&data["body"]),
            at_ms: event.timestamp.saturating_mul(1000),
            number_id: data["number"]["id"].as_i64(),
            number_name: text(&data["number"]["name"]),
            number_digits: text(&data["number"]["digits"]),
            agent: data["user"]["name"].as_str().map(str::to_owned),
            media: data["media_url"]
                .as_array()
                .or(data["media"].as_array())
                .map(|m| {
                    m.iter()
                        .filter_map(|x| x.as_str().or(x["url"].as_str()).map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// What an event says.
#[derive(Debug, Clone)]
pub enum Pushed {
    /// The call as it is now (`call.created`, `call.answered`, `call.ended`…).
    Call(Box<Call>),
    /// The call rings on one agent (`call.ringing_on_agent`): `user` is the
    /// agent it rings on, not one who answered.
    RingingOnAgent(Box<Call>),
    Ai {
        call_id: i64,
        piece: AiPiece,
    },
    /// An SMS sent or received (`message.sent`, `message.received`).
    Sms(Box<PushedSms>),
    /// Another message event (`message.status_updated`…), as Aircall sent it.
    Message(Value),
    /// Something this version does not use, or cannot read.
    Other,
}

impl Pushed {
    /// What `event` says, read leniently: what cannot be read is `Other`.
    pub fn read(event: &HubEvent) -> Self {
        let data = &event.data;
        match (event.resource.as_str(), event.event.as_str()) {
            ("call", "call.ringing_on_agent") => serde_json::from_value(data.clone())
                .map(|c| Pushed::RingingOnAgent(Box::new(c)))
                .unwrap_or(Pushed::Other),
            ("call", _) => serde_json::from_value(data.clone())
                .map(|c| Pushed::Call(Box::new(c)))
                .unwrap_or(Pushed::Other),
            ("message", "message.sent" | "message.received") => PushedSms::read(event)
                .map(|sms| Pushed::Sms(Box::new(sms)))
                .unwrap_or(Pushed::Other),
            ("message", _) => Pushed::Message(data.clone()),
            (_, event) => {
                let Some(call_id) = data["call_id"].as_i64() else {
                    return Pushed::Other;
                };
                // Read leniently, as the API's answers are.
                let piece = match event {
                    "summary.created" => data["content"]
                        .as_str()
                        .or(data["summary"]["content"].as_str())
                        .map(|s| AiPiece::Summary(s.to_owned())),
                    "topics.created" => data["content"]
                        .as_array()
                        .or(data["topic"]["content"].as_array())
                        .map(|a| {
                            AiPiece::Topics(a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
                        }),
                    "sentiment.created" => data["participants"]
                        .as_array()
                        .or(data["sentiment"]["participants"].as_array())
                        .and_then(|p| p.iter().find(|x| x["type"] == "external").or(p.first()))
                        .and_then(|x| x["value"].as_str())
                        .map(|s| AiPiece::Sentiment(s.to_owned())),
                    _ => None,
                };
                piece.map_or(Pushed::Other, |piece| Pushed::Ai { call_id, piece })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(resource: &str, name: &str, data: Value) -> HubEvent {
        HubEvent {
            seq: 1,
            resource: resource.into(),
            event: name.into(),
            timestamp: 0,
            received_ms: 0,
            data,
        }
    }

    #[test]
    fn ai_results_are_read_leniently_and_other_events_are_left_alone() {
        let summary = event(
            "summary",
            "summary.created",
            json!({"call_id": 5, "content": "Agreed a visit"}),
        );
        assert!(
            matches!(Pushed::read(&summary), Pushed::Ai { call_id: 5, piece: AiPiece::Summary(s) } if s == "Agreed a visit")
        );
        let topics = event(
            "topic",
            "topics.created",
            json!({"call_id": 5, "topic": {"content": ["pay", "start"]}}),
        );
        assert!(
            matches!(Pushed::read(&topics), Pushed::Ai { piece: AiPiece::Topics(t), .. } if t == ["pay", "start"])
        );
        let sentiment = event(
            "sentiment",
            "sentiment.created",
            json!({"call_id": 5, "participants": [{"type": "internal", "value": "NEUTRAL"}, {"type": "external", "value": "POSITIVE"}]}),
        );
        assert!(
            matches!(Pushed::read(&sentiment), Pushed::Ai { piece: AiPiece::Sentiment(s), .. } if s == "POSITIVE")
        );
        assert!(matches!(
            Pushed::read(&event("summary", "summary.created", json!({"content": "x"}))),
            Pushed::Other
        ));
        assert!(matches!(
            Pushed::read(&event("call", "call.created", json!({"id": "not a call"}))),
            Pushed::Other
        ));
        assert!(matches!(
            Pushed::read(&event("user", "user.opened", json!({"id": 1}))),
            Pushed::Other
        ));
    }

    #[test]
    fn an_sms_is_read_from_its_webhook_and_a_status_update_is_not_one() {
        let sent = HubEvent {
            seq: 4,
            resource: "message".into(),
            event: "message.sent".into(),
            timestamp: 1_790_000_000,
            received_ms: 0,
            data: json!({"id": "SM12", "direction": "outbound", "external_number": "+33612345678",
                "body": "<b>See you</b> at 3", "number": {"id": 1001, "name": "Paris office", "digits": "+33 1 76 11 11 11"},
                "user": {"name": "Alex Martin"}}),
        };
        let Pushed::Sms(sms) = Pushed::read(&sent) else {
            panic!("an SMS")
        };
        assert_eq!(sms.id, "SM12");
        assert!(!sms.inbound);
        assert_eq!(sms.body, "<b>See you</b> at 3", "kept as text");
        assert_eq!(sms.at_ms, 1_790_000_000_000);
        assert_eq!(
            (sms.number_id, sms.agent.as_deref()),
            (Some(1001), Some("Alex Martin"))
        );
        let status = HubEvent {
            event: "message.status_updated".into(),
            ..sent.clone()
        };
        assert!(matches!(Pushed::read(&status), Pushed::Message(_)));
        let no_number = HubEvent {
            data: json!({"id": "SM13", "body": "hi"}),
            ..sent
        };
        assert!(matches!(Pushed::read(&no_number), Pushed::Other));
    }
}
