//! SMS logging rules (DESIGN §1.5). In conversation mode, a message joins the
//! current note while it comes at most 72 hours after the note's last change
//! and the joined text stays within the size limit; otherwise it starts a new
//! note. The clock is the caller's, so the 72-hour edge is tested exactly.

use crate::settings::SmsMode;

/// An SMS to log, as the core knows it (no Aircall type): sent or received
/// on one of the user's lines, with the other party's number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SmsLog {
    /// The phone system's message id: each SMS is logged once by it.
    pub id: String,
    pub inbound: bool,
    /// The other party, as the phone system wrote it.
    pub other_party: String,
    pub body: String,
    pub at_ms: i64,
    /// The user's line it went through.
    pub line_name: String,
    pub line_digits: String,
    pub agent: Option<String>,
    /// Media, listed as links.
    pub media: Vec<String>,
}

/// What an SMS log's reference (the note's, or the first of a conversation) starts with.
pub fn reference(id: &str) -> String {
    // ≤ 200 characters in JobAdder: ids are short, but never trust the length.
    let id: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(120)
        .collect();
    format!("aircall-sms-{id}")
}

/// One line of an SMS log: when, which way, on which line, who, and the
/// text as it was sent (never interpreted: control characters other than
/// line breaks are dropped so the line stays one entry).
pub fn line(sms: &SmsLog) -> String {
    let when = crate::clock::rfc3339(sms.at_ms);
    let line = match (sms.line_name.is_empty(), sms.line_digits.is_empty()) {
        (false, false) => format!("{} ({})", sms.line_name, sms.line_digits),
        (false, true) => sms.line_name.clone(),
        (true, false) => sms.line_digits.clone(),
        (true, true) => "Aircall".to_owned(),
    };
    let (way, party) = if sms.inbound {
        ("SMS received from", sms.other_party.as_str())
    } else {
        ("SMS sent to", sms.other_party.as_str())
    };
    let agent = sms
        .agent
        .as_deref()
        .map(|a| format!(" by {}", clean(a)))
        .unwrap_or_default();
    let mut text = format!(
        "{when} — {way} {} on {}{agent}: {}",
        clean(party),
        clean(&line),
        clean(&sms.body)
    );
    for link in &sms.media {
        text.push_str(&format!(" [media: {}]", clean(link)));
    }
    text
}

/// Text as text: line breaks become spaces, other control characters and
/// bidi overrides go (right-to-left text itself stays as it is).
fn clean(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if crate::activity::is_hostile(c) => None,
            c => Some(c),
        })
        .collect()
}

/// 72 hours, in milliseconds.
pub const CONVERSATION_WINDOW_MS: i64 = 72 * 3600 * 1000;

/// The note an SMS conversation is currently written into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenNote {
    pub last_change_ms: i64,
    pub chars: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsDecision {
    /// SMS logging is off.
    Skip,
    NewNote,
    /// Add the line to the open note (a newline, then the line).
    Append,
}

pub fn decide(
    mode: SmsMode,
    now_ms: i64,
    open: Option<&OpenNote>,
    line_chars: usize,
    max_chars: usize,
) -> SmsDecision {
    match mode {
        SmsMode::Off => SmsDecision::Skip,
        SmsMode::OneNotePerSms => SmsDecision::NewNote,
        SmsMode::Conversation => match open {
            Some(note)
                if now_ms - note.last_change_ms <= CONVERSATION_WINDOW_MS
                    && note.chars + 1 + line_chars <= max_chars =>
            {
                SmsDecision::Append
            }
            _ => SmsDecision::NewNote,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_when_which_way_where_who_and_the_text_as_text() {
        let sms = SmsLog {
            id: "SM1".into(),
            inbound: true,
            other_party: "+447400123456".into(),
            body: "<script>alert(1)</script>\nnext\u{0007}line 🙂 مرحبا".into(),
            at_ms: 1_790_000_000_000,
            line_name: "London desk".into(),
            line_digits: "+44 20 3807 1111".into(),
            agent: None,
            media: vec!["https://dashboard.aircall.io/conversations/1".into()],
        };
        let text = line(&sms);
        assert!(text.starts_with("2026-"), "{text}");
        assert!(text.contains("SMS received from +447400123456 on London desk (+44 20 3807 1111): <script>alert(1)</script> nextline 🙂 مرحبا"), "{text}");
        assert!(text.ends_with("[media: https://dashboard.aircall.io/conversations/1]"));
        assert!(!text.contains('\n') && !text.contains('\u{0007}'));
        assert_eq!(reference("SM1"), "aircall-sms-SM1");
        assert_eq!(reference("SM1/../x"), "aircall-sms-SM1x");
    }

    const HOUR: i64 = 3600 * 1000;
    const MINUTE: i64 = 60 * 1000;

    fn note(last_change_ms: i64, chars: usize) -> OpenNote {
        OpenNote {
            last_change_ms,
            chars,
        }
    }

    #[test]
    fn sms_joins_the_note_when_within_72_hours_and_under_the_limit() {
        let open = note(0, 100);
        assert_eq!(
            decide(
                SmsMode::Conversation,
                71 * HOUR + 59 * MINUTE,
                Some(&open),
                50,
                1000
            ),
            SmsDecision::Append
        );
    }

    #[test]
    fn sms_starts_a_new_note_after_72_hours() {
        let open = note(0, 100);
        assert_eq!(
            decide(SmsMode::Conversation, 72 * HOUR + MINUTE, Some(&open), 50, 1000),
            SmsDecision::NewNote
        );
    }

    #[test]
    fn sms_joins_when_the_joined_text_is_exactly_the_limit_and_not_one_more() {
        // 100 + newline + 899 = 1000.
        let open = note(0, 100);
        assert_eq!(
            decide(SmsMode::Conversation, HOUR, Some(&open), 899, 1000),
            SmsDecision::Append
        );
        assert_eq!(
            decide(SmsMode::Conversation, HOUR, Some(&open), 900, 1000),
            SmsDecision::NewNote
        );
        assert_eq!(
            decide(SmsMode::Conversation, HOUR, Some(&open), 898, 1000),
            SmsDecision::Append
        );
    }

    #[test]
    fn sms_without_an_open_note_starts_one() {
        assert_eq!(
            decide(SmsMode::Conversation, 0, None, 10, 1000),
            SmsDecision::NewNote
        );
    }

    #[test]
    fn one_note_per_sms_and_off_ignore_the_open_note() {
        let open = note(0, 1);
        assert_eq!(
            decide(SmsMode::OneNotePerSms, 1, Some(&open), 1, 1000),
            SmsDecision::NewNote
        );
        assert_eq!(decide(SmsMode::Off, 1, Some(&open), 1, 1000), SmsDecision::Skip);
    }
}
