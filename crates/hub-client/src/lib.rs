//! The desktop's client of the team hub (`callcard-hub-client`), for one
//! desktop token: the stream of the Aircall webhook events that concern
//! this computer's user (Server-Sent Events, resumed after the last event
//! seen), the pages of what it missed, the write claims, and the JobAdder
//! token broker's address.
//!
//! It speaks the wire contract (`callcard-hub-contract`) and hands out
//! [`HubEvent`]s as they came: what an event says about a call is the
//! Aircall crate's reading (`callcard_aircall::hub::Pushed`).

use callcard_hub_contract::{paths, ClaimAnswer, ClaimRequest, EventPage, FrameError, FrameReader};
use std::time::Duration;

pub use callcard_hub_contract::HubEvent;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("the team hub's address is not a web address: {0}")]
    Url(String),
    #[error("the team hub cannot be reached: {0}")]
    Transport(String),
    #[error("the team hub refused this computer's token (ask the hub's admin for a new one)")]
    Refused,
    /// The token is followed from another computer now (the hub's words).
    #[error("the team hub refused this computer's stream: {0}")]
    InUseElsewhere(String),
    #[error("the team hub answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the team hub said nothing for {0:?}")]
    Silent(Duration),
    #[error("the team hub sent an event over {0} bytes")]
    TooLarge(usize),
}

/// The hub, for one desktop token.
#[derive(Clone)]
pub struct HubClient {
    base: String,
    token: String,
    /// This computer's id, sent with claims (see [`HubClient::on_computer`]).
    computer: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Whether `url` points at this computer (`localhost`, 127.0.0.0/8, ::1).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The biggest event the desktop reads (the hub takes webhooks up to 256 KiB).
const MAX_EVENT_BYTES: usize = 1024 * 1024;

impl HubClient {
    pub fn new(base: &str, token: &str) -> Result<Self, HubError> {
        let parsed = url::Url::parse(base.trim()).map_err(|e| HubError::Url(e.to_string()))?;
        match parsed.scheme() {
            "https" => {}
            // Plain http carries the token in the clear: only to this
            // computer itself (a hub on the same machine, the tests).
            "http" if is_loopback(&parsed) => {}
            "http" => {
                return Err(HubError::Url(
                    "a team hub's address must start with https:// (http:// only for this computer itself)"
                        .into(),
                ))
            }
            other => return Err(HubError::Url(format!("{other} is not https"))),
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| HubError::Transport(e.to_string()))?;
        Ok(Self {
            base: base.trim().trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            computer: None,
            http,
        })
    }

    /// Claims made through this client are this computer's: the hub makes
    /// the desktop *on this computer* the holder, so one token on two
    /// computers never makes both write (`callcard_core::claims::computer_id`).
    pub fn on_computer(mut self, computer: i64) -> Self {
        self.computer = Some(format!("{:x}", computer as u64));
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn checked(response: reqwest::Response) -> Result<reqwest::Response, HubError> {
        match response.status().as_u16() {
            200..=299 => Ok(response),
            401 | 403 => Err(HubError::Refused),
            409 => {
                let answer: Option<callcard_hub_contract::ErrorAnswer> = response.json().await.ok();
                Err(HubError::InUseElsewhere(
                    answer
                        .map(|a| a.error.chars().take(200).collect())
                        .unwrap_or_else(|| "this token is in use on another computer".into()),
                ))
            }
            status => {
                let message = response.text().await.unwrap_or_default();
                Err(HubError::Status {
                    status,
                    message: message.chars().take(200).collect(),
                })
            }
        }
    }

    /// Opens the stream of this user's events after `after` (what the hub
    /// logged since is sent first).
    pub async fn stream(&self, after: i64) -> Result<HubStream, HubError> {
        let mut request = self
            .http
            .get(format!("{}{}", self.base, paths::STREAM))
            .bearer_auth(&self.token)
            .header("Last-Event-ID", after.to_string())
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(computer) = &self.computer {
            request = request.header(paths::COMPUTER, computer);
        }
        let response = request
            .send()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        let response = Self::checked(response).await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
        };
        let log = match (header(paths::LOG_ID), header(paths::LOG_END)) {
            (Some(id), Some(end)) if !id.is_empty() => Some(LogMark {
                id,
                end: end.parse().unwrap_or(i64::MAX),
            }),
            // A hub from before log identities.
            _ => None,
        };
        Ok(HubStream {
            log,
            response,
            frames: FrameReader::new(MAX_EVENT_BYTES),
            pending: Vec::new(),
        })
    }

    /// One page of this user's events after `after`, and where the next
    /// page starts.
    pub async fn page(&self, after: i64, limit: usize) -> Result<(Vec<HubEvent>, i64), HubError> {
        let response = self
            .http
            .get(format!("{}{}", self.base, paths::EVENTS))
            .query(&[("after", after.to_string()), ("limit", limit.to_string())])
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        let page: EventPage = Self::checked(response)
            .await?
            .json()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        Ok((page.events, page.next_after))
    }

