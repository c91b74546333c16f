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

/// Why a delivery is not an Aircall event (refused with a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a JSON object")]
    NotAnObject,
    #[error("its {field} is not a plain lowercase name")]
    BadName { field: &'static str },
}

/// The longest resource or event name taken (Aircall's are under 30).
const MAX_NAME: usize = 64;

/// `call`, `call.ringing_on_agent`: lowercase words of letters, digits and
/// `_`, joined by dots (an event) — never text to interpret or log raw.
fn is_plain_name(name: &str, dotted: bool) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.split('.').count() <= if dotted { 4 } else { 1 }
        && name.split('.').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

impl WebhookEnvelope {
    /// Reads a delivery, lenient where Aircall may vary and strict where a
    /// name could carry anything: a timestamp as a float or a string is
    /// read as whole seconds, a missing one is `None` (the hub uses when it
    /// received it), a missing `data` is `null`; each leniency is named in
    /// the list returned, for a loud log line. A `resource` or `event`
    /// that is not a plain lowercase name is refused.
    pub fn read(body: &[u8]) -> Result<(Self, Option<i64>, Vec<&'static str>), EnvelopeError> {
        let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
            return Err(EnvelopeError::NotAnObject);
        };
        let mut odd = Vec::new();
        let name = |field: &'static str, dotted: bool| match fields.get(field) {
            Some(Value::String(name)) if is_plain_name(name, dotted) => Ok(name.clone()),
            _ => Err(EnvelopeError::BadName { field }),
        };
        let (resource, event) = (name("resource", false)?, name("event", true)?);
        let timestamp = match fields.get("timestamp") {
            Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
            Some(Value::Number(n)) => {
                odd.push("a timestamp that is not a whole number");
                n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)
            }
            Some(Value::String(text)) => {
                odd.push("a timestamp as text");
                let text = text.trim();
                text.parse::<i64>().ok().or_else(|| {
                    text.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .map(|f| f as i64)
                })
            }
            _ => None,
        };
        if timestamp.is_none() {
            odd.push("no readable timestamp");
        }
        let token = match fields.remove("token") {
            Some(Value::String(token)) => token,
            _ => String::new(),
        };
        let data = match fields.remove("data") {
            Some(data) => data,
            None => {
                odd.push("no data");
                Value::Null
            }
        };
        let envelope = Self {
            resource,
            event,
            timestamp: timestamp.unwrap_or(0),
            token,
            data,
        };
        Ok((envelope, timestamp, odd))
    }
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

    fn read(value: Value) -> Result<(WebhookEnvelope, Option<i64>, Vec<&'static str>), EnvelopeError> {
        WebhookEnvelope::read(value.to_string().as_bytes())
    }

    #[test]
    fn a_delivery_is_read_leniently_where_aircall_may_vary_and_says_what_was_odd() {
        let (plain, at, odd) = read(json!({"resource": "call", "event": "call.ringing_on_agent",
            "timestamp": 1_700_000_000, "token": "t", "data": {"id": 1}}))
        .unwrap();
        assert_eq!(
            (plain.event.as_str(), at, odd.len()),
            ("call.ringing_on_agent", Some(1_700_000_000), 0)
        );
        assert_eq!(plain.token, "t");
        let (_, at, odd) = read(json!({"resource": "call", "event": "call.created",
            "timestamp": 1_700_000_000.75, "data": {}}))
        .unwrap();
        assert_eq!(
            (at, odd),
            (
                Some(1_700_000_000),
                vec!["a timestamp that is not a whole number"]
            )
        );
        let (_, at, _) = read(json!({"resource": "call", "event": "call.created",
            "timestamp": " 1700000000 ", "data": {}}))
        .unwrap();
        assert_eq!(at, Some(1_700_000_000));
        let (missing, at, odd) =
            read(json!({"resource": "call", "event": "call.created", "token": "t"})).unwrap();
        assert_eq!((missing.data, at), (Value::Null, None));
        assert_eq!(odd, vec!["no readable timestamp", "no data"]);
    }

    #[test]
    fn a_name_that_is_not_plain_lowercase_is_refused() {
        for (resource, event) in [
            ("Call", "call.created"),
            ("call", "call.created\nINFO forged"),
            ("call", "call created"),
            ("call.x", "call.created"),
            ("call", ""),
            ("call", ".created"),
            ("call", "call..created"),
            ("call", "<script>"),
        ] {
            let refused = read(json!({"resource": resource, "event": event, "timestamp": 1, "data": {}}));
            assert!(
                matches!(refused, Err(EnvelopeError::BadName { .. })),
                "{resource} {event}"
            );
        }
        let long = "a".repeat(65);
        assert!(read(json!({"resource": "call", "event": long, "timestamp": 1, "data": {}})).is_err());
        assert!(read(json!({"resource": 7, "event": "call.created"})).is_err());
        assert_eq!(
            WebhookEnvelope::read(b"[1]").unwrap_err(),
            EnvelopeError::NotAnObject
        );
        assert_eq!(
            WebhookEnvelope::read(b"not json").unwrap_err(),
            EnvelopeError::NotAnObject
        );
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
