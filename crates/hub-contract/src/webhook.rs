//! What Aircall posts to the hub, and what the hub answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One webhook delivery as Aircall sends it. The token is the webhook's
/// own (checked by the hub, never kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEnvelope {
    pub resource: String,
    pub event: String,
    /// Unix seconds, as Aircall sends it.
    pub timestamp: i64,
    #[serde(default)]
    pub token: String,
    pub data: Value,
}

/// The hub's answer to a delivery it committed: where the event is in the
/// log, and whether it was there already (Aircall retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookReceipt {
    pub seq: i64,
    pub duplicate: bool,
}

/// The body of every refusal the hub makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_envelope_without_a_token_reads_with_an_empty_one() {
        let envelope: WebhookEnvelope = serde_json::from_value(json!({
            "resource": "call", "event": "call.created", "timestamp": 1_700_000_000,
            "data": {"id": 1}
        }))
        .unwrap();
        assert_eq!(envelope.token, "");
        assert_eq!(envelope.data["id"], 1);
    }

    #[test]
    fn an_envelope_without_data_is_not_one() {
        let missing = serde_json::from_value::<WebhookEnvelope>(json!({
            "resource": "call", "event": "call.created", "timestamp": 1, "token": "t"
        }));
        assert!(missing.is_err());
    }

    #[test]
    fn a_receipt_and_a_refusal_keep_their_field_names() {
        let receipt = WebhookReceipt {
            seq: 3,
            duplicate: true,
        };
        assert_eq!(
            serde_json::to_value(receipt).unwrap(),
            json!({"seq": 3, "duplicate": true})
        );
        let refusal = ErrorAnswer {
            error: "wrong webhook token".into(),
        };
        assert_eq!(
            serde_json::to_value(refusal).unwrap(),
            json!({"error": "wrong webhook token"})
        );
    }
}
