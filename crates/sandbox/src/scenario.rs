//! The scenario driver: calls that ring, are answered or missed, leave
//! voicemails, get tags, notes and AI data later — driven in-process (the
//! demo mode and Rust tests) or through the control API (`/_sandbox/calls`),
//! with the same code.

use crate::aircall::{Ai, Call};
use crate::state::Shared;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
pub struct NewCall {
    pub direction: String,
    pub external_number: String,
    pub number_id: i64,
    pub user_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallAction {
    Answer {
        user_id: Option<i64>,
    },
    Hangup {
        reason: Option<String>,
    },
    Voicemail,
    Recording,
    Transfer {
        user_id: i64,
    },
    Tags {
        names: Vec<String>,
    },
    Comment {
        content: String,
    },
    Ai {
        summary: Option<String>,
        topics: Option<Vec<String>>,
        sentiment: Option<String>,
    },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DriveError {
    #[error("{0}")]
    Invalid(String),
    #[error("no call {0}")]
    NoCall(i64),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("unknown call action {0:?}")]
    UnknownAction(String),
}

impl DriveError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::NoCall(_) | Self::UnknownAction(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
        }
    }
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
}

impl CallAction {
    /// The action named in `/_sandbox/calls/{id}/{action}` with its JSON body.
    pub fn from_request(action: &str, body: &Value) -> Result<Self, DriveError> {
        let text = |key: &str| body[key].as_str().map(str::to_owned);
        Ok(match action {
            "answer" => Self::Answer {
                user_id: body["user_id"].as_i64(),
            },
            "hangup" => Self::Hangup {
                reason: text("reason"),
            },
            "voicemail" => Self::Voicemail,
            "recording" => Self::Recording,
            "transfer" => Self::Transfer {
                user_id: body["user_id"]
                    .as_i64()
                    .ok_or(DriveError::Invalid("transfer needs user_id".into()))?,
            },
            "tags" => Self::Tags {
                names: strings(&body["names"]).unwrap_or_default(),
            },
            "comments" => Self::Comment {
                content: text("content").ok_or(DriveError::Invalid("comments needs content".into()))?,
            },
            "ai" => Self::Ai {
                summary: text("summary"),
                topics: strings(&body["topics"]),
                sentiment: text("sentiment"),
            },
            other => return Err(DriveError::UnknownAction(other.to_owned())),
        })
    }

    fn event(&self) -> &'static str {
        match self {
            Self::Answer { .. } => "call.answered",
            Self::Hangup { .. } => "call.hungup",
            Self::Voicemail => "call.voicemail_left",
            Self::Recording => "call.updated",
            Self::Transfer { .. } => "call.transferred",
            Self::Tags { .. } => "call.tagged",
            Self::Comment { .. } => "call.commented",
            // Sent as summary.created, topics.created and sentiment.created.
            Self::Ai { .. } => "ai",
        }
    }
}

/// An SMS sent or received on one of the company's numbers.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct NewSms {
    pub direction: String,
    pub external_number: String,
    pub number_id: i64,
    pub body: String,
    /// Sent this long after now (the demo's reply "the next day").
    #[serde(default)]
    pub later_ms: i64,
}

/// Drives the simulated Aircall company.
#[derive(Clone)]
pub struct Driver {
    shared: Arc<Shared>,
}

impl Driver {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// An inbound call from `from` on `number_id` that `user_id` answers,
    /// then hangs up: the everyday call, every webhook sent. Returns its id.
    pub fn answered(&self, from: &str, number_id: i64, user_id: i64) -> Result<i64, DriveError> {
        let call = self.ring(NewCall {
            direction: "inbound".into(),
            external_number: from.into(),
            number_id,
            user_id: None,
        })?;
        self.act(
            call,
            CallAction::Answer {
                user_id: Some(user_id),
            },
        )?;
        self.act(call, CallAction::Hangup { reason: None })?;
        Ok(call)
    }