    /// Asks to be the desktop that makes the write `key`, for `lease`.
    pub async fn claim(&self, key: &str, lease: Duration) -> Result<callcard_core::claims::Claim, HubError> {
        use callcard_core::claims::Claim;
        let response = self
            .http
            .post(format!("{}{}", self.base, paths::CLAIMS))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(15))
            .json(&ClaimRequest {
                key: key.to_owned(),
                lease_ms: lease.as_millis() as i64,
                computer: self.computer.clone(),
                ..ClaimRequest::default()
            })
            .send()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        let answer: ClaimAnswer = Self::checked(response)
            .await?
            .json()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        Ok(match answer {
            ClaimAnswer::Granted { taken_over } => Claim::Granted { taken_over },
            ClaimAnswer::Written {
                remote_id: Some(id),
                remote_link,
            } => Claim::WrittenElsewhere(callcard_core::crm::RemoteRef {
                id,
                link: remote_link,
            }),
            // Written, but where is unknown: ask again shortly.
            ClaimAnswer::Written { remote_id: None, .. } => Claim::Held {
                retry_after: Duration::from_secs(5),
            },
            ClaimAnswer::Held { retry_after_ms } => Claim::Held {
                retry_after: Duration::from_millis(retry_after_ms.clamp(500, 600_000) as u64),
            },
        })
    }

    /// This desktop made the write `key`, there.
    pub async fn claim_written(
        &self,
        key: &str,
        remote: &callcard_core::crm::RemoteRef,
    ) -> Result<(), HubError> {
        let response = self
            .http
            .post(format!("{}{}", self.base, paths::CLAIMS_WRITTEN))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(15))
            .json(&ClaimRequest {
                key: key.to_owned(),
                remote_id: Some(remote.id.clone()),
                remote_link: remote.link.clone(),
                computer: self.computer.clone(),
                ..ClaimRequest::default()
            })
            .send()
            .await
            .map_err(|e| HubError::Transport(e.to_string()))?;
        Self::checked(response).await.map(|_| ())
    }

    /// The JobAdder token broker's address on this hub.
    pub fn jobadder_token_url(&self) -> String {
        format!("{}{}", self.base, paths::JOBADDER_TOKEN)
    }

    /// The desktop token, for the broker's requests.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// Which log a stream follows, as the hub said when it opened: its
/// identity and the last number it had handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMark {
    pub id: String,
    pub end: i64,
}

/// An open stream; [`HubStream::next`] gives its events one by one.
pub struct HubStream {
    log: Option<LogMark>,
    response: reqwest::Response,
    frames: FrameReader,
    pending: Vec<HubEvent>,
}

impl HubStream {
    /// The log this stream follows (`None` from a hub before log identities).
    pub fn log(&self) -> Option<&LogMark> {
        self.log.as_ref()
    }

    /// The next event; `Ok(None)` when the hub closed the stream. The hub
    /// sends a keep-alive every 15 s: `idle` without a byte (a laptop that
    /// slept, a network that changed under the connection) is an error, so
    /// that the caller reconnects.
    pub async fn next(&mut self, idle: Duration) -> Result<Option<HubEvent>, HubError> {
        loop {
            if !self.pending.is_empty() {
                return Ok(Some(self.pending.remove(0)));
            }
            let chunk = tokio::time::timeout(idle, self.response.chunk())
                .await
                .map_err(|_| HubError::Silent(idle))?
                .map_err(|e| HubError::Transport(e.to_string()))?;
            let Some(chunk) = chunk else {
                return Ok(None);
            };
            self.frames.push(&chunk);
            loop {
                match self.frames.next_event() {
                    Ok(Some(event)) => self.pending.push(event),
                    Ok(None) => break,
                    Err(FrameError::TooLarge(max)) => return Err(HubError::TooLarge(max)),
                    Err(FrameError::Unreadable(error)) => {
                        tracing::warn!(%error, "an event from the team hub could not be read; skipped")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_addresses_are_hubs() {
        assert!(HubClient::new("ftp://hub.example.com", "t").is_err());
        assert!(HubClient::new("hub.example.com", "t").is_err());
        assert!(
            HubClient::new("http://hub.example.com", "t").is_err(),
            "a token in the clear over the network"
        );
        assert!(HubClient::new("https://hub.example.com", "t").is_ok());
        assert!(HubClient::new("http://127.0.0.1:8080", "t").is_ok());
        assert!(HubClient::new("http://localhost:8080", "t").is_ok());
        assert!(HubClient::new("http://[::1]:8080", "t").is_ok());
        let hub = HubClient::new(" https://hub.example.com/ ", "cch_secret").unwrap();
        assert_eq!(hub.base(), "https://hub.example.com");
        assert!(!format!("{hub:?}").contains("cch_secret"));
    }
}
