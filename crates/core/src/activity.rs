//! What gets written for a final call (DESIGN §1.4): the JobAdder note and
//! the Sellsy phone-call activity, built from the call as Aircall reports it
//! and the user's settings. Pure functions: the text is tested as a snapshot.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Valid about an hour only, hence a setting.
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

/// Whether a written text (a Sellsy phone call's description, which has no
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
            lines.push(format!("Recording: {link}"));
        }
    }
    let mut id_line = format!("Aircall call {}", call.call_id);
    if let Some(link) = &call.dashboard_link {
        id_line.push_str(&format!(": {link}"));
    }
    lines.push(id_line);
    lines
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAdderNote {
    /// JobAdder's note type (≤ 50 characters).
    pub note_type: String,
    pub text: String,
    /// ≤ 200 characters; finds the note again.
    pub reference: String,
    /// The agent, so the note is attributed to them.
    pub created_by_email: Option<String>,
}

pub fn jobadder_note(call: &FinalCall, options: LogOptions) -> JobAdderNote {
    let mut lines = vec![headline(call)];
    lines.extend(body_lines(call, options));
    JobAdderNote {
        note_type: "Phone call".to_owned(),
        text: lines.join("\n"),
        reference: reference(call.call_id),
        created_by_email: call.agent.as_ref().and_then(|a| a.email.clone()),
    }
}

/// Sellsy's `result`: missed → `noanswer`, answered → `connected`,
/// voicemail left → `msgvocal`.
pub fn sellsy_result(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Answered => "connected",
        Outcome::Missed => "noanswer",
        Outcome::Voicemail => "msgvocal",
    }
}

/// Sellsy's `source`, in Sellsy's spelling.
pub fn sellsy_source(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "incoming",
        Direction::Outbound => "outcoming",
    }
}

