//! A CRM's JSON API over HTTP with the OAuth session's bearer tokens: one
//! refresh and retry after a 401, and every failure mapped to what the
//! outbox should do about it (wait, retry, look up before writing again,
//! ask the user to reconnect, give up). The connectors (JobAdder, Sellsy)
//! add only their paths, payloads and error model.

use callcard_core::crm::CrmError;
use callcard_oauth::{OAuthError, Session, TokenSet};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub mod plugin;

/// The largest CRM answer read (a page of records is well under 1 MiB).
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Most pages any listing reads in one go: a server that keeps answering
/// "there is more" cannot keep a loop going for ever.
pub const MAX_PAGES: u32 = 10_000;

/// Guards a paging loop: each next cursor must be new (a server repeating
/// one would loop for ever) and the pages are bounded by [`MAX_PAGES`].
#[derive(Debug, Default)]
pub struct PageGuard {
    seen: std::collections::HashSet<String>,
    pages: u32,
}

impl PageGuard {
    /// Accepts `next` as the cursor of the page to read next.
    pub fn advance(&mut self, crm: &str, next: &str) -> Result<(), CrmError> {
        self.pages = self.pages.saturating_add(1);
        if self.pages > MAX_PAGES {
            return Err(CrmError::Transient(format!(
                "{crm} kept answering with more pages (over {MAX_PAGES})"
            )));
        }
        if !self.seen.insert(next.to_owned()) {
            return Err(CrmError::Transient(format!(
                "{crm} sent the same page cursor twice ({next:?})"
            )));
        }
        Ok(())
    }
}

pub use plugin::{BuiltInClient, CrmConfig, CrmPlugin, DefaultUrls};
pub use reqwest;

/// A text field of a CRM's JSON record, trimmed; `None` when missing, not
/// text, or blank.
pub fn text_field(value: &Value, key: &str) -> Option<String> {
    value[key]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A request is a read or a write: a write that may have landed is ambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Read,
    Write,
}

/// One request, relative to the API base.
#[derive(Clone)]
pub struct Call<'a> {
    pub method: Method,
    pub path: &'a str,
    pub query: &'a [(&'a str, String)],
    pub body: Option<&'a Value>,
    pub effect: Effect,
}

