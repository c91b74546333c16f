//! The JobAdder token broker (optional): JobAdder's token endpoint wants
//! the partner app's client secret on every exchange and refresh, and a
//! desktop build cannot keep a secret. A hub that holds it does the code
//! exchange and the refreshes for its desktops: `POST /v1/jobadder/token`
//! with the desktop's own token, the usual form body without the secret;
//! the hub adds the client's id and secret, forwards the request and hands
//! JobAdder's answer back as it came. The hub keeps none of the tokens.

use std::time::Duration;

/// The partner app's client, as the hub holds it (the secret never printed).
#[derive(Clone)]
pub struct JobAdderClient {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for JobAdderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobAdderClient")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// What a desktop may ask for: the two grants a sign-in needs.
const GRANTS: &[&str] = &["authorization_code", "refresh_token"];
/// The fields passed on; anything else (a `client_secret` of its own) is dropped.
const FIELDS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "refresh_token",
    "code_verifier",
    "scope",
];
/// A token answer bigger than this is not one.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("only the authorization_code and refresh_token grants are brokered")]
    Grant,
    #[error("JobAdder's token endpoint cannot be reached: {0}")]
    Unreachable(String),
    #[error("JobAdder's answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
}

/// JobAdder's status and body, to hand back as they are.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl JobAdderClient {
    /// Forwards a desktop's token request with the client's credentials.
    pub async fn exchange(
        &self,
        http: &reqwest::Client,
        form: &[(String, String)],
    ) -> Result<Answer, BrokerError> {
        let grant = form
            .iter()
            .find(|(k, _)| k == "grant_type")
            .map(|(_, v)| v.as_str());
        if !grant.is_some_and(|g| GRANTS.contains(&g)) {
            return Err(BrokerError::Grant);
        }
        let mut body: Vec<(&str, &str)> = form
            .iter()
            .filter(|(k, _)| FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        body.push(("client_id", &self.client_id));
        body.push(("client_secret", &self.client_secret));
        let mut response = http
            .post(&self.token_url)
            .header("Accept", "application/json")
            .timeout(Duration::from_secs(30))
            .form(&body)
            .send()
            .await
            .map_err(|e| BrokerError::Unreachable(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        let mut answer = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| BrokerError::Unreachable(e.without_url().to_string()))?
        {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(BrokerError::TooLarge);
            }
            answer.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            content_type,
            body: answer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_never_prints() {
        let client = JobAdderClient {
            token_url: "https://id.jobadder.com/connect/token".into(),
            client_id: "app".into(),
            client_secret: "s3cret".into(),
        };
        assert!(!format!("{client:?}").contains("s3cret"));
    }
}
