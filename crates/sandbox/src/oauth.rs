//! OAuth2 authorization-code servers for JobAdder (confidential client: the
//! secret is required, also on refresh) and Sellsy (public client: PKCE S256
//! required). Refresh tokens rotate: each refresh returns a new one and the
//! old one stops working. Access tokens expire; the control API can expire
//! them at once or revoke every refresh token, to test recovery.

use crate::http::{json_status, AppState};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    JobAdder,
    Sellsy,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Self::JobAdder => "jobadder",
            Self::Sellsy => "sellsy",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "jobadder" => Some(Self::JobAdder),
            "sellsy" => Some(Self::Sellsy),
            _ => None,
        }
    }
}

struct Code {
    provider: Provider,
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    expires_ms: i64,
}

struct Access {
    provider: Provider,
    expires_ms: i64,
}

#[derive(Default)]
pub struct OAuthWorld {
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Provider>,
    /// How many refresh grants succeeded, per provider: tests check rotation.
    pub refreshes: HashMap<&'static str, u64>,
}

impl OAuthWorld {
    pub fn revoke_refresh_tokens(&mut self, provider: Provider) -> usize {
        let before = self.refresh.len();
        self.refresh.retain(|_, p| *p != provider);
        before - self.refresh.len()
    }

    pub fn expire_access_tokens(&mut self, provider: Provider) -> usize {
        let mut n = 0;
        for access in self.access.values_mut().filter(|a| a.provider == provider) {
            access.expires_ms = i64::MIN;
            n += 1;
        }
        n
    }

    /// Whether `token` is a live access token of `provider`.
    pub fn valid_access(&self, provider: Provider, token: &str, now_ms: i64) -> bool {
        self.access
            .get(token)
            .is_some_and(|a| a.provider == provider && a.expires_ms > now_ms)
    }
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::thread_rng().gen();
    format!(
        "{prefix}-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

#[derive(Debug, Deserialize)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    /// Set by the manual approval page's button.
    approve: Option<String>,
}

pub async fn jobadder_authorize(State(s): State<AppState>, Query(p): Query<AuthorizeParams>) -> Response {
    authorize(&s, Provider::JobAdder, p)
}

pub async fn sellsy_authorize(State(s): State<AppState>, Query(p): Query<AuthorizeParams>) -> Response {
    authorize(&s, Provider::Sellsy, p)
}

fn authorize(s: &AppState, provider: Provider, p: AuthorizeParams) -> Response {
    let expected_client = match provider {
        Provider::JobAdder => &s.credentials.jobadder_client_id,
        Provider::Sellsy => &s.credentials.sellsy_client_id,
    };
    let client_id = p.client_id.clone().unwrap_or_default();
    if p.response_type.as_deref() != Some("code") || &client_id != expected_client {
        return (
            StatusCode::BAD_REQUEST,
            Html("<h1>Unknown client or response type</h1>"),
        )
            .into_response();
    }
    let Some(redirect_uri) = p.redirect_uri.clone().filter(|r| url::Url::parse(r).is_ok()) else {
        return (
            StatusCode::BAD_REQUEST,
            Html("<h1>Missing or invalid redirect_uri</h1>"),
        )
            .into_response();
    };
    if provider == Provider::Sellsy
        && (p.code_challenge.is_none() || p.code_challenge_method.as_deref() != Some("S256"))
    {
        return (StatusCode::BAD_REQUEST, Html("<h1>PKCE (S256) is required</h1>")).into_response();
    }
    if !s.config.auto_approve && p.approve.is_none() {
        return Html(approval_page(provider, &p)).into_response();
    }
    let code = random_token("code");
    s.world().oauth.codes.insert(
        code.clone(),
        Code {
            provider,
            client_id,
            redirect_uri: redirect_uri.clone(),
            challenge: p.code_challenge,
            expires_ms: s.clock.now_ms() + 10 * 60 * 1000,
        },
    );
    let mut target = url::Url::parse(&redirect_uri).expect("checked above");
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = p.state {
        target.query_pairs_mut().append_pair("state", &state);
    }
    Redirect::to(target.as_str()).into_response()
}

fn approval_page(provider: Provider, p: &AuthorizeParams) -> String {
    let escape = |v: &Option<String>| {
        v.as_deref()
            .unwrap_or("")
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
    };
    format!(
        "<!doctype html><title>Sandbox {name}</title><h1>Allow Callcard to use your sandbox {name} account?</h1>\
         <form method=get><input type=hidden name=response_type value=code>\
         <input type=hidden name=client_id value=\"{}\"><input type=hidden name=redirect_uri value=\"{}\">\
         <input type=hidden name=state value=\"{}\"><input type=hidden name=code_challenge value=\"{}\">\
         <input type=hidden name=code_challenge_method value=\"{}\">\
         <button name=approve value=1>Approve</button></form>",
        escape(&p.client_id),
        escape(&p.redirect_uri),
        escape(&p.state),
        escape(&p.code_challenge),
        escape(&p.code_challenge_method),
        name = provider.name(),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    refresh_token: Option<String>,
    code_verifier: Option<String>,
}

/// Token endpoints take a form body (the standard); Sellsy also takes JSON.
fn parse_token_request(headers: &HeaderMap, body: &[u8]) -> Option<TokenRequest> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        serde_json::from_slice(body).ok()
    } else {
        serde_urlencoded_like(body)
    }
}

