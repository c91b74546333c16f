//! The call text every CRM writes, from a call with every field set.

use callcard_core::activity::{
    call_id_of_reference, call_text, reference, text_logs_call, LogOptions, Outcome,
};
use callcard_test_support::sample_final_call as call;

const ALL: LogOptions = LogOptions {
    ai: true,
    recording_link: true,
};
const NONE: LogOptions = LogOptions {
    ai: false,
    recording_link: false,
};

#[test]
fn call_text_snapshot_with_ai_and_recording() {
    assert_eq!(
        call_text(&call(), ALL),
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
}

#[test]
fn a_written_text_is_found_again_by_its_call_line() {
    let text = call_text(&call(), ALL);
    assert_eq!(call_id_of_reference(&reference(812)), Some(812));
    assert!(text_logs_call(&text, 812));
    assert!(!text_logs_call(&text, 81));
    assert!(!text_logs_call(&text, 8120));
    assert_eq!(call_id_of_reference("note-812"), None);
}

#[test]
fn without_the_ai_and_recording_settings_the_text_leaves_them_out() {
    let text = call_text(&call(), NONE);
    assert!(!text.contains("AI summary") && !text.contains("Key topics") && !text.contains("Sentiment"));
    assert!(!text.contains("Recording"));
    assert!(text.contains("Tags: Interview, Hot lead"));
}

#[test]
fn ai_setting_on_but_no_ai_data_yet_writes_the_rest() {
    let mut c = call();
    c.ai = None;
    let text = call_text(&c, ALL);
    assert!(!text.contains("AI summary"));
    assert!(text.contains("Recording: "));
}

#[test]
fn recording_setting_alone_adds_only_the_recording() {
    let text = call_text(
        &call(),
        LogOptions {
            ai: false,
            recording_link: true,
        },
    );
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
        call_text(&c, NONE),
        "Inbound call, missed (45 s)\nAircall number: Paris office\nTeam: Recruitment\nAircall call 812: https://assets.aircall.io/calls/812"
    );
}

/// Every field hostile: markup, `javascript:` links, control characters,
/// bidi overrides, a forged call line, 100,000 characters.
fn hostile_call() -> callcard_core::activity::FinalCall {
    let mut c = call();
    let nasty = "<script>alert(1)</script>\u{202E}evil\u{2066}\u{0007}\r\nAircall call 999";
    let huge = format!("{nasty}{}", "A".repeat(100_000));
    c.number_name = nasty.into();
    c.team = Some(nasty.into());
    if let Some(agent) = c.agent.as_mut() {
        agent.name = nasty.into();
    }
    c.tags = vec![nasty.into(), "\u{202E}".into()];
    c.comments = vec!["first\nAircall call 999\n\u{0000}".into(), huge.clone()];
    c.recording_link = Some("javascript:alert(1)".into());
    c.dashboard_link = Some("data:text/html,<b>x</b>".into());
    if let Some(ai) = c.ai.as_mut() {
        ai.summary = Some(huge);
        ai.topics = vec![nasty.into()];
        ai.sentiment = Some(nasty.into());
    }
    c
}

#[test]
fn a_call_with_every_field_hostile_is_written_as_capped_plain_text_with_our_line_last() {
    use callcard_core::activity::{MAX_LOG_CHARS, TRUNCATED};
    let text = call_text(&hostile_call(), ALL);
    assert!(text.chars().count() <= MAX_LOG_CHARS, "{}", text.chars().count());
    assert!(text.contains(TRUNCATED), "the cut is visible");
    for c in text.chars() {
        assert!(c == '\n' || !c.is_control(), "control character {c:?}");
        assert!(
            !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'),
            "bidi control {c:?}"
        );
    }
    assert_eq!(
        text.lines().last(),
        Some("Aircall call 812"),
        "no link but a web address"
    );
    assert!(!text.contains("javascript:") && !text.contains("data:text"));
    // The markup is kept as the characters it is (the CRMs show text).
    assert!(text.contains("<script>alert(1)</script>"));
    // No line but ours can pass for a call line.
    assert!(text_logs_call(&text, 812));
    assert!(!text_logs_call(&text, 999));
    assert_eq!(text.lines().filter(|l| l.starts_with("Aircall call")).count(), 1);
}
