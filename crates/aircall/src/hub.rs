//! The desktop's side of the team hub: the stream of the Aircall webhook
//! events that concern this computer's user (Server-Sent Events, resumed
//! after the last event seen), and what each event says about a call.
//!
//! The hub relays Aircall's own payloads, so a call event's `data` is the
//! same Call resource the API answers, and the AI results are what
//! `/summary`, `/topics` and `/sentiments` answer, with the call's id.

use crate::model::{Call, Insights};
use callcard_hub_contract::{paths, ClaimAnswer, ClaimRequest, EventPage, FrameError, FrameReader};
use serde_json::Value;
use std::time::Duration;

pub use callcard_hub_contract::HubEvent;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("the team hub's address is not a web address: {0}")]
    Url(String),
    #[error("the team hub cannot be reached: {0}")]
    Transport(String),
    #[error("the team hub refused this computer's token (ask the hub's admin for a new one)")]
    Refused,
    #[error("the team hub answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the team hub said nothing for {0:?}")]
    Silent(Duration),
    #[error("the team hub sent an event over {0} bytes")]
    TooLarge(usize),
}

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

/// The hub, for one desktop token.
#[derive(Clone)]
pub struct HubClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The biggest event the desktop reads (the hub takes webhooks up to 256 KiB).
const MAX_EVENT_BYTES: usize = 1024 * 1024;

impl HubClient {
    pub fn new(base: &str, token: &str) -> Result<Self, HubError> {
        let parsed = url::Url::parse(base.trim()).map_err(|e| HubError::Url(e.to_string()))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(HubError::Url(format!(
                "{} is neither https nor http",
                parsed.scheme()
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| HubError::Transport(e.to_string()))?;
        Ok(Self {
            base: base.trim().trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn checked(response: reqwest::Response) -> Result<reqwest::Response, HubError> {
        match response.status().as_u16() {
            200..=299 => Ok(response),
            401 | 403 => Err(HubError::Refused),
            status => {
                let message = response.text().await.unwrap_or_default();
                Err(HubError::Status {
                    status,
                    message: message.chars().take(200).collect(),
                })
            }
        }
    }

    /// Opens the stream of this user's events after `after` (what the hub
    /// logged since is sent first).
    pub async fn stream(&self, after: i64) -> Result<HubStream, HubError> {
        let response = self
            .http
            .get(format!("{}{}", self.base, paths::STREAM))
            .bearer_auth(&self.token)
            .header("Last-Event-ID", after.to_string())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        Ok(HubStream {
            response: Self::checked(response).await?,
            frames: FrameReader::new(MAX_EVENT_BYTES),
            pending: Vec::new(),
        })
    }

    /// One page of this user's events after `after`, and where the next
    /// page starts.
    pub async fn page(&self, after: i64, limit: usize) -> Result<(Vec<HubEvent>, i64), HubError> {
        let response = self
            .http
            .get(format!("{}{}", self.base, paths::EVENTS))
            .query(&[("after", after.to_string()), ("limit", limit.to_string())])
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        let page: EventPage = Self::checked(response)
            .await?
            .json()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        Ok((page.events, page.next_after))
    }

    /// Asks to be the desktop that makes the write `key`, for `lease`.
    pub async fn claim(&self, key: &str, lease: Duration) -> Result<callcard_core::claims::Claim, HubError> {
        use callcard_core::claims::Claim;
        let response = self
            .http
            .post(format!("{}{}", self.base, paths::CLAIMS))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(15))
            .json(&ClaimRequest {
                key: key.to_owned(),
                lease_ms: lease.as_millis() as i64,
                ..ClaimRequest::default()
            })
            .send()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        let answer: ClaimAnswer = Self::checked(response)
            .await?
            .json()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        Ok(match answer {
            ClaimAnswer::Granted { taken_over } => Claim::Granted { taken_over },
            ClaimAnswer::Written {
                remote_id: Some(id),
                remote_link,
            } => Claim::WrittenElsewhere(callcard_core::crm::RemoteRef {
                id,
                link: remote_link,
            }),
            // Written, but where is unknown: ask again shortly.
            ClaimAnswer::Written { remote_id: None, .. } => Claim::Held {
                retry_after: Duration::from_secs(5),
            },
            ClaimAnswer::Held { retry_after_ms } => Claim::Held {
                retry_after: Duration::from_millis(retry_after_ms.clamp(500, 600_000) as u64),
            },
        })
    }

    /// This desktop made the write `key`, there.
    pub async fn claim_written(
        &self,
        key: &str,
        remote: &callcard_core::crm::RemoteRef,
    ) -> Result<(), HubError> {
        let response = self
            .http
            .post(format!("{}{}", self.base, paths::CLAIMS_WRITTEN))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(15))
            .json(&ClaimRequest {
                key: key.to_owned(),
                remote_id: Some(remote.id.clone()),
                remote_link: remote.link.clone(),
                ..ClaimRequest::default()
            })
            .send()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        Self::checked(response).await.map(|_| ())
    }

    /// The JobAdder token broker's address on this hub.
    pub fn jobadder_token_url(&self) -> String {
        format!("{}{}", self.base, paths::JOBADDER_TOKEN)
    }

    /// The desktop token, for the broker's requests.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// An open stream; [`HubStream::next`] gives its events one by one.
pub struct HubStream {
    response: reqwest::Response,
    frames: FrameReader,
    pending: Vec<HubEvent>,
}

impl HubStream {
    /// The next event; `Ok(None)` when the hub closed the stream. The hub
    /// sends a keep-alive every 15 s: `idle` without a byte (a laptop that
    /// slept, a network that changed under the connection) is an error, so
    /// that the caller reconnects.
    pub async fn next(&mut self, idle: Duration) -> Result<Option<HubEvent>, HubError> {
        loop {
            if !self.pending.is_empty() {
                return Ok(Some(self.pending.remove(0)));
            }
            let chunk = tokio::time::timeout(idle, self.response.chunk())
                .await
                .map_err(|_| HubError::Silent(idle))?
                .map_err(|e| HubError::Transport(e.to_string()))?;
            let Some(chunk) = chunk else {
                return Ok(None);
            };
            self.frames.push(&chunk);
            loop {
                match self.frames.next_event() {
                    Ok(Some(event)) => self.pending.push(event),
                    Ok(None) => break,
                    Err(FrameError::TooLarge(max)) => return Err(HubError::TooLarge(max)),
                    Err(FrameError::Unreadable(error)) => {
                        tracing::warn!(%error, "an event from the team hub could not be read; skipped")
                    }
                }
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

    #[test]
    fn only_web_addresses_are_hubs() {
        assert!(HubClient::new("ftp://hub.example.com", "t").is_err());
        assert!(HubClient::new("hub.example.com", "t").is_err());
        let hub = HubClient::new(" https://hub.example.com/ ", "cch_secret").unwrap();
        assert_eq!(hub.base(), "https://hub.example.com");
        assert!(!format!("{hub:?}").contains("cch_secret"));
    }
}