/// The owner: the staff member whose e-mail is the Aircall agent's, else the
/// contact's owner (an inbound missed call has no agent).
pub fn sellsy_owner(
    agent: Option<&Agent>,
    staff: &[(i64, String)],
    contact_owner: Option<i64>,
) -> Option<i64> {
    agent
        .and_then(|a| a.email.as_deref())
        .and_then(|email| staff.iter().find(|(_, e)| e.eq_ignore_ascii_case(email)))
        .map(|(id, _)| *id)
        .or(contact_owner)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellsyRelated {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
}

/// What the call relates to: at most one of each type, at most three.
pub fn sellsy_related(
    contact: Option<i64>,
    opportunity: Option<i64>,
    company: Option<i64>,
    individual: Option<i64>,
) -> Vec<SellsyRelated> {
    [
        ("contact", contact),
        ("opportunity", opportunity),
        ("company", company),
        ("individual", individual),
    ]
    .into_iter()
    .filter_map(|(kind, id)| {
        id.map(|id| SellsyRelated {
            id,
            kind: kind.to_owned(),
        })
    })
    .take(3)
    .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellsyPhoneCall {
    pub owner_id: i64,
    pub date: String,
    pub result: String,
    pub source: String,
    pub duration: i64,
    pub description: String,
    pub related: Vec<SellsyRelated>,
}

pub fn sellsy_phone_call(
    call: &FinalCall,
    options: LogOptions,
    owner_id: i64,
    related: Vec<SellsyRelated>,
) -> SellsyPhoneCall {
    let date = OffsetDateTime::from_unix_timestamp(call.started_at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned());
    let mut lines = vec![headline(call)];
    lines.extend(body_lines(call, options));
    SellsyPhoneCall {
        owner_id,
        date,
        result: sellsy_result(call.outcome).to_owned(),
        source: sellsy_source(call.direction).to_owned(),
        duration: call.duration_secs.max(0),
        description: lines.join("\n"),
        related,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> FinalCall {
        FinalCall {
            call_id: 812,
            direction: Direction::Inbound,
            outcome: Outcome::Answered,
            started_at: 1_584_998_199,
            duration_secs: 200,
            number_name: "Paris office".into(),
            agent: Some(Agent {
                name: "Alex Martin".into(),
                email: Some("alex.martin@callcard.test".into()),
            }),
            team: Some("Recruitment".into()),
            tags: vec!["Interview".into(), "Hot lead".into()],
            comments: vec!["Available from Monday".into()],
            dashboard_link: Some("https://assets.aircall.io/calls/812".into()),
            recording_link: Some("https://recording.aircall.io/812.mp3".into()),
            ai: Some(AiData {
                summary: Some("Discussed the role.".into()),
                topics: vec!["salary".into(), "start date".into()],
                sentiment: Some("POSITIVE".into()),
            }),
        }
    }

    const ALL: LogOptions = LogOptions {
        ai: true,
        recording_link: true,
    };
    const NONE: LogOptions = LogOptions {
        ai: false,
        recording_link: false,
    };

    #[test]
    fn jobadder_note_text_snapshot_with_ai_and_recording() {
        let note = jobadder_note(&call(), ALL);
        assert_eq!(
            note.text,
            "Inbound call, answered (3 min 20 s)\n\
             Aircall number: Paris office\n\
             Agent: Alex Martin\n\
             Team: Recruitment\n\
             Tags: Interview, Hot lead\n\
             Notes:\n\
             - Available from Monday\n\
             Sentiment: positive\n\
             AI summary: Discussed the role.\n\
             Key topics: salary, start date\n\
             Recording: https://recording.aircall.io/812.mp3\n\
             Aircall call 812: https://assets.aircall.io/calls/812"
        );
        assert_eq!(note.reference, "aircall-call-812");
        assert_eq!(
            note.created_by_email.as_deref(),
            Some("alex.martin@callcard.test")
        );
        assert!(note.note_type.chars().count() <= 50 && note.reference.chars().count() <= 200);
    }

    #[test]
    fn jobadder_note_without_ai_and_recording_settings_leaves_them_out() {
        let text = jobadder_note(&call(), NONE).text;
        assert!(!text.contains("AI summary") && !text.contains("Key topics") && !text.contains("Sentiment"));
        assert!(!text.contains("Recording"));
        assert!(text.contains("Tags: Interview, Hot lead"));
    }

    #[test]
    fn ai_setting_on_but_no_ai_data_yet_writes_the_rest() {
        let mut c = call();
        c.ai = None;
        let text = jobadder_note(&c, ALL).text;
        assert!(!text.contains("AI summary"));
        assert!(text.contains("Recording: "));
    }

    #[test]
    fn recording_setting_alone_adds_only_the_recording() {
        let text = jobadder_note(
            &call(),
            LogOptions {
                ai: false,
                recording_link: true,
            },
        )
        .text;
        assert!(text.contains("Recording: ") && !text.contains("AI summary"));
    }

    #[test]
    fn a_missed_inbound_call_without_agent_reads_plainly() {
        let mut c = call();
        c.outcome = Outcome::Missed;
        c.agent = None;
        c.tags.clear();
        c.comments.clear();
        c.duration_secs = 45;
        assert_eq!(
            jobadder_note(&c, NONE).text,
            "Inbound call, missed (45 s)\nAircall number: Paris office\nTeam: Recruitment\nAircall call 812: https://assets.aircall.io/calls/812"
        );
    }

    #[test]
    fn sellsy_result_mapping_missed_noanswer_answered_connected_voicemail_msgvocal() {
        assert_eq!(sellsy_result(Outcome::Missed), "noanswer");
        assert_eq!(sellsy_result(Outcome::Answered), "connected");
        assert_eq!(sellsy_result(Outcome::Voicemail), "msgvocal");
        assert_eq!(Outcome::of(false, true), Outcome::Voicemail);
        assert_eq!(Outcome::of(true, true), Outcome::Answered);
        assert_eq!(Outcome::of(false, false), Outcome::Missed);
    }

    #[test]
    fn sellsy_source_is_incoming_or_outcoming() {
        assert_eq!(sellsy_source(Direction::Inbound), "incoming");
        assert_eq!(sellsy_source(Direction::Outbound), "outcoming");
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
        assert_eq!(sellsy_owner(Some(&agent), &staff, Some(302)), Some(301));
        let stranger = Agent {
            name: "Z".into(),
            email: Some("z@elsewhere.test".into()),
        };
        assert_eq!(sellsy_owner(Some(&stranger), &staff, Some(302)), Some(302));
        assert_eq!(
            sellsy_owner(None, &staff, Some(302)),
            Some(302),
            "inbound missed: no agent"
        );
    }

    #[test]
    fn sellsy_related_has_at_most_one_per_type_and_three_in_all() {
        let related = sellsy_related(Some(1), Some(2), Some(3), Some(4));
        assert_eq!(related.len(), 3);
        assert_eq!(
            related.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
            ["contact", "opportunity", "company"]
        );
        assert_eq!(sellsy_related(None, None, Some(3), None).len(), 1);
    }

    #[test]
    fn a_written_text_is_found_again_by_its_call_line() {
        let pc = sellsy_phone_call(&call(), ALL, 301, Vec::new());
        assert_eq!(call_id_of_reference(&reference(812)), Some(812));
        assert!(text_logs_call(&pc.description, 812));
        assert!(!text_logs_call(&pc.description, 81));
        assert!(!text_logs_call(&pc.description, 8120));
        assert_eq!(call_id_of_reference("note-812"), None);
    }

    #[test]
    fn sellsy_phone_call_duration_includes_ringing_and_date_is_rfc3339() {
        let pc = sellsy_phone_call(&call(), ALL, 301, sellsy_related(Some(1), None, None, None));
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

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(0), "0 s");
        assert_eq!(human_duration(60), "1 min");
        assert_eq!(human_duration(3_725), "1 h 02 min");
    }
}
