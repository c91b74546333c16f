//! The CRMs this build knows (the registry, one line per CRM) and how the
//! engine reaches one: the OAuth client and every URL from the environment
//! (`<prefix>_CLIENT_ID`, `<prefix>_API_URL`, … with the prefix the CRM's
//! descriptor names), the tokens from the keychain. Signing in opens the
//! system browser and waits on a loopback listener (with the client secret
//! or with PKCE, as the descriptor says). A refresh token given in the
//! environment (servers, tests) is traded at once and the new tokens go to
//! the keychain.

use callcard_core::crm::{Crm, CrmDescriptor, SignIn};
use callcard_core::phone::Region;
use callcard_core::Store;
use callcard_crm_http::{CrmConfig, CrmPlugin};
use callcard_oauth::{KeychainVault, OAuthError, Proof, Session, TokenSet, TokenVault};
use callcard_secrets::{Keychain, SecretKey};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every CRM this build can log to, in the order windows list them.
/// Adding a CRM is one line here (see docs/adding-a-crm.md).
pub static CRMS: &[&dyn CrmPlugin] = &[&callcard_jobadder::Plugin, &callcard_sellsy::Plugin];

/// The CRM with this id.
pub fn find(id: &str) -> Option<&'static dyn CrmPlugin> {
    CRMS.iter().copied().find(|crm| crm.descriptor().id == id)
}

/// The descriptor of the CRM with this id.
pub fn descriptor(id: &str) -> Option<&'static CrmDescriptor> {
    find(id).map(|crm| crm.descriptor())
}

/// Every CRM's descriptor, in the registry's order.
pub fn descriptors() -> Vec<&'static CrmDescriptor> {
    CRMS.iter().map(|crm| crm.descriptor()).collect()
}

/// The tray's reason when a CRM's sign-in must be renewed.
pub fn reconnect_reason(crm_name: &str) -> String {
    format!("Reconnect {crm_name}")
}

/// What an installation must set for a CRM's sign-in.
pub fn required_variables(crm: &CrmDescriptor) -> String {
    match crm.sign_in {
        SignIn::ClientSecret => format!("{0}_CLIENT_ID and {0}_CLIENT_SECRET", crm.env_prefix),
        SignIn::Pkce => format!("{}_CLIENT_ID", crm.env_prefix),
    }
}

/// One CRM with its OAuth client and URLs, as the environment gives them.
#[derive(Clone)]
pub struct CrmEnv {
    pub plugin: &'static dyn CrmPlugin,
    pub config: CrmConfig,
}

impl CrmEnv {
    pub fn descriptor(&self) -> &'static CrmDescriptor {
        self.plugin.descriptor()
    }
}

/// The CRM's settings, or `None` when the installation has no client for it.
pub fn crm_env(plugin: &'static dyn CrmPlugin, env: impl Fn(&str) -> Option<String>) -> Option<CrmEnv> {
    let descriptor = plugin.descriptor();
    let var = |key: &str| env(&format!("{}_{key}", descriptor.env_prefix)).filter(|v| !v.trim().is_empty());
    let urls = plugin.default_urls();
    let client_secret = var("CLIENT_SECRET");
    if descriptor.sign_in == SignIn::ClientSecret && client_secret.is_none() {
        return None;
    }
    Some(CrmEnv {
        plugin,
        config: CrmConfig {
            client_id: var("CLIENT_ID")?,
            client_secret,
            authorize_url: var("AUTHORIZE_URL").unwrap_or_else(|| urls.authorize.to_owned()),
            token_url: var("TOKEN_URL").unwrap_or_else(|| urls.token.to_owned()),
            api_url: var("API_URL").unwrap_or_else(|| urls.api.to_owned()),
            app_url: var("APP_URL").unwrap_or_else(|| urls.app.to_owned()),
        },
    })
}

fn session(crm: &CrmEnv, vault: Arc<dyn TokenVault>) -> Arc<Session> {
    Arc::new(Session::new(crm.plugin.oauth_client(&crm.config), vault))
}

pub fn keychain_session(crm: &CrmEnv, keychain: Keychain) -> Arc<Session> {
    // One entry per client and identity server (a sandbox is another server).
    let key = SecretKey::new(
        crm.descriptor().id,
        format!("tokens:{}@{}", crm.config.client_id, crm.config.token_url),
    );
    session(crm, Arc::new(KeychainVault::new(keychain, key)))
}

pub fn memory_session(crm: &CrmEnv) -> Arc<Session> {
    session(crm, Arc::new(callcard_oauth::MemoryVault::default()))
}

/// Trades a refresh token handed over by the environment.
pub async fn adopt_refresh_token(session: &Session, refresh_token: &str) -> Result<(), OAuthError> {
    let tokens = session.client().refresh(refresh_token, None).await?;
    session.connect(tokens).await
}

/// The CRM's connector for a signed-in session; `region` reads numbers
/// stored without a country code.
pub async fn connector(
    crm: &CrmEnv,
    session: Arc<Session>,
    region: Option<Region>,
    store: &Mutex<Store>,
) -> Result<Arc<dyn Crm>, String> {
    crm.plugin.connect(&crm.config, session, region, store).await
}

/// The sign-in: the browser goes to the CRM, the CRM sends it back to
/// 127.0.0.1 with a code, the code becomes tokens. `open` shows the page.
pub async fn sign_in(crm: &CrmEnv, session: &Session, open: impl FnOnce(&str)) -> Result<TokenSet, String> {
    let proof = match crm.descriptor().sign_in {
        SignIn::ClientSecret => Proof::ClientSecret,
        SignIn::Pkce => Proof::Pkce,
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

    fn plugin(id: &str) -> &'static dyn CrmPlugin {
        find(id).unwrap()
    }

    #[test]
    fn a_crm_signing_in_with_a_secret_needs_it_and_a_pkce_one_does_not() {
        let env = from(&[
            ("CALLCARD_JOBADDER_CLIENT_ID", "ja"),
            ("CALLCARD_SELLSY_CLIENT_ID", "se"),
        ]);
        assert!(crm_env(plugin("jobadder"), &env).is_none());
        let sellsy = crm_env(plugin("sellsy"), &env).unwrap();
        assert_eq!(sellsy.config.token_url, callcard_sellsy::TOKEN_URL);
        assert_eq!(sellsy.config.client_secret, None);
    }

    #[test]
    fn every_url_can_be_replaced() {
        let env = from(&[
            ("CALLCARD_SELLSY_CLIENT_ID", "se"),
            ("CALLCARD_SELLSY_API_URL", "http://127.0.0.1:9/sellsy/v2"),
            ("CALLCARD_SELLSY_APP_URL", "http://127.0.0.1:9/app"),
        ]);
        let sellsy = crm_env(plugin("sellsy"), env).unwrap();
        assert_eq!(sellsy.config.api_url, "http://127.0.0.1:9/sellsy/v2");
        assert_eq!(sellsy.config.app_url, "http://127.0.0.1:9/app");
    }

    #[test]
    fn the_registry_names_each_crm_once_and_one_is_selected_by_default() {
        let ids: Vec<&str> = descriptors().iter().map(|d| d.id).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(ids, unique);
        assert_eq!(descriptors().iter().filter(|d| d.selected_by_default).count(), 1);
    }
}
