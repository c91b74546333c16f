//! The HTTP client. Every base URL is configurable (a proxy, the sandbox);
//! the API key is handed in by the caller, who keeps it in the keychain.

use crate::model::{Call, CallsPage, Contact, Insights, Number, User};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Duration;

/// The answer's rate-limit headers. Aircall may send them only near the
/// limit; `reset` comes in seconds or milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    /// Unix milliseconds.
    pub reset_ms: Option<i64>,
}

/// Seconds or milliseconds since the epoch, as milliseconds: anything past
/// the year 5138 in seconds is taken as milliseconds.
pub fn reset_to_ms(value: i64) -> i64 {
    if value > 100_000_000_000 {
        value
    } else {
        // Saturating: a hostile or broken header must not overflow (a panic
        // in a debug build would stop call watching).
        value.saturating_mul(1000)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AircallError {
    #[error("Aircall wants an API key (401): connect Aircall in the settings")]
    Unauthorized,
    #[error("Aircall refused the API key (403): check the API id and token")]
    Forbidden,
    #[error("Aircall's rate limit is reached")]
    RateLimited { reset_ms: Option<i64> },
    #[error("Aircall says the user is not available: {0}")]
    NotAvailable(String),
    #[error("not found in Aircall")]
    NotFound,
    #[error("Aircall refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("Aircall is unavailable ({status})")]
    Unavailable { status: u16 },
    #[error("cannot reach Aircall: {0}")]
    Transport(String),
    #[error("Aircall's answer cannot be read: {0}")]
    Decode(String),
}

pub struct Aircall {
    base: String,
    api_id: String,
    api_token: String,
    http: reqwest::Client,
    last_rate: Mutex<Option<RateInfo>>,
}

impl std::fmt::Debug for Aircall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Aircall")
            .field("base", &self.base)
            .field("api_id", &self.api_id)
            .finish()
    }
}

