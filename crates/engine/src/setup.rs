//! The accounts: the connect window (first run, and "Connect accounts…" in
//! the tray) — an Aircall API key checked against Aircall and saved to the
//! keychain, a CRM's OAuth client pasted by an admin, the JobAdder and
//! Sellsy sign-ins in the browser (refused when they open another account
//! than the one writes still wait for), the numbers to follow — and the
//! settings window's list of accounts with their Disconnect buttons.
//! Connecting replaces the demo: the app restarts with the accounts.

use crate::aircall_account;
use crate::crms::{self, ClientSource};
use crate::environment::Environment;
use crate::EngineError;
use callcard_aircall::Aircall;
use callcard_core::crm::{CrmDescriptor, SignIn};
use callcard_core::Service;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AircallNumber {
    pub id: i64,
    pub name: String,
    pub digits: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AircallAccount {
    pub user_name: String,
    pub user_email: String,
    pub numbers: Vec<AircallNumber>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SetupView {
    pub demo_running: bool,
    /// The Aircall user, when a key is saved and works.
    pub aircall: Option<AircallAccount>,
    pub aircall_problem: Option<String>,
    /// Every CRM this build knows, in the registry's order.
    pub crms: Vec<CrmSetup>,
    pub connected_numbers: Vec<i64>,
}

/// A CRM in the connect window.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CrmSetup {
    pub crm: CrmDescriptor,
    /// The installation has an OAuth client for it.
    pub available: bool,
    /// Where that client comes from (only a pasted one can be changed here).
    pub client_source: Option<ClientSource>,
    /// The pasted client's id (never its secret).
    pub pasted_client_id: String,
    /// The redirect URI to register with the CRM.
    pub redirect_uri: String,
    pub redirect_port: u16,
    /// Signed in (tokens in the keychain).
    pub connected: bool,
}

/// Checks a key and an e-mail against Aircall: the user and their numbers.
pub async fn check_aircall(
    env: &Environment,
    api_id: &str,
    api_token: &str,
    email: &str,
) -> Result<AircallAccount, EngineError> {
    if api_id.trim().is_empty() || api_token.trim().is_empty() {
        return Err(EngineError::AircallKeyMissing);
    }
    let client = Aircall::new(
        &aircall_account::api_url(env.lookup()),
        api_id.trim(),
        api_token.trim(),
    )?;
    client.ping().await?;
    let user = client.user_by_email(email.trim()).await.map_err(|e| match e {
        callcard_aircall::AircallError::NotFound => EngineError::AircallNoUser(email.trim().to_owned()),
        other => other.into(),
    })?;
    let numbers = client.user_numbers(user.id).await?;
    Ok(AircallAccount {
        user_name: user.name,
        user_email: email.trim().to_owned(),
        numbers: numbers
            .into_iter()
            .map(|n| AircallNumber {
                id: n.id,
                name: n.name,
                digits: n.digits,
            })
            .collect(),
    })
}

/// Checks the key, then keeps it in the keychain and the e-mail in the settings.
pub async fn connect_aircall(
    service: &Service,
    env: &Environment,
    api_id: &str,
    api_token: &str,
    email: &str,
) -> Result<AircallAccount, EngineError> {
    let account = check_aircall(env, api_id, api_token, email).await?;
    aircall_account::save_api_key(
        &callcard_secrets::Keychain::app(),
        api_id.trim(),
        api_token.trim(),
    )
    .map_err(EngineError::Keychain)?;
    let mut settings = service.settings();
    settings.aircall_user_email = account.user_email.clone();
    service.save_settings(&settings)?;
    service.accounts_changed();
    Ok(account)
}

/// What the window shows now; checks the saved Aircall key (the self-test).
pub async fn view(service: &Service, env: &Environment, demo_running: bool) -> SetupView {
    let settings = service.settings();
    let keychain = callcard_secrets::Keychain::app();
    let (aircall, aircall_problem) =
        match aircall_account::aircall_from_env(env.lookup(), &keychain, &settings.aircall_user_email) {
            Ok(c) => match check_aircall(env, &c.api_id, &c.api_token, &c.user_email).await {
                Ok(account) => (Some(account), None),
                Err(problem) => (None, Some(problem.to_string())),
            },
            Err(_) => (None, None),
        };
    let mut setups = Vec::new();
    for &plugin in crms::CRMS {
        let descriptor = plugin.descriptor();
        let installed = crms::installed_crm(plugin, env, &settings, &keychain);
        let setting = settings
            .crm_clients
            .get(descriptor.id)
            .cloned()
            .unwrap_or_default();
        let redirect_port = match &installed {
            Some(crm) => crm.redirect_port,
            None => setting.redirect_port.unwrap_or(descriptor.redirect_port),
        };
        setups.push(CrmSetup {
            crm: *descriptor,
            available: installed.is_some(),
            client_source: installed.as_ref().map(|crm| crm.source),
            pasted_client_id: setting.client_id,
            redirect_uri: crms::redirect_uri(redirect_port),
            redirect_port,
            connected: is_connected(installed.as_ref()).await,
        });
    }
    SetupView {
        demo_running,
        aircall,
        aircall_problem,
        crms: setups,
        connected_numbers: settings.connected_numbers,
    }
}

async fn is_connected(crm: Option<&crms::CrmEnv>) -> bool {
    match crm {
        Some(crm) => crms::keychain_session(crm, callcard_secrets::Keychain::app())
            .current()
            .await
            .is_ok(),
        None => false,
    }
}

/// Writes queued for one account of a CRM must not go to another: a sign-in
/// to a different account is refused while the old one's writes wait.
async fn refuse_account_switch(
    service: &Service,
    config: &crms::CrmEnv,
    trial: std::sync::Arc<callcard_oauth::Session>,
    settings: &callcard_core::Settings,
) -> Result<(), EngineError> {
    let descriptor = config.descriptor();
    let waiting = || {
        service
            .shared_store()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .accounts_with_waiting_writes(descriptor.id)
    };
    if waiting()?.is_empty() {
        return Ok(());
    }
    let connector = match crms::connector(config, trial, settings.region(), &service.shared_store()).await {
        Ok(connector) => connector,
        Err(error) => {
            // Nothing to compare with: the writes will go to the account they were queued for.
            tracing::warn!(%error, "cannot tell which {} account was signed in", descriptor.name);
            return Ok(());
        }
    };
    let account = connector.account().account;
    // Read again: connecting may have moved what an older Callcard kept
    // under another name for the account (JobAdder's OAuth client).
    let others: u64 = waiting()?
        .iter()
        .filter(|(queued_for, _)| *queued_for != account)
        .map(|(_, n)| n)
        .sum();
    if others > 0 {
        return Err(EngineError::AccountSwitch {
            crm: descriptor.name,
            waiting: others,
        });
    }
    Ok(())
}

/// An account the settings window lists, with its Disconnect button.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccountView {
    /// `aircall`, or a CRM's id.
    pub id: String,
    pub name: String,
    pub connected: bool,
    /// Whose account (the Aircall user's e-mail), when known.
    pub detail: String,
    /// Set by the environment, so not something Callcard can remove.
    pub set_by_environment: bool,
}

