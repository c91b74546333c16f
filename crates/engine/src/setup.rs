//! The connect window (first run, and "Connect accounts…" in the tray): an
//! Aircall API key checked against Aircall and saved to the keychain, the
//! JobAdder and Sellsy sign-ins in the browser, the numbers to follow, and a
//! self-test.
//! Connecting replaces the demo: the app restarts with the accounts.

use crate::aircall_account;
use crate::crms;
use crate::environment::Environment;
use crate::EngineError;
use callcard_aircall::Aircall;
use callcard_core::crm::CrmDescriptor;
use callcard_core::Service;
use callcard_crm_http::CrmPlugin;
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
        setups.push(CrmSetup {
            crm: *plugin.descriptor(),
            available: crms::crm_env(plugin, env.lookup()).is_some(),
            connected: is_connected(env, plugin).await,
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

async fn is_connected(env: &Environment, plugin: &'static dyn CrmPlugin) -> bool {
    match crms::crm_env(plugin, env.lookup()) {
        Some(config) => crms::keychain_session(&config, callcard_secrets::Keychain::app())
            .current()
            .await
            .is_ok(),
        None => false,
    }
}

/// A CRM's sign-in in the browser; the tokens go to the keychain and the
/// CRM is turned on in the settings.
pub async fn connect_crm(service: &Service, env: &Environment, id: &str) -> Result<(), EngineError> {
    let plugin = crms::find(id).ok_or_else(|| EngineError::UnknownCrm(id.to_owned()))?;
    let config =
        crms::crm_env(plugin, env.lookup()).ok_or(EngineError::CrmNotConfigured(plugin.descriptor()))?;
    let session = crms::keychain_session(&config, callcard_secrets::Keychain::app());
    crms::sign_in(&config, &session, crms::open_in_browser)
        .await
        .map_err(EngineError::SignIn)?;
    let mut settings = service.settings();
    for &other in crms::CRMS {
        // The CRM just connected is on; one that is not connected is off.
        let on = other.descriptor().id == id || is_connected(env, other).await;
        settings.crms.set(other.descriptor(), on);
    }
    service.save_settings(&settings)?;
    Ok(())
}
