//! How the app reaches a CRM: the OAuth client and every URL from the
//! environment (`CALLCARD_JOBADDER_*`, `CALLCARD_SELLSY_*`), the tokens from
//! the keychain. Signing in opens the system browser and waits on a
//! loopback listener (JobAdder with its client secret, Sellsy with PKCE). A
//! refresh token given in the environment (servers, tests) is traded at
//! once and the new tokens go to the keychain.

use callcard_core::crm::{Crm, CrmError};
use callcard_core::phone::Region;
use callcard_core::Store;
use callcard_jobadder::{JobAdder, JobAdderConfig};
use callcard_oauth::{KeychainVault, OAuthClient, OAuthError, Proof, Session, TokenSet, TokenVault};
use callcard_secrets::{Keychain, SecretKey};
use callcard_sellsy::{Sellsy, SellsyConfig, SellsyIdentity};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmKind {
    JobAdder,
    Sellsy,
}

impl CrmKind {
    pub const ALL: [CrmKind; 2] = [CrmKind::JobAdder, CrmKind::Sellsy];

    /// The name in keys, settings and outbox rows.
    pub fn id(self) -> &'static str {
        match self {
            Self::JobAdder => "jobadder",
            Self::Sellsy => "sellsy",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::JobAdder => "JobAdder",
            Self::Sellsy => "Sellsy",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == text)
    }

    /// What an installation must set for this CRM's sign-in.
    pub fn required_variables(self) -> &'static str {
        match self {
            Self::JobAdder => "CALLCARD_JOBADDER_CLIENT_ID and CALLCARD_JOBADDER_CLIENT_SECRET",
            Self::Sellsy => "CALLCARD_SELLSY_CLIENT_ID",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::JobAdder => "CALLCARD_JOBADDER",
            Self::Sellsy => "CALLCARD_SELLSY",
        }
    }
}

/// One CRM's OAuth client and URLs, as the environment gives them.
#[derive(Debug, Clone)]
pub struct CrmEnv {
    pub kind: CrmKind,
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    /// JobAdder's partner apps have one; Sellsy's public clients use PKCE.
    pub client_secret: Option<String>,
    pub api_url: String,
    pub app_url: String,
}

/// The CRM's settings, or `None` when the installation has no client for it.
pub fn crm_env(kind: CrmKind, env: impl Fn(&str) -> Option<String>) -> Option<CrmEnv> {
    let prefix = kind.prefix();
    let var = |key: &str| env(&format!("{prefix}_{key}")).filter(|v| !v.trim().is_empty());
    let (authorize_url, token_url, api_url, app_url) = match kind {
        CrmKind::JobAdder => (
            callcard_jobadder::AUTHORIZE_URL,
            callcard_jobadder::TOKEN_URL,
            "https://api.jobadder.com/v2",
            callcard_jobadder::APP_URL,
        ),
        CrmKind::Sellsy => (
            callcard_sellsy::AUTHORIZE_URL,
            callcard_sellsy::TOKEN_URL,
            callcard_sellsy::API_URL,
            callcard_sellsy::APP_URL,
        ),
    };
    let client_secret = var("CLIENT_SECRET");
    if kind == CrmKind::JobAdder && client_secret.is_none() {
        return None;
    }
    Some(CrmEnv {
        kind,
        client_id: var("CLIENT_ID")?,
        client_secret,
        authorize_url: var("AUTHORIZE_URL").unwrap_or_else(|| authorize_url.to_owned()),
        token_url: var("TOKEN_URL").unwrap_or_else(|| token_url.to_owned()),
        api_url: var("API_URL").unwrap_or_else(|| api_url.to_owned()),
        app_url: var("APP_URL").unwrap_or_else(|| app_url.to_owned()),
    })
}

fn oauth_client(config: &CrmEnv) -> OAuthClient {
    match config.kind {
        CrmKind::JobAdder => callcard_jobadder::oauth_client(
            &config.authorize_url,
            &config.token_url,
            &config.client_id,
            config.client_secret.as_deref().unwrap_or_default(),
        ),
        CrmKind::Sellsy => {
            callcard_sellsy::oauth_client(&config.authorize_url, &config.token_url, &config.client_id)
        }
    }
}

fn session(config: &CrmEnv, vault: Arc<dyn TokenVault>) -> Arc<Session> {
    Arc::new(Session::new(oauth_client(config), vault))
}

pub fn keychain_session(config: &CrmEnv, keychain: Keychain) -> Arc<Session> {
    // One entry per client and identity server (a sandbox is another server).
    let key = SecretKey::new(
        config.kind.id(),
        format!("tokens:{}@{}", config.client_id, config.token_url),
    );
    session(config, Arc::new(KeychainVault::new(keychain, key)))
}