fn serde_urlencoded_like(body: &[u8]) -> Option<TokenRequest> {
    let mut request = TokenRequest::default();
    for (key, value) in url::form_urlencoded::parse(body) {
        let value = Some(value.into_owned());
        match key.as_ref() {
            "grant_type" => request.grant_type = value,
            "client_id" => request.client_id = value,
            "client_secret" => request.client_secret = value,
            "code" => request.code = value,
            "redirect_uri" => request.redirect_uri = value,
            "refresh_token" => request.refresh_token = value,
            "code_verifier" => request.code_verifier = value,
            _ => {}
        }
    }
    Some(request)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_status(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

pub async fn jobadder_token(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    token(&s, Provider::JobAdder, &headers, &body)
}

pub async fn sellsy_token(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    token(&s, Provider::Sellsy, &headers, &body)
}

fn token(s: &AppState, provider: Provider, headers: &HeaderMap, body: &[u8]) -> Response {
    let Some(request) = parse_token_request(headers, body) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "unreadable body");
    };
    let creds = &s.credentials;
    let client_ok = match provider {
        Provider::JobAdder => {
            request.client_id.as_deref() == Some(&creds.jobadder_client_id)
                && request.client_secret.as_deref() == Some(&creds.jobadder_client_secret)
        }
        Provider::Sellsy => request.client_id.as_deref() == Some(&creds.sellsy_client_id),
    };
    if !client_ok {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let now = s.clock.now_ms();
    let mut world = s.world();
    let oauth = &mut world.oauth;
    match request.grant_type.as_deref() {
        Some("authorization_code") => {
            let Some(code) = request.code.as_deref().and_then(|c| oauth.codes.remove(c)) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown or used code");
            };
            if code.provider != provider
                || code.expires_ms < now
                || Some(&code.redirect_uri) != request.redirect_uri.as_ref()
                || Some(&code.client_id) != request.client_id.as_ref()
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code does not match this request",
                );
            }
            if let Some(challenge) = code.challenge {
                let verifier = request.code_verifier.unwrap_or_default();
                let digest = Sha256::digest(verifier.as_bytes());
                if base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) != challenge {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "code_verifier does not match",
                    );
                }
            }
        }
        Some("refresh_token") => {
            let presented = request.refresh_token.unwrap_or_default();
            if oauth.refresh.get(&presented) != Some(&provider) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "refresh token revoked or unknown",
                );
            }
            // Rotation: the old refresh token dies now.
            oauth.refresh.remove(&presented);
            *oauth.refreshes.entry(provider.name()).or_default() += 1;
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "use authorization_code or refresh_token",
            )
        }
    }
    let access = random_token("at");
    let refresh = random_token("rt");
    let lifetime = s.config.access_token_secs;
    oauth.access.insert(
        access.clone(),
        Access {
            provider,
            expires_ms: now + lifetime * 1000,
        },
    );
    oauth.refresh.insert(refresh.clone(), provider);
    let mut answer = json!({
        "access_token": access,
        "expires_in": lifetime,
        "token_type": "Bearer",
        "refresh_token": refresh,
    });
    if provider == Provider::JobAdder {
        // JobAdder tells each account which regional API host to use.
        answer["api"] = json!(format!("{}/jobadder/v2", s.base_url));
    }
    json_status(StatusCode::OK, answer)
}

/// Checks `Authorization: Bearer …`; a 401 in the vendor's shape otherwise.
pub fn require_bearer(s: &AppState, provider: Provider, headers: &HeaderMap) -> Result<(), Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = token.is_some_and(|t| s.world().oauth.valid_access(provider, t, s.clock.now_ms()));
    if ok {
        Ok(())
    } else {
        Err(crate::http::vendor_error(provider.name(), 401, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_are_read_field_by_field() {
        let request =
            serde_urlencoded_like(b"grant_type=refresh_token&refresh_token=rt-a%2Bb&client_id=x").unwrap();
        assert_eq!(request.grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(request.refresh_token.as_deref(), Some("rt-a+b"));
    }

    #[test]
    fn revoking_removes_only_that_providers_refresh_tokens() {
        let mut world = OAuthWorld::default();
        world.refresh.insert("a".into(), Provider::JobAdder);
        world.refresh.insert("b".into(), Provider::Sellsy);
        assert_eq!(world.revoke_refresh_tokens(Provider::JobAdder), 1);
        assert!(world.refresh.contains_key("b"));
    }
}
