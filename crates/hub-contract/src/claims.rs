//! Who writes a call: before a first CRM write a desktop claims it at the
//! hub (`POST /v1/claims`), and the holder says where it wrote it
//! (`POST /v1/claims/written`). The first claim wins for a lease; a holder
//! that goes silent lets it run out and the next claimant takes over.

use serde::{Deserialize, Serialize};

/// Both claim requests: a claim sends `key` and `lease_ms`, the word that
/// it is written sends `key` and where it went.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// A short text the desktops build (`crm:account:call:kind`).
    pub key: String,
    /// How long the claim holds (ms); 0 or absent: the hub's default.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lease_ms: i64,
    /// The claiming computer's id (a desktop's token may be on two): the
    /// holder is the desktop on that computer. At most [`MAX_COMPUTER`]
    /// ASCII letters, digits and dashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_link: Option<String>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The longest claim key the hub takes (bytes).
pub const MAX_CLAIM_KEY: usize = 300;

/// The longest computer id the hub takes (bytes).
pub const MAX_COMPUTER: usize = 40;

/// Whether `computer` is a computer id the hub takes.
pub fn valid_computer(computer: &str) -> bool {
    !computer.is_empty()
        && computer.len() <= MAX_COMPUTER
        && computer.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "claim", rename_all = "snake_case")]
pub enum ClaimAnswer {
    /// Write it. `taken_over`: another desktop held it and went silent, so
    /// look it up in the CRM first.
    Granted { taken_over: bool },
    /// Another desktop wrote it, there.
    Written {
        remote_id: Option<String>,
        remote_link: Option<String>,
    },
    /// Another desktop is writing it: ask again after this long.
    Held { retry_after_ms: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_claim_and_its_written_word_send_only_their_fields() {
        let claim = ClaimRequest {
            key: "jobadder:1:42:call".into(),
            lease_ms: 120_000,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&claim).unwrap(),
            json!({"key": "jobadder:1:42:call", "lease_ms": 120_000})
        );
        let written = ClaimRequest {
            key: "k".into(),
            remote_id: Some("n1".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&written).unwrap(),
            json!({"key": "k", "remote_id": "n1"})
        );
        let read: ClaimRequest =
            serde_json::from_value(json!({"key": "k", "remote_id": "n1", "remote_link": null})).unwrap();
        assert_eq!(read, written);
    }

    #[test]
    fn a_computer_id_is_short_and_plain() {
        assert!(valid_computer("3f2a-9c"));
        assert!(!valid_computer(""));
        assert!(!valid_computer("a b"));
        assert!(!valid_computer("a\nINFO forged"));
        assert!(!valid_computer(&"a".repeat(MAX_COMPUTER + 1)));
    }

    #[test]
    fn answers_are_tagged_by_claim() {
        let cases = [
            (
                ClaimAnswer::Granted { taken_over: true },
                json!({"claim": "granted", "taken_over": true}),
            ),
            (
                ClaimAnswer::Written {
                    remote_id: Some("n1".into()),
                    remote_link: None,
                },
                json!({"claim": "written", "remote_id": "n1", "remote_link": null}),
            ),
            (
                ClaimAnswer::Held {
                    retry_after_ms: 4_000,
                },
                json!({"claim": "held", "retry_after_ms": 4_000}),
            ),
        ];
        for (answer, wire) in cases {
            assert_eq!(serde_json::to_value(&answer).unwrap(), wire);
            assert_eq!(serde_json::from_value::<ClaimAnswer>(wire).unwrap(), answer);
        }
    }
}