/// Aircall and every CRM, connected or not (no network call for Aircall).
pub async fn accounts(service: &Service, env: &Environment) -> Vec<AccountView> {
    let settings = service.settings();
    let keychain = callcard_secrets::Keychain::app();
    let aircall = aircall_account::aircall_from_env(env.lookup(), &keychain, &settings.aircall_user_email);
    let mut views = vec![AccountView {
        id: AIRCALL.to_owned(),
        name: "Aircall".to_owned(),
        connected: aircall.is_ok(),
        detail: aircall.map(|c| c.user_email).unwrap_or_default(),
        set_by_environment: env.var("CALLCARD_AIRCALL_API_TOKEN").is_some(),
    }];
    for &plugin in crms::CRMS {
        let descriptor = plugin.descriptor();
        let installed = crms::installed_crm(plugin, env, &settings, &keychain);
        views.push(AccountView {
            id: descriptor.id.to_owned(),
            name: descriptor.name.to_owned(),
            connected: is_connected(installed.as_ref()).await,
            detail: String::new(),
            set_by_environment: env.var(&refresh_token_variable(descriptor)).is_some(),
        });
    }
    views
}

const AIRCALL: &str = "aircall";

fn refresh_token_variable(crm: &CrmDescriptor) -> String {
    format!("{}_REFRESH_TOKEN", crm.env_prefix)
}

