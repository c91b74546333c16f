//! What a call becomes in JobAdder: a note on the matched candidate and/or
//! contact (one of each at most, by the duplicates rule), carrying the call
//! text, the `reference` that finds it again, and the agent as its author.

use callcard_core::activity::{call_text, reference, FinalCall, LogOptions};
use callcard_core::crm::RecordKind;
use serde::{Deserialize, Serialize};

/// JobAdder logs a call to one candidate and one contact at most.
pub const NOTE_KINDS: [RecordKind; 2] = callcard_core::matching::PEOPLE;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// JobAdder's note type (≤ 50 characters).
    pub note_type: String,
    pub text: String,
    /// ≤ 200 characters; finds the note again.
    pub reference: String,
    /// The agent, so the note is attributed to them.
    pub created_by_email: Option<String>,
}

pub fn note_for(call: &FinalCall, options: LogOptions) -> Note {
    Note {
        note_type: "Phone call".to_owned(),
        text: call_text(call, options),
        reference: reference(call.call_id),
        created_by_email: call.agent.as_ref().and_then(|a| a.email.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_carries_the_call_text_its_reference_and_the_agent() {
        let call = callcard_test_support::sample_final_call();
        let options = LogOptions {
            ai: true,
            recording_link: true,
        };
        let note = note_for(&call, options);
        assert_eq!(note.text, call_text(&call, options));
        assert_eq!(note.reference, "aircall-call-812");
        assert_eq!(
            note.created_by_email.as_deref(),
            Some("alex.martin@callcard.test")
        );
        assert!(note.note_type.chars().count() <= 50 && note.reference.chars().count() <= 200);
    }
}
