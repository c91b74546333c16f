//! The authorization server's side, through the `oauth2` crate: the
//! authorize link, and the token endpoint for the code exchange and for
//! refreshes (form bodies, RFC 6749; the client's credentials in the body,
//! as JobAdder and Sellsy document). Our own HTTP function carries the
//! requests so that a 429 or a 5xx is told apart from a refusal and an
//! answer's size is capped.

use crate::Pkce;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
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

/// The token answer's field beyond RFC 6749: JobAdder's account API base.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AccountApi {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api: Option<String>,
}

impl ExtraTokenFields for AccountApi {}

type TokenAnswer = StandardTokenResponse<AccountApi, BasicTokenType>;

/// An `oauth2` client with its authorize and token endpoints set.
type Endpoints = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A token answer bigger than this is not a token answer.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why a token request did not get an answer to read.
#[derive(Debug, thiserror::Error)]
enum Unanswered {
    #[error("{0}")]
    Network(String),
    /// 429 or 5xx: the server is there but cannot answer now.
    #[error("HTTP {0}")]
    Busy(u16),
    #[error("the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    /// The token broker's own refusal (HTTP status), not the CRM's answer.
    #[error("the token broker could not pass the request on (HTTP {0})")]
    Broker(u16),
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
    /// Through a token broker: the header with which it marks its own
    /// refusals (see [`OAuthClient::through_broker`]).
    broker_own_error: Option<&'static str>,
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
            // A token endpoint that redirects is not followed (RFC 6749 §3.2 wants TLS to it, not hops).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            authorize_url: authorize_url.into(),
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            http,
            broker_own_error: None,
        }
    }

    /// Token requests go to a broker instead (the team hub for JobAdder),
    /// which adds the client's secret this app does not have; `bearer`
    /// authenticates this computer there. The authorize page is the CRM's.
    ///
    /// An answer carrying the header `own_error` is the broker's own refusal
    /// (its server, its token check), never the CRM's word on the sign-in:
    /// it is transient, so the person is not asked to reconnect the CRM.
    pub fn through_broker(mut self, broker_url: &str, bearer: &str, own_error: &'static str) -> Self {
        self.broker_own_error = Some(own_error);
        let mut headers = reqwest::header::HeaderMap::new();
        if let Ok(mut value) = reqwest::header::HeaderValue::from_str(&format!("Bearer {bearer}")) {
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        self.http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap_or_default();
        self.token_url = broker_url.to_owned();
        self
    }

    fn endpoints(&self) -> Result<Endpoints, OAuthError> {
        let authorize = AuthUrl::new(self.authorize_url.clone())
            .map_err(|e| OAuthError::Rejected(format!("bad authorize URL {:?}: {e}", self.authorize_url)))?;
        let token = TokenUrl::new(self.token_url.clone())
            .map_err(|e| OAuthError::Rejected(format!("bad token URL {:?}: {e}", self.token_url)))?;
        let mut client = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(authorize)
            .set_token_uri(token)
            .set_auth_type(AuthType::RequestBody);
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        Ok(client)
    }

    /// The page the browser opens.
    pub fn authorize_link(
        &self,
        redirect_uri: &str,
        state: &str,
        pkce: Option<&Pkce>,
    ) -> Result<String, OAuthError> {
        let endpoints = self.endpoints()?;
        let state = state.to_owned();
        let mut request = endpoints
            .authorize_url(move || CsrfToken::new(state))
            .set_redirect_uri(Cow::Owned(redirect_url(redirect_uri)?))
            .add_scopes(self.scopes.iter().cloned().map(Scope::new));
        if let Some(pkce) = pkce {
            request = request.set_pkce_challenge(pkce.challenge());
        }
        let (url, _state) = request.url();
        Ok(url.into())
    }

    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        pkce: Option<&Pkce>,
    ) -> Result<TokenSet, OAuthError> {
        let endpoints = self.endpoints()?;
        let mut request = endpoints
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_redirect_uri(Cow::Owned(redirect_url(redirect_uri)?));
        if let Some(pkce) = pkce {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(pkce.verifier.clone()));
        }
        let answer = request
            .request_async(&CappedHttp(&self.http, self.broker_own_error))
            .await
            .map_err(token_error)?;
        Ok(token_set(&answer, None))
    }

    /// Trades a refresh token for new tokens. A server that does not rotate
    /// keeps the old refresh token valid, so it is carried over.
    pub async fn refresh(&self, refresh_token: &str, api: Option<&str>) -> Result<TokenSet, OAuthError> {
        let endpoints = self.endpoints()?;
        let refresh = RefreshToken::new(refresh_token.to_owned());
        let answer = endpoints
            .exchange_refresh_token(&refresh)
            .request_async(&CappedHttp(&self.http, self.broker_own_error))
            .await
            .map_err(token_error)?;
        let mut tokens = token_set(&answer, api);
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.to_owned());
        }
        Ok(tokens)
    }
}

