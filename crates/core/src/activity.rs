//! What gets written for a final call (DESIGN §1.4): the call as Aircall
//! reports it, and the text every CRM's log carries, shaped by the user's
//! settings. Each CRM's crate puts that text into its own record (a note, a
//! phone-call activity). Pure functions: the text is tested as a snapshot.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Answered,
    Missed,
    Voicemail,
}

impl Outcome {
    /// Aircall's rule: answered when `answered_at` is set, voicemail when a
    /// voicemail exists, otherwise missed.
    pub fn of(answered: bool, voicemail: bool) -> Self {
        match (answered, voicemail) {
            (true, _) => Self::Answered,
            (false, true) => Self::Voicemail,
            (false, false) => Self::Missed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub name: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiData {
    pub summary: Option<String>,
    pub topics: Vec<String>,
    /// Aircall's POSITIVE / NEUTRAL / NEGATIVE.
    pub sentiment: Option<String>,
}

/// A call once Aircall has finished with it (status done + the settle delay).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalCall {
    pub call_id: i64,
    pub direction: Direction,
    pub outcome: Outcome,
    /// Unix seconds.
    pub started_at: i64,
    /// Aircall's duration: ringing and waiting included.
    pub duration_secs: i64,
    pub number_name: String,
    pub agent: Option<Agent>,
    pub team: Option<String>,
    pub tags: Vec<String>,
    pub comments: Vec<String>,
    /// The dashboard page of the call (durable, needs an Aircall login).
    pub dashboard_link: Option<String>,
    /// The recording or voicemail's page in the Aircall dashboard (Aircall's
    /// `asset`): durable and behind an Aircall login, unlike the media URLs,
    /// which expire within the hour and are never written.
    pub recording_link: Option<String>,
    pub ai: Option<AiData>,
}

/// The user's choices that shape the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    pub ai: bool,
    pub recording_link: bool,
}

/// The reference carried into the CRM so the log can be found again.
pub fn reference(call_id: i64) -> String {
    format!("aircall-call-{call_id}")
}

/// The call id a [`reference`] names.
pub fn call_id_of_reference(reference: &str) -> Option<i64> {
    reference.strip_prefix("aircall-call-")?.parse().ok()
}

/// Whether a written text (the description of a CRM activity that has no
/// reference field) is the log of `call_id`: its `Aircall call {id}` line.
pub fn text_logs_call(text: &str, call_id: i64) -> bool {
    let line = format!("Aircall call {call_id}");
    text.lines()
        .any(|l| l == line || l.strip_prefix(&line).is_some_and(|rest| rest.starts_with(':')))
}

/// `3 min 20 s`, `45 s`, `1 h 02 min`.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    match (secs / 3600, (secs % 3600) / 60, secs % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, m, _) => format!("{h} h {m:02} min"),
    }
}

fn headline(call: &FinalCall) -> String {
    let direction = match call.direction {
        Direction::Inbound => "Inbound call",
        Direction::Outbound => "Outbound call",
    };
    let outcome = match call.outcome {
        Outcome::Answered => "answered",
        Outcome::Missed => "missed",
        Outcome::Voicemail => "voicemail left",
    };
    format!("{direction}, {outcome} ({})", human_duration(call.duration_secs))
}

/// The lines shared by both CRMs' texts, in the order people read them.
fn body_lines(call: &FinalCall, options: LogOptions) -> Vec<String> {
    let mut lines = vec![format!("Aircall number: {}", call.number_name)];
    if let Some(agent) = &call.agent {
        lines.push(format!("Agent: {}", agent.name));
    }
    if let Some(team) = &call.team {
        lines.push(format!("Team: {team}"));
    }
    if !call.tags.is_empty() {
        lines.push(format!("Tags: {}", call.tags.join(", ")));
    }
    if !call.comments.is_empty() {
        lines.push("Notes:".to_owned());
        lines.extend(call.comments.iter().map(|c| format!("- {c}")));
    }
    if options.ai {
        if let Some(ai) = &call.ai {
            if let Some(sentiment) = &ai.sentiment {
                lines.push(format!("Sentiment: {}", sentiment.to_lowercase()));
            }
            if let Some(summary) = &ai.summary {
                lines.push(format!("AI summary: {summary}"));
            }
            if !ai.topics.is_empty() {
                lines.push(format!("Key topics: {}", ai.topics.join(", ")));
            }
        }
    }
    if options.recording_link {
        if let Some(link) = &call.recording_link {
            let label = match call.outcome {
                Outcome::Voicemail => "Voicemail",
                _ => "Recording",
            };
            lines.push(format!("{label}: {link}"));
        }
    }
    let mut id_line = format!("Aircall call {}", call.call_id);
    if let Some(link) = &call.dashboard_link {
        id_line.push_str(&format!(": {link}"));
    }
    lines.push(id_line);
    lines
}

/// The text of a call's log, the same in every CRM: a headline, then the
/// details in the order people read them, then the `Aircall call {id}` line
/// that finds the log again.
pub fn call_text(call: &FinalCall, options: LogOptions) -> String {
    let mut lines = vec![headline(call)];
    lines.extend(body_lines(call, options));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_aircalls_rule() {
        assert_eq!(Outcome::of(false, true), Outcome::Voicemail);
        assert_eq!(Outcome::of(true, true), Outcome::Answered);
        assert_eq!(Outcome::of(false, false), Outcome::Missed);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(0), "0 s");
        assert_eq!(human_duration(60), "1 min");
        assert_eq!(human_duration(3_725), "1 h 02 min");
    }
}
