//! An Aircall call, once final, in the core's terms (what the activity
//! builders write).

use crate::model::{Call, Direction, Insights};
use callcard_core::activity::{self, Agent, AiData, FinalCall, Outcome};

/// The call's page in the Aircall dashboard (needs an Aircall login; durable,
/// unlike the recording link).
pub fn dashboard_link(call_id: i64) -> String {
    format!("https://dashboard.aircall.io/calls/{call_id}")
}

pub fn final_call(call: &Call, insights: Option<&Insights>) -> FinalCall {
    FinalCall {
        call_id: call.id,
        direction: match call.direction {
            Direction::Outbound => activity::Direction::Outbound,
            _ => activity::Direction::Inbound,
        },
        outcome: Outcome::of(call.answered_at.is_some(), call.voicemail.is_some()),
        started_at: call.started_at.unwrap_or(0),
        duration_secs: call.duration,
        number_name: call.number.as_ref().map(|n| n.name.clone()).unwrap_or_default(),
        agent: call.user.as_ref().map(|u| Agent {
            name: u.name.clone(),
            email: u.email.clone(),
        }),
        team: call.teams.first().map(|t| t.name.clone()),
        tags: call.tags.iter().map(|t| t.name.clone()).collect(),
        comments: call
            .comments
            .iter()
            .map(|c| c.content.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect(),
        dashboard_link: Some(dashboard_link(call.id)),
        // The durable dashboard link, never the media URLs (`recording`,
        // `voicemail`), which expire within the hour.
        recording_link: call.asset.clone().filter(|a| a.starts_with("https://")),
        ai: insights.map(|i| AiData {
            summary: i.summary.clone(),
            topics: i.topics.clone(),
            sentiment: i.sentiment.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_sample_becomes_a_final_call() {
        let Some(dir) = callcard_spec_check::specs_dir() else {
            return;
        };
        let text = std::fs::read_to_string(dir.join("aircall/call.json")).expect("sample");
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        let call: Call = serde_json::from_value(value.get("call").cloned().unwrap_or(value)).expect("a call");
        let final_call = final_call(&call, None);
        assert_eq!(final_call.call_id, call.id);
        assert_eq!(final_call.duration_secs, call.duration);
        assert_eq!(final_call.tags.len(), call.tags.len());
        assert!(final_call.dashboard_link.unwrap().ends_with(&call.id.to_string()));
        assert_eq!(final_call.recording_link, call.asset, "the durable link");
    }

    #[test]
    fn the_log_links_the_durable_dashboard_page_never_the_expiring_media() {
        let mut call: Call = serde_json::from_value(serde_json::json!({
            "id": 7, "direction": "inbound", "status": "done", "started_at": 1, "answered_at": null,
            "ended_at": 30, "raw_digits": "+33 6 12 34 56 78",
            "voicemail": "https://voicemail.aircall.io/v/7.mp3?Expires=1",
            "recording": null,
            "asset": "https://assets.aircall.io/calls/7/voicemail"
        }))
        .expect("a call");
        let logged = final_call(&call, None);
        assert_eq!(
            logged.recording_link.as_deref(),
            Some("https://assets.aircall.io/calls/7/voicemail")
        );
        call.asset = None;
        assert_eq!(
            final_call(&call, None).recording_link,
            None,
            "no media URL instead"
        );
    }
}