    /// A new ringing call; `call.created` goes to the webhook.
    pub fn ring(&self, new: NewCall) -> Result<i64, DriveError> {
        if new.direction != "inbound" && new.direction != "outbound" {
            return Err(DriveError::Invalid(
                "direction must be inbound or outbound".into(),
            ));
        }
        let now = self.shared.clock.now_secs();
        let (id, data, ringing) = {
            let mut world = self.shared.world();
            let aircall = &mut world.aircall;
            if !aircall
                .numbers
                .iter()
                .any(|n| n["id"].as_i64() == Some(new.number_id))
            {
                return Err(DriveError::Invalid(format!(
                    "no Aircall number {}",
                    new.number_id
                )));
            }
            if let Some(user) = new.user_id.filter(|u| aircall.user(*u).is_none()) {
                return Err(DriveError::Invalid(format!("no Aircall user {user}")));
            }
            if new.direction == "outbound" && new.user_id.is_none() {
                return Err(DriveError::Invalid("an outbound call needs its user_id".into()));
            }
            let id = aircall.next_id();
            let call = Call {
                id,
                direction: new.direction,
                started_at: now,
                answered_at: None,
                ended_at: None,
                raw_digits: new.external_number,
                number_id: new.number_id,
                user_id: new.user_id,
                voicemail: None,
                recording: None,
                missed_call_reason: None,
                tags: Vec::new(),
                comments: Vec::new(),
                transferred_to: None,
                transferred_by: None,
                ai: None,
            };
            let data = aircall.call_json(&call, now, false);
            // An inbound call rings on every agent of its number: one
            // call.ringing_on_agent each, the call with that agent as `user`.
            let ringing: Vec<Value> = if call.direction == "inbound" && call.user_id.is_none() {
                aircall
                    .users
                    .iter()
                    .filter(|u| u.numbers.contains(&call.number_id))
                    .map(|u| {
                        let mut on_agent = data.clone();
                        on_agent["user"] = aircall.user_json(u);
                        on_agent
                    })
                    .collect()
            } else {
                Vec::new()
            };
            aircall.calls.insert(id, call);
            (id, data, ringing)
        };
        let t_ms = self.shared.clock.now_ms();
        self.shared.webhooks.send(t_ms, "call", "call.created", data);
        for on_agent in ringing {
            self.shared
                .webhooks
                .send(t_ms, "call", "call.ringing_on_agent", on_agent);
        }
        Ok(id)
    }

    /// An SMS: `message.sent` or `message.received` goes to the webhook, as
    /// Aircall's only way to tell about SMS. Returns the message's id.
    pub fn sms(&self, sms: NewSms) -> Result<String, DriveError> {
        let event = match sms.direction.as_str() {
            "inbound" => "message.received",
            "outbound" => "message.sent",
            _ => {
                return Err(DriveError::Invalid(
                    "direction must be inbound or outbound".into(),
                ))
            }
        };
        let now = self.shared.clock.now_ms() + sms.later_ms.max(0);
        let (id, number) = {
            let mut world = self.shared.world();
            let id = world.aircall.next_id();
            let number = world
                .aircall
                .numbers
                .iter()
                .find(|n| n["id"].as_i64() == Some(sms.number_id))
                .cloned();
            (id, number)
        };
        let number =
            number.ok_or_else(|| DriveError::Invalid(format!("no Aircall number {}", sms.number_id)))?;
        let created = crate::clock::iso8601(now);
        let data = serde_json::json!({
            "id": format!("SM{id}"), "status": if event == "message.sent" { "sent" } else { "received" },
            "direct_link": format!("https://api.aircall.io/v1/numbers/{}/messages/SM{id}", sms.number_id),
            "direction": sms.direction, "created_at": created, "sent_at": created, "updated_at": created,
            "raw_digits": sms.external_number, "external_number": sms.external_number, "body": sms.body,
            "number": number, "contact": null,
        });
        self.shared.webhooks.send(now, "message", event, data);
        Ok(format!("SM{id}"))
    }

