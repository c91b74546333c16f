//! The CRMs this build knows (the registry, one line per CRM) and how the
//! engine reaches one: the OAuth client from the environment
//! (`<prefix>_CLIENT_ID`, … with the prefix the CRM's descriptor names), the
//! build or the connect window, every URL from the environment or the CRM's
//! published ones, the tokens from the keychain. Signing in opens the
//! system browser and waits on a loopback listener (with the client secret
//! or with PKCE, as the descriptor says). A refresh token given in the
//! environment (servers, tests) is traded at once and the new tokens go to
//! the keychain.

use crate::environment::Environment;
use callcard_core::crm::{Crm, CrmDescriptor, SignIn};
use callcard_core::phone::Region;
use callcard_core::{Settings, Store};
use callcard_crm_http::{CrmConfig, CrmPlugin};
use callcard_oauth::{KeychainVault, OAuthError, Proof, Session, TokenSet, TokenVault};
use callcard_secrets::{Keychain, SecretKey};
use serde::Serialize;
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

/// What an installation must set for a CRM's sign-in.
pub fn required_variables(crm: &CrmDescriptor) -> String {
    match crm.sign_in {
        SignIn::ClientSecret => format!("{0}_CLIENT_ID and {0}_CLIENT_SECRET", crm.env_prefix),
        SignIn::Pkce => format!("{}_CLIENT_ID", crm.env_prefix),
    }
}

/// Where a CRM's OAuth client came from; the first one found wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ClientSource {
    /// `CALLCARD_<CRM>_CLIENT_ID` (and `_CLIENT_SECRET`) in the environment.
    FromEnvironment,
    /// Built into this app (`CALLCARD_BUILD_<CRM>_CLIENT_ID` when it was compiled).
    BuiltIn,
    /// Pasted into the connect window by an admin.
    Pasted,
}

/// A client pasted into the connect window: the id from the settings, the
/// secret from the keychain.
pub struct PastedClient {
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// One CRM with its OAuth client, redirect port and URLs.
#[derive(Clone)]
pub struct CrmEnv {
    pub plugin: &'static dyn CrmPlugin,
    pub config: CrmConfig,
    pub source: ClientSource,
    /// The loopback port the sign-in comes back to (0: any free one).
    pub redirect_port: u16,
    /// Where token requests go when this app has no client secret: the
    /// team hub's token broker.
    pub broker: Option<TokenBroker>,
}

/// The team hub's token broker for a CRM whose token endpoint wants the
/// client secret (JobAdder): the hub adds it; the tokens stay here.
#[derive(Clone)]
pub struct TokenBroker {
    pub url: String,
    /// This computer's hub token.
    pub bearer: String,
}

impl std::fmt::Debug for TokenBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBroker")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl CrmEnv {
    pub fn descriptor(&self) -> &'static CrmDescriptor {
        self.plugin.descriptor()
    }
}

/// The redirect URI to register with the CRM for this port.
pub fn redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}/callback")
}

/// The CRM as the environment alone gives it (servers, tests, the demo).
pub fn crm_env(plugin: &'static dyn CrmPlugin, env: impl Fn(&str) -> Option<String>) -> Option<CrmEnv> {
    resolve(plugin, env, None, None, None)
}

/// The CRM as this installation has it: the environment, then the client
/// built into the app, then the one pasted into the connect window (its
/// secret from `keychain`). Without a secret, a client id is enough when the
/// team hub brokers the CRM's tokens. `None` when there is no complete client.
pub fn installed_crm(
    plugin: &'static dyn CrmPlugin,
    env: &Environment,
    settings: &Settings,
    keychain: &Keychain,
) -> Option<CrmEnv> {
    let setting = settings.crm_clients.get(plugin.descriptor().id);
    let pasted = setting
        .filter(|client| !client.client_id.trim().is_empty())
        .map(|client| PastedClient {
            client_id: client.client_id.trim().to_owned(),
            client_secret: pasted_secret(plugin, keychain),
        });
    let broker = match crate::hub_account::hub_connection(env, settings, keychain) {
        Ok(Some(hub)) => Some(TokenBroker {
            url: format!(
                "{}/v1/{}/token",
                hub.url.trim_end_matches('/'),
                plugin.descriptor().id
            ),
            bearer: hub.token,
        }),
        _ => None,
    };
    resolve(
        plugin,
        env.lookup(),
        pasted,
        setting.and_then(|client| client.redirect_port),
        broker,
    )
}

