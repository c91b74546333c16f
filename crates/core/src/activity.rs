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
    // Only the last line: ours. Free text above it is indented or on a
    // labelled line, so it cannot forge this one (see `body_lines`).
    let line = format!("Aircall call {call_id}");
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l == line || l.strip_prefix(&line).is_some_and(|rest| rest.starts_with(':')))
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

/// The longest call log written: JobAdder publishes no limit for a note
/// and Sellsy none for a description, and both refuse very long ones ("too
/// long" would park the log for good); a longer text is cut, visibly.
pub const MAX_LOG_CHARS: usize = 8_000;

/// Shown where a log was cut to [`MAX_LOG_CHARS`].
pub const TRUNCATED: &str = "…(truncated)";

/// Whether `c` may change how text around it reads or renders: control
/// characters and the bidirectional overrides and isolates (which can make
/// a CRM show text in another order than it is stored).
pub(crate) fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Free text from Aircall (names, tags, topics) as one line of plain text:
/// control characters and bidi controls gone, line breaks as spaces.
pub fn one_line(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if matches!(c, '\n' | '\r' | '\t') { ' ' } else { c })
        .filter(|c| !is_hostile(*c))
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Free text that may have several lines (an agent's comment, an AI
/// summary), after `label`: its own lines stay, indented, so that no line of
/// it can pass for one of ours (the `Aircall call {id}` line above all).
fn labelled(label: &str, text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(one_line)
        .filter(|line| !line.is_empty())
        .collect();
    format!("{label}{}", lines.join("\n  "))
}

/// A link from Aircall, written only when it is a web address (never a
/// `javascript:` or `data:` link a CRM might make clickable).
fn web_link(link: &str) -> Option<String> {
    let link = one_line(link);
    let lower = link.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(link)
}

/// The lines shared by both CRMs' texts, in the order people read them.
/// Every value from Aircall is plain text here (see [`one_line`]): the CRMs
/// show notes and descriptions as text, and nothing in them may pass for
/// structure.
fn body_lines(call: &FinalCall, options: LogOptions) -> Vec<String> {
    let mut lines = vec![format!("Aircall number: {}", one_line(&call.number_name))];
    if let Some(agent) = &call.agent {
        lines.push(format!("Agent: {}", one_line(&agent.name)));
    }
    if let Some(team) = &call.team {
        lines.push(format!("Team: {}", one_line(team)));
    }
    let list = |items: &[String]| {
        items
            .iter()
            .map(|item| one_line(item))
            .filter(|item| !item.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !call.tags.is_empty() {
        lines.push(format!("Tags: {}", list(&call.tags)));
    }
    if !call.comments.is_empty() {
        lines.push("Notes:".to_owned());
        lines.extend(call.comments.iter().map(|c| labelled("- ", c)));
    }
    if options.ai {
        if let Some(ai) = &call.ai {
            if let Some(sentiment) = &ai.sentiment {
                lines.push(format!("Sentiment: {}", one_line(sentiment).to_lowercase()));
            }
            if let Some(summary) = &ai.summary {
                lines.push(labelled("AI summary: ", summary));
            }
            if !ai.topics.is_empty() {
                lines.push(format!("Key topics: {}", list(&ai.topics)));
            }
        }
    }
    if options.recording_link {
        if let Some(link) = call.recording_link.as_deref().and_then(web_link) {
            let label = match call.outcome {
                Outcome::Voicemail => "Voicemail",
                _ => "Recording",
            };
            lines.push(format!("{label}: {link}"));
        }
    }
    lines
}

/// The last line of every log: it finds the log again.
fn id_line(call: &FinalCall) -> String {
    let mut id_line = format!("Aircall call {}", call.call_id);
    if let Some(link) = call.dashboard_link.as_deref().and_then(web_link) {
        id_line.push_str(&format!(": {link}"));
    }
    id_line
}

/// The text of a call's log, the same in every CRM: a headline, then the
/// details in the order people read them, then the `Aircall call {id}` line
/// that finds the log again. At most [`MAX_LOG_CHARS`]: the details are cut
/// (with [`TRUNCATED`]), never the headline or the last line.
pub fn call_text(call: &FinalCall, options: LogOptions) -> String {
    let head = headline(call);
    let tail = id_line(call);
    let body = body_lines(call, options).join("\n");
    let room = MAX_LOG_CHARS.saturating_sub(head.chars().count() + tail.chars().count() + 2);
    let body = if body.chars().count() > room {
        let keep = room.saturating_sub(TRUNCATED.chars().count());
        let cut: String = body.chars().take(keep).collect();
        format!("{}{TRUNCATED}", cut.trim_end())
    } else {
        body
    };
    format!("{head}\n{body}\n{tail}")
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