impl<'a> Call<'a> {
    pub fn get(path: &'a str, query: &'a [(&'a str, String)]) -> Self {
        Self {
            method: Method::GET,
            path,
            query,
            body: None,
            effect: Effect::Read,
        }
    }

    /// A POST that only reads (a search).
    pub fn search(path: &'a str, query: &'a [(&'a str, String)], body: &'a Value) -> Self {
        Self {
            method: Method::POST,
            path,
            query,
            body: Some(body),
            effect: Effect::Read,
        }
    }

    pub fn write(method: Method, path: &'a str, body: &'a Value) -> Self {
        Self {
            method,
            path,
            query: &[],
            body: Some(body),
            effect: Effect::Write,
        }
    }
}

/// How a CRM describes itself and its errors.
pub struct ApiStyle {
    /// The CRM's name in messages ("JobAdder").
    pub name: &'static str,
    /// The human part of an error body, if the CRM's error model has one.
    pub error_detail: fn(&Value) -> Option<String>,
}

/// Sees the headers of every answer, refused ones too (quota headers).
pub type HeaderObserver = Arc<dyn Fn(&HeaderMap) + Send + Sync>;

pub struct BearerApi {
    session: Arc<Session>,
    http: reqwest::Client,
    style: ApiStyle,
    observer: Option<HeaderObserver>,
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl BearerApi {
    pub fn new(session: Arc<Session>, style: ApiStyle, observer: Option<HeaderObserver>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            session,
            http,
            style,
            observer,
        }
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    fn oauth_error(&self, error: OAuthError) -> CrmError {
        let name = self.style.name;
        match error {
            OAuthError::Transient(why) => CrmError::Transient(format!("{name} sign-in: {why}")),
            OAuthError::NotConnected => CrmError::NeedsReconnect(format!("{name} is not connected")),
            other => CrmError::NeedsReconnect(format!("reconnect {name}: {other}")),
        }
    }

    /// The failure of a request that got no (whole) answer.
    fn no_answer(&self, error: reqwest::Error, effect: Effect, connected: bool) -> CrmError {
        let why = format!("{}: {}", self.style.name, error.without_url());
        if !connected || effect == Effect::Read {
            CrmError::Transient(why)
        } else {
            CrmError::Ambiguous(why)
        }
    }

    fn error_message(&self, body: &[u8], status: StatusCode) -> String {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let detail: String = (self.style.error_detail)(&value)
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        if detail.is_empty() {
            format!("{} answered {status}", self.style.name)
        } else {
            format!("{} answered {status}: {detail}", self.style.name)
        }
    }

    /// The answer's body, up to [`MAX_ANSWER_BYTES`]: a larger one is a
    /// broken or hostile server, not read into memory (after a write, the
    /// write may have happened: ambiguous).
    async fn read_capped(
        &self,
        mut response: reqwest::Response,
        effect: Effect,
    ) -> Result<Vec<u8>, CrmError> {
        let too_big = || {
            let why = format!(
                "{} sent an answer larger than {MAX_ANSWER_BYTES} bytes",
                self.style.name
            );
            match effect {
                Effect::Read => CrmError::Transient(why),
                Effect::Write => CrmError::Ambiguous(why),
            }
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.no_answer(e, effect, true))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Sends `call` to `base(tokens)/path`; the answer's JSON (`Null` when empty).
    pub async fn send(
        &self,
        base: &(dyn Fn(&TokenSet) -> String + Sync),
        call: Call<'_>,
    ) -> Result<Value, CrmError> {
        let name = self.style.name;
        let mut tokens = self.session.current().await.map_err(|e| self.oauth_error(e))?;
        for attempt in 0..2 {
            let url = format!("{}/{}", base(&tokens).trim_end_matches('/'), call.path);
            let mut request = self
                .http
                .request(call.method.clone(), &url)
                .bearer_auth(&tokens.access_token)
                .header("Accept", "application/json")
                .query(call.query);
            if let Some(body) = call.body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| {
                let connected = !e.is_connect();
                self.no_answer(e, call.effect, connected)
            })?;
            let status = response.status();
            let headers = response.headers().clone();
            if let Some(observe) = &self.observer {
                observe(&headers);
            }
            let bytes = self.read_capped(response, call.effect).await?;
            match status {
                s if s.is_success() => {
                    if bytes.is_empty() {
                        return Ok(Value::Null);
                    }
                    return serde_json::from_slice(&bytes).map_err(|e| {
                        let why = format!("{name} sent an unreadable answer: {e}");
                        match call.effect {
                            Effect::Read => CrmError::Transient(why),
                            Effect::Write => CrmError::Ambiguous(why),
                        }
                    });
                }
                StatusCode::UNAUTHORIZED if attempt == 0 => {
                    tokens = self
                        .session
                        .refresh_after_rejection(&tokens)
                        .await
                        .map_err(|e| self.oauth_error(e))?;
                }
                StatusCode::UNAUTHORIZED => break,
                StatusCode::TOO_MANY_REQUESTS => {
                    return Err(CrmError::RateLimited {
                        retry_after: retry_after(&headers),
                    })
                }
                s if s.is_server_error() => {
                    let why = self.error_message(&bytes, s);
                    return Err(match call.effect {
                        Effect::Read => CrmError::Transient(why),
                        // The record may have been saved before the error.
                        Effect::Write => CrmError::Ambiguous(why),
                    });
                }
                s => {
                    let why = self.error_message(&bytes, s);
                    // A note over the CRM's size limit: the SMS log starts a new one.
                    if s == StatusCode::BAD_REQUEST && why.contains("too long") {
                        return Err(CrmError::TooLong);
                    }
                    return Err(CrmError::Rejected(why));
                }
            }
        }
        Err(CrmError::NeedsReconnect(format!("{name} refused a fresh token")))
    }
}

#[cfg(test)]
mod page_guard_tests {
    use super::*;

    #[test]
    fn a_repeated_cursor_or_endless_pages_end_the_loop_with_an_error() {
        let mut guard = PageGuard::default();
        guard.advance("Sellsy", "25").unwrap();
        guard.advance("Sellsy", "50").unwrap();
        assert!(matches!(
            guard.advance("Sellsy", "25"),
            Err(CrmError::Transient(_))
        ));
        let mut guard = PageGuard::default();
        for page in 0..MAX_PAGES {
            guard.advance("JobAdder", &page.to_string()).unwrap();
        }
        assert!(guard.advance("JobAdder", "last").is_err());
    }
}
