//! The events a hub sends a desktop: the same on the stream and in pages.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event from the hub's log. The hub relays Aircall's own payloads:
/// `data` is what the webhook carried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HubEvent {
    /// Where it is in the hub's log: the stream resumes after it.
    pub seq: i64,
    pub resource: String,
    pub event: String,
    /// Unix seconds, as Aircall sent it.
    #[serde(default)]
    pub timestamp: i64,
    /// When the hub received it (Unix ms).
    #[serde(default)]
    pub received_ms: i64,
    #[serde(default)]
    pub data: Value,
}

/// `GET /v1/events`: a page of a desktop's events and where the next page
/// starts (the last sequence number scanned, which may be past the last
/// event given: the events between concerned other desktops).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<HubEvent>,
    pub next_after: i64,
    /// The identity of the log the page is from (see [`crate::paths::LOG_ID`]);
    /// absent from hubs before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<String>,
}

/// The query of `GET /v1/events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    pub after: i64,
    pub limit: Option<usize>,
}

/// The query of `GET /v1/stream` (the `Last-Event-ID` header wins over it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamQuery {
    pub after: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_reads_without_its_optional_fields() {
        let event: HubEvent =
            serde_json::from_value(json!({"seq": 4, "resource": "call", "event": "call.created"})).unwrap();
        assert_eq!(
            (event.timestamp, event.received_ms, event.data),
            (0, 0, Value::Null)
        );
    }

    #[test]
    fn an_event_and_a_page_keep_their_field_names() {
        let event = HubEvent {
            seq: 4,
            resource: "call".into(),
            event: "call.created".into(),
            timestamp: 1_700_000_000,
            received_ms: 1_700_000_000_123,
            data: json!({"id": 1}),
        };
        let page = EventPage {
            events: vec![event],
            next_after: 9,
            log_id: Some("6f1c0a9e3b7d2c45".into()),
        };
        assert_eq!(
            serde_json::to_value(&page).unwrap(),
            json!({"events": [{"seq": 4, "resource": "call", "event": "call.created",
                "timestamp": 1_700_000_000, "received_ms": 1_700_000_000_123_i64, "data": {"id": 1}}],
                "next_after": 9, "log_id": "6f1c0a9e3b7d2c45"})
        );
    }

    #[test]
    fn a_page_query_defaults_to_the_start() {
        let query: PageQuery = serde_json::from_value(json!({})).unwrap();
        assert_eq!(
            query,
            PageQuery {
                after: 0,
                limit: None
            }
        );
    }
}
