//! How the app reaches JobAdder: the partner app's client id and secret and
//! every URL from the environment (`CALLCARD_JOBADDER_*`), the tokens from
//! the keychain. Signing in opens the system browser and waits on a
//! loopback listener. A refresh token given in the environment (servers,
//! tests) is traded at once and the new tokens go to the keychain.

use callcard_core::phone::Region;
use callcard_jobadder::{JobAdder, JobAdderConfig};
use callcard_oauth::{KeychainVault, OAuthError, Session, TokenSet, TokenVault};
use callcard_secrets::{Keychain, SecretKey};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct JobAdderEnv {
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub api_url: String,
    pub app_url: String,
}

pub fn jobadder_env(env: impl Fn(&str) -> Option<String>) -> Option<JobAdderEnv> {
    let var = |key: &str| env(key).filter(|v| !v.trim().is_empty());
    Some(JobAdderEnv {
        client_id: var("CALLCARD_JOBADDER_CLIENT_ID")?,
        client_secret: var("CALLCARD_JOBADDER_CLIENT_SECRET")?,
        authorize_url: var("CALLCARD_JOBADDER_AUTHORIZE_URL")
            .unwrap_or_else(|| callcard_jobadder::AUTHORIZE_URL.to_owned()),
        token_url: var("CALLCARD_JOBADDER_TOKEN_URL")
            .unwrap_or_else(|| callcard_jobadder::TOKEN_URL.to_owned()),
        api_url: var("CALLCARD_JOBADDER_API_URL").unwrap_or_else(|| "https://api.jobadder.com/v2".to_owned()),
        app_url: var("CALLCARD_JOBADDER_APP_URL").unwrap_or_else(|| callcard_jobadder::APP_URL.to_owned()),
    })
}

fn session(config: &JobAdderEnv, vault: Arc<dyn TokenVault>) -> Arc<Session> {
    let client = callcard_jobadder::oauth_client(
        &config.authorize_url,
        &config.token_url,
        &config.client_id,
        &config.client_secret,
    );
    Arc::new(Session::new(client, vault))
}

pub fn keychain_session(config: &JobAdderEnv, keychain: Keychain) -> Arc<Session> {
    // One entry per partner app and identity server (a sandbox is another server).
    let key = SecretKey::new(
        "jobadder",
        format!("tokens:{}@{}", config.client_id, config.token_url),
    );
    session(config, Arc::new(KeychainVault::new(keychain, key)))
}

pub fn memory_session(config: &JobAdderEnv) -> Arc<Session> {
    session(config, Arc::new(callcard_oauth::MemoryVault::default()))
}

/// Trades a refresh token handed over by the environment.
pub async fn adopt_refresh_token(session: &Session, refresh_token: &str) -> Result<(), OAuthError> {
    let tokens = session.client().refresh(refresh_token, None).await?;
    session.connect(tokens).await
}

pub fn connector(config: &JobAdderEnv, session: Arc<Session>, region: &str) -> Arc<JobAdder> {
    Arc::new(JobAdder::new(
        session,
        JobAdderConfig {
            api_url: config.api_url.clone(),
            app_url: config.app_url.clone(),
            default_region: Region::parse(region).ok(),
            account: config.client_id.clone(),
        },
    ))
}

/// The sign-in: the browser goes to JobAdder, JobAdder sends it back to
/// 127.0.0.1 with a code, the code becomes tokens. `open` shows the page.
pub async fn sign_in(session: &Session, open: impl FnOnce(&str)) -> Result<TokenSet, String> {
    let proof = callcard_oauth::Proof::ClientSecret;
    let tokens = callcard_oauth::sign_in(session.client(), proof, open, Duration::from_secs(300)).await?;
    session.connect(tokens.clone()).await.map_err(|e| e.to_string())?;
    Ok(tokens)
}

/// Opens a page in the user's browser (`gio open` copes with URLs that trip
/// `xdg-open`).
pub fn open_in_browser(url: &str) {
    for program in ["gio", "xdg-open"] {
        let mut command = std::process::Command::new(program);
        if program == "gio" {
            command.arg("open");
        }
        if command.arg(url).spawn().is_ok() {
            return;
        }
    }
    tracing::warn!("cannot open a browser; open the sign-in page by hand");
}