fn resolve(
    plugin: &'static dyn CrmPlugin,
    env: impl Fn(&str) -> Option<String>,
    pasted: Option<PastedClient>,
    port_setting: Option<u16>,
    broker: Option<TokenBroker>,
) -> Option<CrmEnv> {
    let descriptor = plugin.descriptor();
    let var = |key: &str| env(&format!("{}_{key}", descriptor.env_prefix)).filter(|v| !v.trim().is_empty());
    let wants_secret = descriptor.sign_in == SignIn::ClientSecret;
    let brokered = wants_secret && broker.is_some();
    // A client without the secret its CRM needs is no client at all, unless
    // the team hub brokers its tokens.
    let complete = |id: Option<String>, secret: Option<String>| {
        let secret = secret.filter(|_| wants_secret);
        (!wants_secret || secret.is_some() || brokered).then_some(())?;
        Some((id?, secret))
    };
    let ((client_id, client_secret), source) = complete(var("CLIENT_ID"), var("CLIENT_SECRET"))
        .map(|client| (client, ClientSource::FromEnvironment))
        .or_else(|| {
            let built_in = plugin.built_in_client()?;
            complete(
                Some(built_in.client_id.to_owned()),
                built_in.client_secret.map(str::to_owned),
            )
            .map(|client| (client, ClientSource::BuiltIn))
        })
        .or_else(|| {
            let pasted = pasted?;
            complete(Some(pasted.client_id), pasted.client_secret)
                .map(|client| (client, ClientSource::Pasted))
        })?;
    let client_secret_missing = client_secret.is_none();
    let redirect_port = var("REDIRECT_PORT")
        .and_then(|port| port.trim().parse().ok())
        .or(port_setting)
        .unwrap_or(descriptor.redirect_port);
    let urls = plugin.default_urls();
    Some(CrmEnv {
        plugin,
        config: CrmConfig {
            client_id,
            client_secret,
            authorize_url: var("AUTHORIZE_URL").unwrap_or_else(|| urls.authorize.to_owned()),
            token_url: var("TOKEN_URL").unwrap_or_else(|| urls.token.to_owned()),
            api_url: var("API_URL").unwrap_or_else(|| urls.api.to_owned()),
            app_url: var("APP_URL").unwrap_or_else(|| urls.app.to_owned()),
        },
        source,
        redirect_port,
        // The broker stands in only for a secret this app does not have.
        broker: broker.filter(|_| wants_secret && client_secret_missing),
    })
}

fn pasted_secret_key(plugin: &'static dyn CrmPlugin) -> SecretKey {
    SecretKey::new(plugin.descriptor().id, "client_secret")
}

/// The secret pasted with the client id, if any.
fn pasted_secret(plugin: &'static dyn CrmPlugin, keychain: &Keychain) -> Option<String> {
    match keychain.get(&pasted_secret_key(plugin)) {
        Ok(secret) => secret.filter(|s| !s.is_empty()),
        Err(error) => {
            tracing::warn!(%error, "cannot read the pasted client secret");
            None
        }
    }
}

/// Keeps (or, with `None`, removes) the pasted client secret.
pub fn save_pasted_secret(
    plugin: &'static dyn CrmPlugin,
    keychain: &Keychain,
    secret: Option<&str>,
) -> Result<(), callcard_secrets::SecretError> {
    let key = pasted_secret_key(plugin);
    match secret {
        Some(secret) => keychain.set(&key, secret),
        None => keychain.delete(&key),
    }
}

fn session(crm: &CrmEnv, vault: Arc<dyn TokenVault>) -> Arc<Session> {
    let mut client = crm.plugin.oauth_client(&crm.config);
    if let Some(broker) = &crm.broker {
        client = client.through_broker(
            &broker.url,
            &broker.bearer,
            callcard_aircall::hub::BROKER_OWN_ERROR,
        );
    }
    Arc::new(Session::new(client, vault))
}