impl Pkce {
    pub(crate) fn challenge(&self) -> PkceCodeChallenge {
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(self.verifier.clone()))
    }
}

fn redirect_url(uri: &str) -> Result<RedirectUrl, OAuthError> {
    RedirectUrl::new(uri.to_owned())
        .map_err(|e| OAuthError::Rejected(format!("bad redirect URI {uri:?}: {e}")))
}

fn token_set(answer: &TokenAnswer, api: Option<&str>) -> TokenSet {
    let lifetime = answer.expires_in().unwrap_or(Duration::from_secs(3600));
    let lifetime_ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX / 2);
    TokenSet {
        access_token: answer.access_token().secret().clone(),
        refresh_token: answer.refresh_token().map(|t| t.secret().clone()),
        expires_at_ms: now_ms().saturating_add(lifetime_ms),
        api: answer
            .extra_fields()
            .api
            .clone()
            .or_else(|| api.map(str::to_owned)),
    }
}

fn token_error(error: RequestTokenError<Unanswered, BasicErrorResponse>) -> OAuthError {
    match error {
        RequestTokenError::ServerResponse(answer) => {
            let detail = answer
                .error_description()
                .cloned()
                .unwrap_or_else(|| answer.error().to_string());
            match answer.error() {
                BasicErrorResponseType::InvalidGrant => OAuthError::Revoked(detail),
                _ => OAuthError::Rejected(detail),
            }
        }
        RequestTokenError::Request(unanswered) => OAuthError::Transient(unanswered.to_string()),
        RequestTokenError::Parse(error, _) => {
            OAuthError::Transient(format!("unreadable token answer: {error}"))
        }
        RequestTokenError::Other(detail) => OAuthError::Rejected(detail),
    }
}

/// Our HTTP client as `oauth2` calls it (a boxed future that is `Send`, so
/// that CRM connectors built on sessions stay `Send`).
struct CappedHttp<'h>(&'h reqwest::Client, Option<&'static str>);

impl<'c> oauth2::AsyncHttpClient<'c> for CappedHttp<'_> {
    type Error = Unanswered;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, Unanswered>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send_capped(self.0, self.1, request))
    }
}

