//! Helpers shared by the sandbox's integration tests: a running sandbox, an
//! HTTP client with OAuth tokens, and validators built from the vendors'
//! OpenAPI documents in `../shared/specs`.

#![allow(dead_code)]

use base64::Engine;
use callcard_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub struct Harness {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
    pub url: String,
}

/// Limits high enough that a test about shapes never meets them.
pub fn relaxed() -> SandboxConfig {
    SandboxConfig {
        limits: callcard_sandbox::LimitsConfig {
            aircall_per_minute: 100_000,
            sellsy_per_second: 100_000,
            sellsy_per_minute: 100_000,
            jobadder_per_minute: 100_000,
            ..Default::default()
        },
        ..SandboxConfig::default()
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(SandboxConfig::default()).await
    }

    pub async fn with(config: SandboxConfig) -> Self {
        let sandbox = Sandbox::start(config).await.expect("sandbox starts");
        let url = sandbox.url();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap();
        Self { sandbox, http, url }
    }

    pub fn aircall(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let c = self.sandbox.credentials();
        self.http
            .request(method, format!("{}/aircall{path}", self.url))
            .basic_auth(c.aircall_api_id, Some(c.aircall_api_token))
    }

    /// `GET` on the Aircall API, answer as JSON.
    pub async fn aircall_json(&self, path: &str) -> Value {
        self.aircall(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}/_sandbox{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "control {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The authorization-code flow against the sandbox's JobAdder identity server.
    pub async fn jobadder_token(&self) -> Value {
        let c = self.sandbox.credentials();
        let redirect = "http://127.0.0.1:9/callback";
        let authorize = self
            .http
            .get(format!("{}/jobadder/id/connect/authorize", self.url))
            .query(&[
                ("response_type", "code"),
                ("client_id", &c.jobadder_client_id),
                ("redirect_uri", redirect),
                ("scope", "read write offline_access"),
                ("state", "xyz"),
            ])
            .send()
            .await
            .unwrap();
        let code = code_from(&authorize, "xyz");
        let token = self
            .http
            .post(format!("{}/jobadder/id/connect/token", self.url))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", &c.jobadder_client_id),
                ("client_secret", &c.jobadder_client_secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(token.status(), 200);
        token.json().await.unwrap()
    }

    /// The authorization-code flow with PKCE against the sandbox's Sellsy login server.
    pub async fn sellsy_token(&self) -> Value {
        let c = self.sandbox.credentials();
        let redirect = "http://127.0.0.1:9/callback";
        let verifier = "a-verifier-of-enough-length-for-pkce-0123456789";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
        let authorize = self
            .http
            .get(format!("{}/sellsy/login/oauth2/authorization", self.url))
            .query(&[
                ("response_type", "code"),
                ("client_id", &c.sellsy_client_id),
                ("redirect_uri", redirect),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("state", "s1"),
            ])
            .send()
            .await
            .unwrap();
        let code = code_from(&authorize, "s1");
        let token = self
            .http
            .post(format!("{}/sellsy/login/oauth2/access-tokens", self.url))
            .json(
                &json!({"grant_type": "authorization_code", "client_id": c.sellsy_client_id, "code": code,
                          "redirect_uri": redirect, "code_verifier": verifier}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(token.status(), 200);
        token.json().await.unwrap()
    }

    pub fn bearer(&self, method: reqwest::Method, url: &str, token: &Value) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(token["access_token"].as_str().unwrap())
    }
}

fn code_from(response: &reqwest::Response, state: &str) -> String {
    assert_eq!(response.status(), 303, "authorize redirects back");
    let location = response.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    let get = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(get("state").as_deref(), Some(state), "state comes back unchanged");
    get("code").expect("a code")
}

#[allow(unused_imports)] // not every test file checks shapes
pub use callcard_spec_check::{assert_invalid, assert_valid, specs_dir, Spec};