pub fn memory_session(config: &CrmEnv) -> Arc<Session> {
    session(config, Arc::new(callcard_oauth::MemoryVault::default()))
}

/// Trades a refresh token handed over by the environment.
pub async fn adopt_refresh_token(session: &Session, refresh_token: &str) -> Result<(), OAuthError> {
    let tokens = session.client().refresh(refresh_token, None).await?;
    session.connect(tokens).await
}

/// The connector. Sellsy's reads who is connected first (the account id
/// that names every key) and keeps it in the store; without the network it
/// starts from the one kept last time, so calls still queue under the right
/// account. A refused login is an error either way.
pub async fn connector(
    config: &CrmEnv,
    session: Arc<Session>,
    region: &str,
    store: &Mutex<Store>,
) -> Result<Arc<dyn Crm>, String> {
    let default_region = Region::parse(region).ok();
    Ok(match config.kind {
        CrmKind::JobAdder => Arc::new(JobAdder::new(
            session,
            JobAdderConfig {
                api_url: config.api_url.clone(),
                app_url: config.app_url.clone(),
                default_region,
                account: config.client_id.clone(),
            },
        )),
        CrmKind::Sellsy => {
            let sellsy_config = SellsyConfig {
                api_url: config.api_url.clone(),
                app_url: config.app_url.clone(),
                default_region,
            };
            let kept = format!("sellsy_identity:{}@{}", config.client_id, config.token_url);
            let lock = || store.lock().unwrap_or_else(|p| p.into_inner());
            match Sellsy::connect(session.clone(), sellsy_config.clone()).await {
                Ok(sellsy) => {
                    let identity = sellsy.identity();
                    let saved = {
                        let store = lock();
                        store
                            .set_checkpoint(&format!("{kept}:account"), identity.account_id)
                            .and_then(|()| store.set_checkpoint(&format!("{kept}:staff"), identity.staff_id))
                    };
                    if let Err(error) = saved {
                        tracing::warn!(%error, "cannot keep the Sellsy account id");
                    }
                    Arc::new(sellsy)
                }
                Err(error @ CrmError::NeedsReconnect(_)) | Err(error @ CrmError::Rejected(_)) => {
                    return Err(error.to_string())
                }
                Err(error) => {
                    let (account, staff) = {
                        let store = lock();
                        let read = |key: &str| store.checkpoint(&format!("{kept}:{key}")).ok().flatten();
                        (read("account"), read("staff"))
                    };
                    let (Some(account_id), Some(staff_id)) = (account, staff) else {
                        return Err(error.to_string());
                    };
                    tracing::warn!(%error, "Sellsy is unreachable; starting with the account kept from last time");
                    Arc::new(Sellsy::with_identity(
                        session,
                        sellsy_config,
                        SellsyIdentity { account_id, staff_id },
                    ))
                }
            }
        }
    })
}

/// The sign-in: the browser goes to the CRM, the CRM sends it back to
/// 127.0.0.1 with a code, the code becomes tokens. `open` shows the page.
pub async fn sign_in(
    config: &CrmEnv,
    session: &Session,
    open: impl FnOnce(&str),
) -> Result<TokenSet, String> {
    let proof = match config.kind {
        CrmKind::JobAdder => Proof::ClientSecret,
        CrmKind::Sellsy => Proof::Pkce,
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn jobadder_needs_its_secret_and_sellsy_does_not() {
        let env = from(&[
            ("CALLCARD_JOBADDER_CLIENT_ID", "ja"),
            ("CALLCARD_SELLSY_CLIENT_ID", "se"),
        ]);
        assert!(crm_env(CrmKind::JobAdder, &env).is_none());
        let sellsy = crm_env(CrmKind::Sellsy, &env).unwrap();
        assert_eq!(sellsy.token_url, callcard_sellsy::TOKEN_URL);
        assert_eq!(sellsy.client_secret, None);
    }

    #[test]
    fn every_url_can_be_replaced() {
        let env = from(&[
            ("CALLCARD_SELLSY_CLIENT_ID", "se"),
            ("CALLCARD_SELLSY_API_URL", "http://127.0.0.1:9/sellsy/v2"),
            ("CALLCARD_SELLSY_APP_URL", "http://127.0.0.1:9/app"),
        ]);
        let sellsy = crm_env(CrmKind::Sellsy, env).unwrap();
        assert_eq!(sellsy.api_url, "http://127.0.0.1:9/sellsy/v2");
        assert_eq!(sellsy.app_url, "http://127.0.0.1:9/app");
    }
}
