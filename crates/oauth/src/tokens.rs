//! The authorization server's side: the authorize link, and the token
//! endpoint for the code exchange and for refreshes (form bodies, RFC 6749).

use crate::Pkce;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the token endpoint gave. `api` is JobAdder's per-account API base.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix milliseconds.
    pub expires_at_ms: i64,
    pub api: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens never reach a log.
        f.debug_struct("TokenSet")
            .field("expires_at_ms", &self.expires_at_ms)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("not connected yet")]
    NotConnected,
    /// The refresh token is dead (revoked, unused for too long): the user must sign in again.
    #[error("the sign-in has expired or was revoked: {0}")]
    Revoked(String),
    #[error("the sign-in server refused the request: {0}")]
    Rejected(String),
    /// Network trouble, 5xx, 429: try again later.
    #[error("the sign-in server could not be reached: {0}")]
    Transient(String),
    #[error("cannot keep the tokens in the keychain: {0}")]
    Vault(String),
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One CRM's OAuth client registration and endpoints.
#[derive(Clone)]
pub struct OAuthClient {
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    /// JobAdder's partner apps are confidential clients; Sellsy's public ones use PKCE instead.
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
    api: Option<String>,
}

#[derive(Deserialize, Default)]
struct ErrorAnswer {
    error: Option<String>,
    error_description: Option<String>,
}

impl OAuthClient {
    pub fn new(
        authorize_url: impl Into<String>,
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<String>,
        scopes: &[&str],
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            authorize_url: authorize_url.into(),
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            http,
        }
    }

    /// The page the browser opens.
    pub fn authorize_link(
        &self,
        redirect_uri: &str,
        state: &str,
        pkce: Option<&Pkce>,
    ) -> Result<String, OAuthError> {
        let mut url = url::Url::parse(&self.authorize_url)
            .map_err(|e| OAuthError::Rejected(format!("bad authorize URL {:?}: {e}", self.authorize_url)))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", state);
            if !self.scopes.is_empty() {
                query.append_pair("scope", &self.scopes.join(" "));
            }
            if let Some(pkce) = pkce {
                query
                    .append_pair("code_challenge", &pkce.challenge)
                    .append_pair("code_challenge_method", "S256");
            }
        }
        Ok(url.into())
    }

    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        pkce: Option<&Pkce>,
    ) -> Result<TokenSet, OAuthError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(pkce) = pkce {
            form.push(("code_verifier", &pkce.verifier));
        }
        self.token_request(form, None).await
    }

    /// Trades a refresh token for new tokens. A server that does not rotate
    /// keeps the old refresh token valid, so it is carried over.
    pub async fn refresh(&self, refresh_token: &str, api: Option<&str>) -> Result<TokenSet, OAuthError> {
        let form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        let mut tokens = self.token_request(form, api).await?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.to_owned());
        }
        Ok(tokens)
    }

    async fn token_request(
        &self,
        mut form: Vec<(&str, &str)>,
        api: Option<&str>,
    ) -> Result<TokenSet, OAuthError> {
        form.push(("client_id", &self.client_id));
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret));
        }
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .http
            .post(&self.token_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| OAuthError::Transient(e.without_url().to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| OAuthError::Transient(e.without_url().to_string()))?;
        if status.is_success() {
            let answer: TokenAnswer = serde_json::from_slice(&bytes)
                .map_err(|e| OAuthError::Transient(format!("unreadable token answer: {e}")))?;
            let lifetime = answer.expires_in.unwrap_or(3600).max(0);
            return Ok(TokenSet {
                access_token: answer.access_token,
                refresh_token: answer.refresh_token,
                expires_at_ms: now_ms() + lifetime * 1000,
                api: answer.api.or_else(|| api.map(str::to_owned)),
            });
        }
        let error: ErrorAnswer = serde_json::from_slice(&bytes).unwrap_or_default();
        let detail = error
            .error_description
            .or(error.error.clone())
            .unwrap_or_else(|| format!("HTTP {status}"));
        Err(match (status.as_u16(), error.error.as_deref()) {
            (_, Some("invalid_grant")) => OAuthError::Revoked(detail),
            (429, _) | (500..=599, _) => OAuthError::Transient(detail),
            _ => OAuthError::Rejected(detail),
        })
    }
}