    /// Writes a busy company's past calls (see [`crate::company`]).
    pub fn company_history(
        &self,
        plan: &crate::company::CompanyHistory,
    ) -> Result<Vec<crate::company::SeededCall>, DriveError> {
        crate::company::write(&self.shared, plan).map_err(DriveError::Invalid)
    }

    /// Moves a call on; the matching webhook event is sent. Returns the call as the API shows it.
    pub fn act(&self, id: i64, action: CallAction) -> Result<Value, DriveError> {
        let now = self.shared.clock.now_secs();
        let event = action.event();
        let data = {
            let mut world = self.shared.world();
            let aircall = &mut world.aircall;
            let tag_ids: Vec<i64> = match &action {
                CallAction::Tags { names } => names
                    .iter()
                    .map(|name| match aircall.tags.iter().find(|t| t["name"] == name.as_str()) {
                        Some(t) => t["id"].as_i64().unwrap_or(0),
                        None => {
                            let tag_id = aircall.next_id();
                            aircall.tags.push(serde_json::json!({"id": tag_id, "name": name, "color": "#888888", "description": null}));
                            tag_id
                        }
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let call = aircall.calls.get_mut(&id).ok_or(DriveError::NoCall(id))?;
            apply(call, action, now, tag_ids)?;
            let call = call.clone();
            aircall.call_json(&call, now, false)
        };
        let t_ms = self.shared.clock.now_ms();
        if event == "ai" {
            self.send_ai_events(id, t_ms);
            return Ok(data);
        }
        self.shared.webhooks.send(t_ms, "call", event, data.clone());
        if event == "call.hungup" {
            // Aircall sends call.ended about 30 s later, once the call is complete.
            self.shared
                .webhooks
                .send(t_ms, "call", "call.ended", data.clone());
        }
        Ok(data)
    }

    /// The AI results of a call, one event each as Aircall's conversation
    /// intelligence sends them: what `GET /v1/calls/{id}/summary`, `/topics`
    /// and `/sentiments` answer, with the call's id.
    fn send_ai_events(&self, id: i64, t_ms: i64) {
        let ai = self
            .shared
            .world()
            .aircall
            .calls
            .get(&id)
            .and_then(|c| c.ai.clone());
        let Some(ai) = ai else { return };
        let webhooks = &self.shared.webhooks;
        webhooks.send(
            t_ms,
            "summary",
            "summary.created",
            serde_json::json!({"id": id, "call_id": id, "content": ai.summary}),
        );
        webhooks.send(
            t_ms,
            "topic",
            "topics.created",
            serde_json::json!({"id": id, "call_id": id, "content": ai.topics}),
        );
        webhooks.send(
            t_ms,
            "sentiment",
            "sentiment.created",
            serde_json::json!({"id": id, "call_id": id, "participants": [{"phone_number": null, "type": "external", "value": ai.sentiment}]}),
        );
    }

    /// Plays a scripted call in real time, scaled by `speed` (2.0 = twice as fast).
    pub async fn play(&self, script: &ScriptedCall, speed: f64) -> Result<i64, DriveError> {
        let wait =
            |secs: f64| tokio::time::sleep(Duration::from_secs_f64((secs / speed.max(0.001)).max(0.0)));
        let id = self.ring(script.call.clone())?;
        wait(script.ring_secs).await;
        match script.outcome {
            Outcome::Answered { talk_secs } => {
                self.act(
                    id,
                    CallAction::Answer {
                        user_id: script.answered_by,
                    },
                )?;
                wait(talk_secs).await;
                self.act(id, CallAction::Hangup { reason: None })?;
            }
            Outcome::Missed => {
                self.act(id, CallAction::Hangup { reason: None })?;
            }
            Outcome::Voicemail => {
                self.act(id, CallAction::Voicemail)?;
            }
        }
        if !script.tags.is_empty() {
            self.act(
                id,
                CallAction::Tags {
                    names: script.tags.clone(),
                },
            )?;
        }
        if let Some(comment) = &script.comment {
            self.act(
                id,
                CallAction::Comment {
                    content: comment.clone(),
                },
            )?;
        }
        if let Some(after) = script.ai_after_secs {
            wait(after).await;
            self.act(
                id,
                CallAction::Ai {
                    summary: None,
                    topics: None,
                    sentiment: None,
                },
            )?;
        }
        Ok(id)
    }

    /// Numbers of seeded CRM records, in E.164, for calls whose caller is known.
    pub fn known_numbers(&self, crm: &str, limit: usize) -> Vec<String> {
        let world = self.shared.world();
        let records: Vec<&crate::state::Record> = match crm {
            "jobadder" => world
                .jobadder
                .candidates
                .values()
                .chain(world.jobadder.contacts.values())
                .collect(),
            _ => world.sellsy.contacts.values().collect(),
        };
        records
            .into_iter()
            .filter_map(|r| {
                ["mobile", "phone", "mobile_number", "phone_number"]
                    .iter()
                    .filter_map(|f| r.str(f))
                    .find_map(|n| crate::jobadder::e164(n, &r.region))
            })
            .take(limit)
            .collect()
    }

    /// Numbers of Sellsy contacts with an open opportunity (the demo's
    /// first Sellsy callers: their card shows one).
    pub fn sellsy_numbers_with_open_opportunity(&self, limit: usize) -> Vec<String> {
        let world = self.shared.world();
        let sellsy = &world.sellsy;
        let with_opportunity: Vec<i64> = sellsy
            .opportunities
            .values()
            .filter(|o| o.str("status") == Some("open"))
            .flat_map(|o| {
                o.fields
                    .get("contact_ids")
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(serde_json::Value::as_i64)
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut numbers: Vec<String> = Vec::new();
        for id in with_opportunity {
            let Some(contact) = sellsy.contacts.get(&id) else {
                continue;
            };
            let number = ["mobile_number", "phone_number"]
                .iter()
                .filter_map(|f| contact.str(f))
                .find_map(|n| crate::jobadder::e164(n, &contact.region));
            if let Some(number) = number.filter(|n| !numbers.contains(n)) {
                numbers.push(number);
            }
            if numbers.len() >= limit {
                break;
            }
        }
        numbers
    }
}

fn apply(call: &mut Call, action: CallAction, now: i64, tag_ids: Vec<i64>) -> Result<(), DriveError> {
    match action {
        CallAction::Answer { user_id } => {
            if call.ended_at.is_some() {
                return Err(DriveError::Conflict("the call has ended"));
            }
            let user = user_id
                .or(call.user_id)
                .ok_or(DriveError::Invalid("answer needs user_id".into()))?;
            call.user_id = Some(user);
            call.answered_at = Some(now);
        }
        CallAction::Hangup { reason } => {
            if call.ended_at.is_some() {
                return Err(DriveError::Conflict("the call has already ended"));
            }
            call.ended_at = Some(now);
            if call.answered_at.is_none() && call.direction == "inbound" {
                call.missed_call_reason = Some(reason.unwrap_or_else(|| "agents_did_not_answer".to_owned()));
            }
        }
        CallAction::Voicemail => {
            call.voicemail = Some(format!("https://voicemail.aircall.io/sandbox/{}.mp3", call.id));
            call.ended_at.get_or_insert(now);
            call.missed_call_reason
                .get_or_insert_with(|| "agents_did_not_answer".to_owned());
        }
        CallAction::Recording => {
            call.recording = Some(format!("https://recording.aircall.io/sandbox/{}.mp3", call.id))
        }
        CallAction::Transfer { user_id } => {
            call.transferred_by = call.user_id;
            call.transferred_to = Some(user_id);
            call.user_id = Some(user_id);
        }
        CallAction::Tags { .. } => {
            for tag in tag_ids {
                if !call.tags.contains(&tag) {
                    call.tags.push(tag);
                }
            }
        }
        CallAction::Comment { content } => {
            let comment_id = call.id * 100 + call.comments.len() as i64 + 1;
            let posted_by = call.user_id.map(|p| serde_json::json!({"id": p}));
            call.comments.push(serde_json::json!({"id": comment_id, "content": content, "posted_at": now, "posted_by": posted_by}));
        }
        CallAction::Ai {
            summary,
            topics,
            sentiment,
        } => {
            call.ai = Some(Ai {
                summary: summary.unwrap_or_else(|| {
                    "The caller asked about next steps; a follow-up was agreed.".to_owned()
                }),
                topics: topics.unwrap_or_else(|| vec!["follow-up".into(), "availability".into()]),
                sentiment: sentiment.unwrap_or_else(|| "POSITIVE".to_owned()),
            });
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Answered { talk_secs: f64 },
    Missed,
    Voicemail,
}

/// One call of a script, with its timeline.
#[derive(Debug, Clone)]
pub struct ScriptedCall {
    pub call: NewCall,
    pub ring_secs: f64,
    pub answered_by: Option<i64>,
    pub outcome: Outcome,
    pub tags: Vec<String>,
    pub comment: Option<String>,
    /// AI data arrives this long after the call ends; `None`: never (no AI plan).
    pub ai_after_secs: Option<f64>,
}

/// A gentle, varied stream of calls from known callers: answered, missed,
/// voicemail, outbound; tags, notes, AI data later. What the demo mode plays.
pub fn demo_script(known_numbers: &[String], user_id: i64) -> Vec<ScriptedCall> {
    let outcomes = [
        (
            Outcome::Answered { talk_secs: 25.0 },
            "inbound",
            vec!["Interview"],
            Some("Available from Monday"),
            Some(40.0),
        ),
        (Outcome::Missed, "inbound", vec![], None, None),
        (
            Outcome::Answered { talk_secs: 15.0 },
            "outbound",
            vec!["Follow-up"],
            None,
            Some(30.0),
        ),
        (Outcome::Voicemail, "inbound", vec![], None, None),
        (
            Outcome::Answered { talk_secs: 40.0 },
            "inbound",
            vec!["Hot lead"],
            Some("Send the contract today"),
            Some(60.0),
        ),
    ];
    known_numbers
        .iter()
        .zip(outcomes.iter().cycle())
        .map(|(number, (outcome, direction, tags, comment, ai))| ScriptedCall {
            call: NewCall {
                direction: (*direction).to_owned(),
                external_number: number.clone(),
                number_id: 1001,
                user_id: (*direction == "outbound").then_some(user_id),
            },
            ring_secs: 6.0,
            answered_by: Some(user_id),
            outcome: *outcome,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            comment: comment.map(str::to_owned),
            ai_after_secs: *ai,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actions_are_read_from_the_control_api_names() {
        assert_eq!(
            CallAction::from_request("answer", &json!({"user_id": 5})),
            Ok(CallAction::Answer { user_id: Some(5) })
        );
        assert_eq!(
            CallAction::from_request("tags", &json!({"names": ["A", "B"]})),
            Ok(CallAction::Tags {
                names: vec!["A".into(), "B".into()]
            })
        );
        assert!(matches!(
            CallAction::from_request("comments", &json!({})),
            Err(DriveError::Invalid(_))
        ));
        assert!(matches!(
            CallAction::from_request("explode", &json!({})),
            Err(DriveError::UnknownAction(_))
        ));
    }

    #[test]
    fn the_demo_script_mixes_outcomes_and_directions() {
        let numbers: Vec<String> = (0..5).map(|i| format!("+3361234567{i}")).collect();
        let script = demo_script(&numbers, 2001);
        assert_eq!(script.len(), 5);
        assert!(script.iter().any(|c| c.outcome == Outcome::Missed));
        assert!(script.iter().any(|c| c.outcome == Outcome::Voicemail));
        assert!(script
            .iter()
            .any(|c| c.call.direction == "outbound" && c.call.user_id == Some(2001)));
        assert!(script.iter().any(|c| c.ai_after_secs.is_some()));
    }
}