/// The session of a CRM's keychain entry: one per entry in the process,
/// shared by the watch, the connect window, the setup check and the
/// accounts list while any of them holds it. A refresh by one is then a
/// refresh for all: JobAdder rotates refresh tokens, so two sessions on one
/// entry would each kill the other's token (the vault re-read in
/// `callcard_oauth::Session` covers other processes).
pub fn keychain_session(crm: &CrmEnv, keychain: Keychain) -> Arc<Session> {
    use std::collections::HashMap;
    use std::hash::{Hash, Hasher};
    use std::sync::{OnceLock, Weak};
    static SESSIONS: OnceLock<Mutex<HashMap<String, Weak<Session>>>> = OnceLock::new();

    // One entry per client and identity server (a sandbox is another server).
    let key = SecretKey::new(
        crm.descriptor().id,
        format!("tokens:{}@{}", crm.config.client_id, crm.config.token_url),
    );
    // A session is also its OAuth client: a new secret or the hub's broker
    // makes another one (the secret only as a hash, never kept again).
    let mut client = std::collections::hash_map::DefaultHasher::new();
    crm.config.client_secret.hash(&mut client);
    crm.broker.as_ref().map(|b| (&b.url, &b.bearer)).hash(&mut client);
    let id = format!("{}\n{key}\n{:x}", keychain.service(), client.finish());
    let mut sessions = SESSIONS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    sessions.retain(|_, session| session.strong_count() > 0);
    if let Some(shared) = sessions.get(&id).and_then(Weak::upgrade) {
        return shared;
    }
    let fresh = session(crm, Arc::new(KeychainVault::new(keychain, key)));
    sessions.insert(id, Arc::downgrade(&fresh));
    fresh
}

pub fn memory_session(crm: &CrmEnv) -> Arc<Session> {
    session(crm, Arc::new(callcard_oauth::MemoryVault::default()))
}

/// Trades a refresh token handed over by the environment.
pub async fn adopt_refresh_token(session: &Session, refresh_token: &str) -> Result<(), OAuthError> {
    let tokens = session.client().refresh(refresh_token, None).await?;
    session.connect(tokens).await
}

/// A refresh token handed over by the environment (`CALLCARD_<CRM>_REFRESH_TOKEN`)
/// is traded once: the CRM rotates it at that first use, so trading it again
/// at the next start would fail (and a rotated token may not come back).
/// Which one was used is kept in the keychain beside the tokens. Returns
/// whether it was traded now.
pub async fn adopt_handed_over(
    crm: &CrmEnv,
    session: &Session,
    keychain: &Keychain,
    refresh_token: &str,
) -> Result<bool, OAuthError> {
    let used = SecretKey::new(
        crm.descriptor().id,
        format!("handed_over:{}@{}", crm.config.client_id, crm.config.token_url),
    );
    let already = keychain.get(&used).ok().flatten().as_deref() == Some(refresh_token);
    if already && session.is_connected().await {
        return Ok(false);
    }
    adopt_refresh_token(session, refresh_token).await?;
    if let Err(error) = keychain.set(&used, refresh_token) {
        tracing::warn!(%error, "cannot note which handed-over refresh token was used");
    }
    Ok(true)
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
    let tokens = callcard_oauth::sign_in(
        session.client(),
        proof,
        crm.redirect_port,
        open,
        Duration::from_secs(300),
    )
    .await
    .map_err(|e| e.to_string())?;
    session.connect(tokens.clone()).await.map_err(|e| e.to_string())?;
    Ok(tokens)
}

