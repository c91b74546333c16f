//! SMS logging rules (DESIGN §1.5). In conversation mode, a message joins the
//! current note while it comes at most 72 hours after the note's last change
//! and the joined text stays within the size limit; otherwise it starts a new
//! note. The clock is the caller's, so the 72-hour edge is tested exactly.

use crate::settings::SmsMode;

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