fn header_number(headers: &reqwest::header::HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn clamp_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// The largest answer read: Aircall's pages are tens of KiB; anything far
/// bigger is a broken or hostile server, refused before it fills memory.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<bytes::Bytes, AircallError> {
    if response.content_length().is_some_and(|len| len > max as u64) {
        return Err(AircallError::Decode(format!(
            "the answer is larger than {max} bytes"
        )));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| AircallError::Transport(e.to_string()))?
    {
        if body.len() + chunk.len() > max {
            return Err(AircallError::Decode(format!(
                "the answer is larger than {max} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

impl Aircall {
    pub fn new(base: &str, api_id: &str, api_token: &str) -> Result<Self, AircallError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("Callcard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AircallError::Transport(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            api_id: api_id.to_owned(),
            api_token: api_token.to_owned(),
            http,
            last_rate: Mutex::new(None),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The rate-limit headers of the last answer that had them.
    pub fn last_rate(&self) -> Option<RateInfo> {
        *self.last_rate.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, bytes::Bytes), AircallError> {
        let mut request = self
            .http
            .request(method, url)
            .basic_auth(&self.api_id, Some(&self.api_token));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| AircallError::Transport(e.to_string()))?;
        let headers = response.headers();
        let rate = RateInfo {
            limit: header_number(headers, "x-aircallapi-limit").map(clamp_u32),
            remaining: header_number(headers, "x-aircallapi-remaining").map(clamp_u32),
            reset_ms: header_number(headers, "x-aircallapi-reset").map(reset_to_ms),
        };
        if rate.limit.is_some() || rate.remaining.is_some() {
            *self.last_rate.lock().unwrap_or_else(|p| p.into_inner()) = Some(rate);
        }
        let status = response.status();
        let bytes = read_capped(response, MAX_ANSWER_BYTES).await?;
        match status.as_u16() {
            200..=299 => Ok((status, bytes)),
            401 => Err(AircallError::Unauthorized),
            403 => Err(AircallError::Forbidden),
            404 => Err(AircallError::NotFound),
            405 => Err(AircallError::NotAvailable(error_message(&bytes))),
            429 => Err(AircallError::RateLimited {
                reset_ms: rate.reset_ms,
            }),
            code @ 500..=599 => Err(AircallError::Unavailable { status: code }),
            code => Err(AircallError::Refused {
                status: code,
                message: error_message(&bytes),
            }),
        }
    }

    /// `path` on the configured host only: no link from an answer is ever
    /// followed, so the credentials cannot be sent anywhere else.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, AircallError> {
        let url = format!("{}{path}", self.base);
        let (_, bytes) = self.send(Method::GET, &url, None).await?;
        serde_json::from_slice(&bytes).map_err(|e| AircallError::Decode(e.to_string()))
    }

    pub async fn ping(&self) -> Result<(), AircallError> {
        self.send(Method::GET, &format!("{}/v1/ping", self.base), None)
            .await
            .map(|_| ())
    }

    /// One page of company calls started at or after `from` (Unix seconds),
    /// oldest first.
    /// The newest `per_page` calls started in `from..=to` (Unix s; no `to`:
    /// up to now), newest first. Only the first page is ever read: a caller
    /// that wants older calls moves `to` down instead of paging, which
    /// Aircall refuses past 10,000 results.
    pub async fn newest_calls(
        &self,
        from: i64,
        to: Option<i64>,
        per_page: u32,
    ) -> Result<CallsPage, AircallError> {
        self.newest_calls_page(from, to, per_page, 1).await
    }

    /// Page `page` of [`Self::newest_calls`]: only for a window too narrow to
    /// move `to` in (a single second holding more calls than a page).
    pub async fn newest_calls_page(
        &self,
        from: i64,
        to: Option<i64>,
        per_page: u32,
        page: u32,
    ) -> Result<CallsPage, AircallError> {
        let to = to.map(|to| format!("&to={to}")).unwrap_or_default();
        let page = if page > 1 {
            format!("&page={page}")
        } else {
            String::new()
        };
        self.get(&format!(
            "/v1/calls?from={from}{to}&order=desc&per_page={}{page}",
            per_page.clamp(1, 50)
        ))
        .await
    }

    pub async fn call(&self, id: i64) -> Result<Call, AircallError> {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            call: Call,
        }
        Ok(self.get::<Wrapper>(&format!("/v1/calls/{id}")).await?.call)
    }

    /// Whether the call's AI data is there, with one request (the summary):
    /// what the poller asks, within its budget.
    pub async fn ai_ready(&self, id: i64) -> Result<bool, AircallError> {
        match self
            .send(Method::GET, &format!("{}/v1/calls/{id}/summary", self.base), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(AircallError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The AI summary, topics and sentiment; `None` until Aircall has them
    /// (404), or always without the AI add-on. Shapes are read leniently.
    pub async fn insights(&self, id: i64) -> Result<Option<Insights>, AircallError> {
        let summary: Value = match self.get(&format!("/v1/calls/{id}/summary")).await {
            Ok(v) => v,
            Err(AircallError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let topics: Value = self
            .get(&format!("/v1/calls/{id}/topics"))
            .await
            .or_else(not_found_as_null)?;
        let sentiments: Value = self
            .get(&format!("/v1/calls/{id}/sentiments"))
            .await
            .or_else(not_found_as_null)?;
        Ok(Some(Insights {
            summary: summary["summary"]["content"].as_str().map(str::to_owned),
            topics: topics["topic"]["content"]
                .as_array()
                .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            sentiment: sentiments["sentiment"]["participants"]
                .as_array()
                .and_then(|p| p.iter().find(|x| x["type"] == "external").or(p.first()))
                .and_then(|x| x["value"].as_str())
                .map(str::to_owned),
        }))
    }

    /// The v2 users endpoint takes the e-mail in the path.
    pub async fn user_by_email(&self, email: &str) -> Result<User, AircallError> {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            user: User,
        }
        let encoded: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
        Ok(self.get::<Wrapper>(&format!("/v2/users/{encoded}")).await?.user)
    }

    pub async fn user_numbers(&self, user_id: i64) -> Result<Vec<Number>, AircallError> {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            numbers: Vec<Number>,
        }
        Ok(self
            .get::<Wrapper>(&format!("/v2/users/{user_id}/numbers"))
            .await?
            .numbers)
    }

    /// The company's numbers, a page of 50 at a time up to `max_pages`.
    pub async fn company_numbers(&self, max_pages: u32) -> Result<Vec<Number>, AircallError> {
        #[derive(serde::Deserialize)]
        struct Page {
            numbers: Vec<Number>,
            #[serde(default)]
            meta: Option<serde_json::Value>,
        }
        let mut numbers = Vec::new();
        for page in 1..=max_pages.max(1) {
            let answer = self
                .get::<Page>(&format!("/v1/numbers?per_page=50&page={page}"))
                .await?;
            let last = answer.numbers.len() < 50
                || answer
                    .meta
                    .as_ref()
                    .is_none_or(|meta| meta["next_page_link"].is_null());
            numbers.extend(answer.numbers);
            if last {
                break;
            }
        }
        Ok(numbers)
    }

    /// Shown to the agent during the live call.
    pub async fn post_insight_card(&self, call_id: i64, contents: &Value) -> Result<(), AircallError> {
        let body = json!({ "contents": contents });
        self.send(
            Method::POST,
            &format!("{}/v1/calls/{call_id}/insight_cards", self.base),
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// Creates a webhook (`POST /v1/webhooks`): Aircall answers with its id
    /// and the token it will send in every event.
    pub async fn create_webhook(
        &self,
        url: &str,
        events: &[&str],
        custom_name: &str,
    ) -> Result<crate::model::Webhook, AircallError> {
        let body = json!({ "url": url, "events": events, "custom_name": custom_name });
        let (_, bytes) = self
            .send(Method::POST, &format!("{}/v1/webhooks", self.base), Some(&body))
            .await?;
        webhook_of(&bytes)
    }

    pub async fn webhook(&self, id: &str) -> Result<crate::model::Webhook, AircallError> {
        let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let (_, bytes) = self
            .send(Method::GET, &format!("{}/v1/webhooks/{encoded}", self.base), None)
            .await?;
        webhook_of(&bytes)
    }

    pub async fn delete_webhook(&self, id: &str) -> Result<(), AircallError> {
        let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        self.send(
            Method::DELETE,
            &format!("{}/v1/webhooks/{encoded}", self.base),
            None,
        )
        .await
        .map(|_| ())
    }

    /// Fills the number in Aircall Workspace; 405 when Workspace is closed or the user busy.
    pub async fn dial(&self, user_id: i64, to: &str) -> Result<(), AircallError> {
        let body = json!({ "to": to });
        self.send(
            Method::POST,
            &format!("{}/v1/users/{user_id}/dial", self.base),
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// Starts the call at once from `number_id`.
    pub async fn start_call(&self, user_id: i64, number_id: i64, to: &str) -> Result<(), AircallError> {
        let body = json!({ "number_id": number_id, "to": to });
        self.send(
            Method::POST,
            &format!("{}/v1/users/{user_id}/calls", self.base),
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    pub async fn create_contact(&self, body: &Value) -> Result<Contact, AircallError> {
        let (_, bytes) = self
            .send(Method::POST, &format!("{}/v1/contacts", self.base), Some(body))
            .await?;
        contact_of(&bytes)
    }

    /// Names, company and information; Aircall updates a contact with POST.
    pub async fn update_contact(&self, id: i64, body: &Value) -> Result<Contact, AircallError> {
        let (_, bytes) = self
            .send(
                Method::POST,
                &format!("{}/v1/contacts/{id}", self.base),
                Some(body),
            )
            .await?;
        contact_of(&bytes)
    }

    pub async fn contacts_with_number(&self, e164: &str) -> Result<Vec<Contact>, AircallError> {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            #[serde(default)]
            contacts: Vec<Contact>,
        }
        let encoded: String = url::form_urlencoded::byte_serialize(e164.as_bytes()).collect();
        Ok(self
            .get::<Wrapper>(&format!("/v1/contacts/search?phone_number={encoded}"))
            .await?
            .contacts)
    }
}

fn contact_of(bytes: &[u8]) -> Result<Contact, AircallError> {
    #[derive(serde::Deserialize)]
    struct Wrapper {
        contact: Contact,
    }
    serde_json::from_slice::<Wrapper>(bytes)
        .map(|w| w.contact)
        .map_err(|e| AircallError::Decode(e.to_string()))
}

fn not_found_as_null(error: AircallError) -> Result<Value, AircallError> {
    match error {
        AircallError::NotFound => Ok(Value::Null),
        other => Err(other),
    }
}

/// Aircall errors are `{"error","troubleshoot"}` or `{"message"}`.
fn error_message(body: &[u8]) -> String {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    value["troubleshoot"]
        .as_str()
        .or(value["message"].as_str())
        .or(value["error"].as_str())
        .unwrap_or("no details")
        .to_owned()
}

fn webhook_of(bytes: &[u8]) -> Result<crate::model::Webhook, AircallError> {
    #[derive(serde::Deserialize)]
    struct Wrapper {
        webhook: crate::model::Webhook,
    }
    serde_json::from_slice::<Wrapper>(bytes)
        .map(|w| w.webhook)
        .map_err(|e| AircallError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_headers_in_seconds_or_milliseconds_become_milliseconds() {
        assert_eq!(reset_to_ms(1_700_000_060), 1_700_000_060_000);
        assert_eq!(reset_to_ms(1_700_000_060_000), 1_700_000_060_000);
    }

    #[test]
    fn error_bodies_of_both_shapes_are_read() {
        assert_eq!(
            error_message(br#"{"error":"Not Allowed","troubleshoot":"Open Aircall Workspace"}"#),
            "Open Aircall Workspace"
        );
        assert_eq!(error_message(br#"{"message":"busy"}"#), "busy");
        assert_eq!(error_message(b"<html>"), "no details");
    }
}