/// Disconnects an account: its secrets leave the keychain and call watching
/// starts again without it. Local history and what was written stay; a
/// CRM's queued writes wait (shown in the history) until it signs in again.
pub async fn disconnect(service: &Service, env: &Environment, account: &str) -> Result<(), EngineError> {
    let keychain = callcard_secrets::Keychain::app();
    if account == AIRCALL {
        if env.var("CALLCARD_AIRCALL_API_TOKEN").is_some() {
            return Err(EngineError::SetByEnvironment("Aircall"));
        }
        aircall_account::forget_api_key(&keychain).map_err(EngineError::Keychain)?;
    } else {
        let plugin = crms::find(account).ok_or_else(|| EngineError::UnknownAccount(account.to_owned()))?;
        let descriptor = plugin.descriptor();
        if env.var(&refresh_token_variable(descriptor)).is_some() {
            return Err(EngineError::SetByEnvironment(descriptor.name));
        }
        if let Some(crm) = crms::installed_crm(plugin, env, &service.settings(), &keychain) {
            crms::keychain_session(&crm, keychain)
                .disconnect()
                .await
                .map_err(|e| EngineError::Keychain(e.to_string()))?;
        }
    }
    tracing::info!(account, "disconnected");
    service.accounts_changed();
    Ok(())
}

/// Keeps an OAuth client an admin pasted: the id and the redirect port in
/// the settings, the secret (for a CRM that signs in with one) in the
/// keychain. A blank secret keeps the one already saved for that client.
pub fn save_crm_client(
    service: &Service,
    id: &str,
    client_id: &str,
    client_secret: &str,
    redirect_port: Option<u16>,
) -> Result<(), EngineError> {
    let plugin = crms::find(id).ok_or_else(|| EngineError::UnknownCrm(id.to_owned()))?;
    let descriptor = plugin.descriptor();
    let keychain = callcard_secrets::Keychain::app();
    let mut settings = service.settings();
    let before = settings.crm_clients.get(id).cloned().unwrap_or_default();
    let client_id = client_id.trim();
    let client_secret = client_secret.trim();
    let keeps_secret = client_secret.is_empty() && before.client_id == client_id;
    if client_id.is_empty()
        || (descriptor.sign_in == SignIn::ClientSecret && client_secret.is_empty() && !keeps_secret)
    {
        return Err(EngineError::CrmClientIncomplete(descriptor));
    }
    if descriptor.sign_in == SignIn::ClientSecret && !keeps_secret {
        crms::save_pasted_secret(plugin, &keychain, Some(client_secret))
            .map_err(|e| EngineError::Keychain(e.to_string()))?;
    }
    settings.crm_clients.insert(
        id.to_owned(),
        callcard_core::settings::CrmClientSetting {
            client_id: client_id.to_owned(),
            redirect_port: redirect_port.filter(|port| *port != descriptor.redirect_port),
        },
    );
    service.save_settings(&settings)?;
    Ok(())
}

/// A CRM's sign-in in the browser; the tokens go to the keychain and the
/// CRM is turned on in the settings.
pub async fn connect_crm(
    service: &Service,
    env: &Environment,
    id: &str,
    open: impl FnOnce(&str),
) -> Result<(), EngineError> {
    let plugin = crms::find(id).ok_or_else(|| EngineError::UnknownCrm(id.to_owned()))?;
    let keychain = callcard_secrets::Keychain::app();
    let mut settings = service.settings();
    let config = crms::installed_crm(plugin, env, &settings, &keychain)
        .ok_or(EngineError::CrmNotConfigured(plugin.descriptor()))?;
    // The new tokens stay in memory until the account they open is known.
    let trial = crms::memory_session(&config);
    let tokens = crms::sign_in(&config, &trial, open)
        .await
        .map_err(EngineError::SignIn)?;
    refuse_account_switch(service, &config, trial, &settings).await?;
    let session = crms::keychain_session(&config, keychain.clone());
    session
        .connect(tokens)
        .await
        .map_err(|e| EngineError::Keychain(e.to_string()))?;
    service.accounts_changed();
    for &other in crms::CRMS {
        // The CRM just connected is on; one that is not connected is off.
        let installed = crms::installed_crm(other, env, &settings, &keychain);
        let on = other.descriptor().id == id || is_connected(installed.as_ref()).await;
        settings.crms.set(other.descriptor(), on);
    }
    service.save_settings(&settings)?;
    Ok(())
}
