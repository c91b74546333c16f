//! The sandbox from the outside, as tests, benchmarks and the demo use it:
//! its control API over HTTP, and a stand-in for the user's browser during
//! a sign-in (it follows the authorize page to the app's loopback listener).

use serde_json::{json, Value};

/// A request the sandbox received, with its JSON body.
#[derive(Debug, Clone)]
pub struct SentRequest {
    pub method: String,
    /// From the root: `/sellsy/v2/phone-calls`.
    pub path: String,
    pub body: Value,
}

/// The control API (`/_sandbox/…`).
#[derive(Clone)]
pub struct Control {
    base: String,
    http: reqwest::Client,
}

impl Control {
    pub fn new(sandbox_url: &str) -> Self {
        Self {
            base: format!("{}/_sandbox", sandbox_url.trim_end_matches('/')),
            http: reqwest::Client::new(),
        }
    }

    /// One control request; an answer other than 2xx is an error with its status.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Value, String> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("control {path}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("control {path}: {status}"));
        }
        Ok(response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(reqwest::Method::GET, path, Value::Null).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.call(reqwest::Method::POST, path, body).await
    }

    /// Every simulated service's records.
    pub async fn state(&self) -> Result<Value, String> {
        self.get("/state").await
    }

    /// A CRM record (`crm`: jobadder, sellsy; `kind`: candidate, contact…); its id.
    pub async fn add_record(
        &self,
        crm: &str,
        kind: &str,
        region: &str,
        fields: Value,
    ) -> Result<i64, String> {
        let created = self
            .post(
                "/records",
                json!({"crm": crm, "type": kind, "region": region, "fields": fields}),
            )
            .await?;
        created["id"]
            .as_i64()
            .ok_or_else(|| format!("no id in {created}"))
    }

    /// Every request `api` received, bodies or not: `(method, path, query)`.
    pub async fn requests(&self, api: &str) -> Result<Vec<(String, String, String)>, String> {
        let log = self.get(&format!("/requests?api={api}")).await?;
        Ok(log["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some((
                    r["method"].as_str()?.to_owned(),
                    r["path"].as_str()?.to_owned(),
                    r["query"].as_str().unwrap_or("").to_owned(),
                ))
            })
            .collect())
    }

    /// The requests `api` received that carried a JSON body.
    pub async fn sent(&self, api: &str) -> Result<Vec<SentRequest>, String> {
        let log = self.get(&format!("/requests?api={api}")).await?;
        Ok(log["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some(SentRequest {
                    method: r["method"].as_str()?.to_owned(),
                    path: r["path"].as_str()?.to_owned(),
                    body: serde_json::from_str(r["body"].as_str()?).ok()?,
                })
            })
            .collect())
    }
}

/// Plays the user's browser in a sign-in: the returned function opens the
/// authorize page in the background, and the sandbox (which approves at
/// once) redirects it to the app's loopback listener.
pub fn browser() -> impl FnOnce(&str) + Send + 'static {
    |link: &str| {
        let link = link.to_owned();
        tokio::spawn(async move {
            let browser = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default();
            if let Err(error) = browser.get(link).send().await {
                tracing::warn!(%error, "the stand-in browser could not follow the sign-in");
            }
        });
    }
}