/// Sends one token request with our HTTP client: busy servers (429, 5xx)
/// are told apart, and at most [`MAX_ANSWER_BYTES`] of the answer are read.
async fn send_capped(
    http: &reqwest::Client,
    broker_own_error: Option<&'static str>,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, Unanswered> {
    let request =
        reqwest::Request::try_from(request).map_err(|e| Unanswered::Network(e.without_url().to_string()))?;
    let mut response = http
        .execute(request)
        .await
        .map_err(|e| Unanswered::Network(e.without_url().to_string()))?;
    let status = response.status();
    if broker_own_error.is_some_and(|own| response.headers().contains_key(own)) {
        return Err(Unanswered::Broker(status.as_u16()));
    }
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(Unanswered::Busy(status.as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Unanswered::Network(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(Unanswered::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let mut answer = oauth2::http::Response::builder().status(status.as_u16());
    for (name, value) in response.headers() {
        answer = answer.header(name.as_str(), value.as_bytes());
    }
    answer.body(body).map_err(|e| Unanswered::Network(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A token endpoint that gives one fixed answer to every request, and
    /// hands each request's body to the test.
    async fn token_endpoint(
        status: u16,
        body: &'static str,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        token_endpoint_with(status, "", body).await
    }

    /// As [`token_endpoint`], its answer with `headers` (whole lines, each
    /// ended by CRLF).
    async fn token_endpoint_with(
        status: u16,
        headers: &'static str,
        body: &'static str,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind");
        let url = format!("http://{}/token", listener.local_addr().expect("addr"));
        let (seen, requests) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                // The head, then as many body bytes as Content-Length says.
                loop {
                    let read = stream.read(&mut chunk).await.unwrap_or(0);
                    request.extend_from_slice(&chunk[..read]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            let _ = seen.send(body.to_owned());
                            break;
                        }
                    }
                    if read == 0 {
                        break;
                    }
                }
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        (url, requests)
    }

    fn client(token_url: &str, secret: Option<&str>) -> OAuthClient {
        OAuthClient::new(
            "https://id.example.com/connect/authorize",
            token_url,
            "app-1",
            secret.map(str::to_owned),
            &["read", "offline_access"],
        )
    }

    #[tokio::test]
    async fn a_code_is_traded_with_the_secret_in_the_body_and_the_account_api_is_kept() {
        let (url, mut requests) = token_endpoint(
            200,
            r#"{"access_token":"a1","token_type":"Bearer","expires_in":3600,"refresh_token":"r1","api":"https://api.jobadder.com/v2"}"#,
        )
        .await;
        let tokens = client(&url, Some("s3cret"))
            .exchange_code("c1", "http://127.0.0.1:47615/callback", None)
            .await
            .expect("tokens");
        assert_eq!(tokens.access_token, "a1");
        assert_eq!(tokens.refresh_token.as_deref(), Some("r1"));
        assert_eq!(tokens.api.as_deref(), Some("https://api.jobadder.com/v2"));
        assert!(tokens.expires_at_ms > now_ms() + 3_500_000);
        let body = requests.recv().await.expect("a request");
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(field("grant_type"), Some("authorization_code"));
        assert_eq!(field("client_id"), Some("app-1"));
        assert_eq!(field("client_secret"), Some("s3cret"));
        assert_eq!(field("redirect_uri"), Some("http://127.0.0.1:47615/callback"));
    }

    #[tokio::test]
    async fn a_refresh_without_a_new_refresh_token_keeps_the_old_one_and_the_api() {
        let (url, mut requests) = token_endpoint(
            200,
            r#"{"access_token":"a2","token_type":"bearer","expires_in":60}"#,
        )
        .await;
        let tokens = client(&url, None)
            .refresh("r1", Some("https://api.example.com"))
            .await
            .expect("tokens");
        assert_eq!(tokens.refresh_token.as_deref(), Some("r1"));
        assert_eq!(tokens.api.as_deref(), Some("https://api.example.com"));
        assert!(requests
            .recv()
            .await
            .expect("a request")
            .contains("grant_type=refresh_token"));
    }

    #[tokio::test]
    async fn a_dead_refresh_token_a_busy_server_and_a_refusal_are_told_apart() {
        let (url, _) =
            token_endpoint(400, r#"{"error":"invalid_grant","error_description":"expired"}"#).await;
        assert_eq!(
            client(&url, None).refresh("r1", None).await,
            Err(OAuthError::Revoked("expired".into()))
        );
        let (url, _) = token_endpoint(429, r#"{"error":"slow_down"}"#).await;
        assert!(matches!(
            client(&url, None).refresh("r1", None).await,
            Err(OAuthError::Transient(_))
        ));
        let (url, _) = token_endpoint(503, "").await;
        assert!(matches!(
            client(&url, None).refresh("r1", None).await,
            Err(OAuthError::Transient(_))
        ));
        let (url, _) = token_endpoint(401, r#"{"error":"invalid_client"}"#).await;
        assert!(matches!(
            client(&url, None).refresh("r1", None).await,
            Err(OAuthError::Rejected(_))
        ));
    }

    #[tokio::test]
    async fn a_brokers_own_refusal_is_transient_and_the_crms_answer_through_it_is_not() {
        let broker = |url: &str| client(url, None).through_broker(url, "cch_desktop", "callcard-hub-error");
        // The hub's own 401 (its desktop token) and 502 (JobAdder away):
        // nothing to do with the JobAdder sign-in.
        let (url, _) = token_endpoint_with(
            401,
            "callcard-hub-error: 1\r\n",
            r#"{"error":"unknown or revoked desktop token"}"#,
        )
        .await;
        assert!(matches!(
            broker(&url).refresh("r1", None).await,
            Err(OAuthError::Transient(_))
        ));
        let (url, _) =
            token_endpoint_with(400, "callcard-hub-error: 1\r\n", r#"{"error":"invalid_grant"}"#).await;
        assert!(
            matches!(
                broker(&url).refresh("r1", None).await,
                Err(OAuthError::Transient(_))
            ),
            "even where its words look like OAuth's"
        );
        // JobAdder's own answer, passed through: the sign-in is dead.
        let (url, _) =
            token_endpoint(400, r#"{"error":"invalid_grant","error_description":"expired"}"#).await;
        assert_eq!(
            broker(&url).refresh("r1", None).await,
            Err(OAuthError::Revoked("expired".into()))
        );
        // Without a broker, the header means nothing.
        let (url, _) =
            token_endpoint_with(400, "callcard-hub-error: 1\r\n", r#"{"error":"invalid_grant"}"#).await;
        assert!(matches!(
            client(&url, None).refresh("r1", None).await,
            Err(OAuthError::Revoked(_))
        ));
    }

    #[test]
    fn the_authorize_link_carries_the_client_the_redirect_the_state_the_scopes_and_the_challenge() {
        let pkce = Pkce::new();
        let link = client("https://id.example.com/connect/token", None)
            .authorize_link("http://127.0.0.1:47616/callback", "st-1", Some(&pkce))
            .expect("a link");
        let url = url::Url::parse(&link).expect("a URL");
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let field = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(field("response_type"), Some("code"));
        assert_eq!(field("client_id"), Some("app-1"));
        assert_eq!(field("redirect_uri"), Some("http://127.0.0.1:47616/callback"));
        assert_eq!(field("state"), Some("st-1"));
        assert_eq!(field("scope"), Some("read offline_access"));
        assert_eq!(field("code_challenge"), Some(pkce.challenge.as_str()));
        assert_eq!(field("code_challenge_method"), Some("S256"));
    }
}