/// Opens a page in the user's browser: the one `$BROWSER` names (the usual
/// convention, which `gio` ignores), else the desktop's (`gio open` copes
/// with URLs that trip `xdg-open`).
pub fn open_in_browser(url: &str) {
    if let Some(browser) = std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        if std::process::Command::new(&browser).arg(url).spawn().is_ok() {
            return;
        }
        tracing::warn!(browser = %browser.to_string_lossy(), "cannot start $BROWSER; trying the desktop's browser");
    }
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
    fn one_session_per_keychain_entry_while_anything_holds_it() {
        let env = from(&[
            ("CALLCARD_JOBADDER_CLIENT_ID", "ja-shared"),
            ("CALLCARD_JOBADDER_CLIENT_SECRET", "s1"),
        ]);
        let crm = crm_env(plugin("jobadder"), &env).unwrap();
        let keychain = || Keychain::with_service("callcard-test-shared-sessions");
        let live = keychain_session(&crm, keychain());
        let window = keychain_session(&crm, keychain());
        assert!(
            Arc::ptr_eq(&live, &window),
            "the connect window shares the live session"
        );
        let other_group = keychain_session(&crm, Keychain::with_service("callcard-test-other"));
        assert!(!Arc::ptr_eq(&live, &other_group));
        let mut new_secret = crm_env(plugin("jobadder"), &env).unwrap();
        new_secret.config.client_secret = Some("s2".into());
        assert!(
            !Arc::ptr_eq(&live, &keychain_session(&new_secret, keychain())),
            "a new client secret is another client"
        );
        let weak = Arc::downgrade(&live);
        drop((live, window));
        assert!(
            weak.upgrade().is_none(),
            "the registry does not keep a session alive"
        );
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
    fn the_environment_comes_before_a_pasted_client_and_a_pasted_one_needs_its_secret() {
        let pasted = |secret: Option<&str>| PastedClient {
            client_id: "pasted-id".into(),
            client_secret: secret.map(str::to_owned),
        };
        let none = from(&[]);
        assert!(resolve(plugin("jobadder"), &none, None, None, None).is_none());
        assert!(
            resolve(plugin("jobadder"), &none, Some(pasted(None)), None, None).is_none(),
            "JobAdder's token endpoint needs the secret"
        );
        let jobadder = resolve(plugin("jobadder"), &none, Some(pasted(Some("s"))), None, None).unwrap();
        assert_eq!(jobadder.source, ClientSource::Pasted);
        assert_eq!(jobadder.config.client_id, "pasted-id");
        assert_eq!(jobadder.config.client_secret.as_deref(), Some("s"));
        let sellsy = resolve(plugin("sellsy"), &none, Some(pasted(Some("ignored"))), None, None).unwrap();
        assert_eq!(sellsy.config.client_secret, None, "a PKCE client sends no secret");

        let env = from(&[
            ("CALLCARD_JOBADDER_CLIENT_ID", "env-id"),
            ("CALLCARD_JOBADDER_CLIENT_SECRET", "env-secret"),
        ]);
        let jobadder = resolve(plugin("jobadder"), &env, Some(pasted(Some("s"))), None, None).unwrap();
        assert_eq!(jobadder.source, ClientSource::FromEnvironment);
        assert_eq!(jobadder.config.client_id, "env-id");
    }

    #[test]
    fn with_the_team_hub_a_client_id_without_its_secret_signs_in_through_the_broker() {
        let broker = || {
            Some(TokenBroker {
                url: "https://hub.example.com/v1/jobadder/token".into(),
                bearer: "cch_x".into(),
            })
        };
        let pasted = |secret: Option<&str>| PastedClient {
            client_id: "partner-app".into(),
            client_secret: secret.map(str::to_owned),
        };
        let none = from(&[]);
        let brokered = resolve(plugin("jobadder"), &none, Some(pasted(None)), None, broker()).unwrap();
        assert_eq!(brokered.config.client_secret, None);
        assert_eq!(
            brokered.config.token_url,
            callcard_jobadder::TOKEN_URL,
            "tokens kept under JobAdder's"
        );
        assert!(brokered.broker.is_some());
        assert!(!format!("{:?}", brokered.broker).contains("cch_x"));
        // A secret this app has wins; a PKCE client needs no broker.
        let own = resolve(plugin("jobadder"), &none, Some(pasted(Some("s"))), None, broker()).unwrap();
        assert!(own.broker.is_none());
        let sellsy = resolve(plugin("sellsy"), &none, Some(pasted(None)), None, broker()).unwrap();
        assert!(sellsy.broker.is_none());
    }

    #[test]
    fn the_redirect_port_comes_from_the_environment_then_the_settings_then_the_crm() {
        let pasted = || PastedClient {
            client_id: "id".into(),
            client_secret: None,
        };
        let sellsy = plugin("sellsy");
        let default = sellsy.descriptor().redirect_port;
        assert_ne!(
            default, 0,
            "a fixed port, so that the redirect URI can be registered"
        );
        let none = from(&[]);
        assert_eq!(
            resolve(sellsy, &none, Some(pasted()), None, None)
                .unwrap()
                .redirect_port,
            default
        );
        assert_eq!(
            resolve(sellsy, &none, Some(pasted()), Some(50000), None)
                .unwrap()
                .redirect_port,
            50000
        );
        let env = from(&[("CALLCARD_SELLSY_REDIRECT_PORT", "0")]);
        assert_eq!(
            resolve(sellsy, &env, Some(pasted()), Some(50000), None)
                .unwrap()
                .redirect_port,
            0
        );
        assert_eq!(redirect_uri(47616), "http://127.0.0.1:47616/callback");
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
