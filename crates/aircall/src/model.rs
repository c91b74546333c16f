//! Aircall's JSON, read leniently: ids are 64-bit, timestamps are Unix
//! seconds, most fields may be null or missing, and unknown fields are
//! ignored — Aircall adds fields without notice.

use serde::{Deserialize, Deserializer, Serialize};

/// Null or missing → the default, instead of a decoding error.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct User {
    pub id: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub available: Option<bool>,
    #[serde(default)]
    pub availability_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Number {
    pub id: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub digits: String,
    #[serde(default)]
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Tag {
    pub id: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Team {
    pub id: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Comment {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub content: String,
    #[serde(default)]
    pub posted_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Initial,
    Answered,
    Done,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Call {
    pub id: i64,
    pub direction: Direction,
    pub status: Status,
    #[serde(default)]
    pub started_at: Option<i64>,
    #[serde(default)]
    pub answered_at: Option<i64>,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub duration: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub raw_digits: String,
    #[serde(default)]
    pub missed_call_reason: Option<String>,
    #[serde(default)]
    pub voicemail: Option<String>,
    #[serde(default)]
    pub recording: Option<String>,
    #[serde(default)]
    pub asset: Option<String>,
    #[serde(default)]
    pub direct_link: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub number: Option<Number>,
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Vec<Tag>,
    #[serde(default, deserialize_with = "nullable")]
    pub comments: Vec<Comment>,
    #[serde(default, deserialize_with = "nullable")]
    pub teams: Vec<Team>,
    #[serde(default)]
    pub transferred_to: Option<User>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Meta {
    #[serde(default, deserialize_with = "nullable")]
    pub count: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub total: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub current_page: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub per_page: u64,
    #[serde(default)]
    pub next_page_link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CallsPage {
    pub meta: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub calls: Vec<Call>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PhoneDetail {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub label: String,
    #[serde(default, deserialize_with = "nullable")]
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Contact {
    pub id: i64,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub information: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub phone_numbers: Vec<PhoneDetail>,
    #[serde(default, deserialize_with = "nullable")]
    pub emails: Vec<PhoneDetail>,
}

/// A message from the `message.*` webhooks.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Message {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub direction: String,
    #[serde(default, deserialize_with = "nullable")]
    pub body: String,
    #[serde(default)]
    pub raw_digits: Option<String>,
    #[serde(default)]
    pub external_number: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// AI data, when ready.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Insights {
    pub summary: Option<String>,
    pub topics: Vec<String>,
    pub sentiment: Option<String>,
}

/// A webhook as Aircall describes it (`/v1/webhooks`). The token is what
/// every event carries; it is a secret, so Debug leaves it out.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
pub struct Webhook {
    pub webhook_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub url: String,
    #[serde(default)]
    pub active: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub token: String,
    #[serde(default)]
    pub events: Vec<String>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("webhook_id", &self.webhook_id)
            .field("url", &self.url)
            .field("active", &self.active)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}
