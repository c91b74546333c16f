//! The typed commands the windows may call, each a delegation to the engine.
//! Each window's capability in tauri.conf.json lists which of these it may use.

use callcard_core::call_log::Card;
use callcard_core::crm::{CrmDescriptor, RecordRef};
use callcard_core::history::History;
use callcard_core::settings::{FieldError, Limits, Settings, LIMITS};
use callcard_core::StoreError;
use callcard_engine::dial::DialToConfirm;
use callcard_engine::hub_account::HubView;
use callcard_engine::setup::{AccountView, AircallAccount, SetupView};
use callcard_engine::setup_check::{SetupReport, TestCall};
use callcard_engine::{Engine, EngineError, ImportView};
use serde::Serialize;
use std::sync::Arc;
use tauri::State;

type Result<T> = std::result::Result<T, CommandError>;

/// Every command's name. `build_app` registers these functions, build.rs
/// gives each a permission, the capabilities grant them per window, and the
/// UI's `Command` type is generated from this list; `contract.rs` checks
/// that all four agree.
#[cfg_attr(not(test), allow(dead_code))]
pub const NAMES: &[&str] = include!("command_names.rs");

/// The settings with the limits the form should enforce and the CRMs it lists.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SettingsView {
    pub settings: Settings,
    pub limits: Limits,
    pub crms: Vec<CrmDescriptor>,
    /// A team hub is followed: SMS, which only it brings, can be logged.
    pub has_hub: bool,
}

/// What the UI gets back when a command fails: field errors to show next to
/// their fields, or a message with a stable code.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandError {
    Invalid {
        fields: Vec<FieldError>,
    },
    Failed {
        code: &'static str,
        /// The English sentence, for logs and for a code a window does not know.
        message: String,
        /// What the sentence is about (an e-mail, a CRM's name).
        subject: Option<String>,
    },
}

impl From<EngineError> for CommandError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Store(StoreError::InvalidSettings(fields)) => Self::Invalid { fields },
            other => {
                tracing::error!(error = %other, "command failed");
                Self::Failed {
                    code: other.code(),
                    message: other.to_string(),
                    subject: other.subject(),
                }
            }
        }
    }
}

#[tauri::command]
pub fn get_settings(engine: State<'_, Arc<Engine>>) -> Result<SettingsView> {
    Ok(SettingsView {
        settings: engine.settings(),
        limits: LIMITS,
        crms: engine.crms(),
        has_hub: !engine.hub().url.is_empty(),
    })
}

#[tauri::command]
pub fn save_settings(engine: State<'_, Arc<Engine>>, settings: Settings) -> Result<SettingsView> {
    engine.save_settings(&settings)?;
    get_settings(engine)
}

/// A call's caller cards (one per CRM), for the card window: the call it
/// was opened for, or the one a `card_ready` event named.
#[tauri::command]
pub fn get_card(engine: State<'_, Arc<Engine>>, call_id: i64) -> Result<Vec<Card>> {
    Ok(engine.cards(call_id)?)
}

#[tauri::command]
pub fn choose_record(
    engine: State<'_, Arc<Engine>>,
    call_id: i64,
    crm: String,
    record: RecordRef,
) -> Result<bool> {
    Ok(engine.choose_record(call_id, &crm, &record)?)
}

#[tauri::command]
pub fn open_record(
    engine: State<'_, Arc<Engine>>,
    call_id: i64,
    crm: String,
    record: RecordRef,
    opportunity: Option<bool>,
) -> Result<()> {
    Ok(engine.open_record(call_id, &crm, &record, opportunity.unwrap_or(false))?)
}

#[tauri::command]
pub fn get_history(engine: State<'_, Arc<Engine>>) -> Result<History> {
    Ok(engine.history(100)?)
}

#[tauri::command]
pub fn retry_log(engine: State<'_, Arc<Engine>>, id: i64) -> Result<bool> {
    Ok(engine.retry_log(id)?)
}

#[tauri::command]
pub fn open_log(engine: State<'_, Arc<Engine>>, id: i64) -> Result<()> {
    Ok(engine.open_log(id)?)
}

#[tauri::command]
pub async fn get_setup(engine: State<'_, Arc<Engine>>) -> Result<SetupView> {
    Ok(engine.setup_view().await)
}

#[tauri::command]
pub async fn connect_aircall(
    engine: State<'_, Arc<Engine>>,
    api_id: String,
    api_token: String,
    email: String,
) -> Result<AircallAccount> {
    Ok(engine.connect_aircall(&api_id, &api_token, &email).await?)
}

/// A CRM's sign-in in the browser (`crm`: the id in its descriptor).
#[tauri::command]
pub async fn connect_crm(engine: State<'_, Arc<Engine>>, crm: String) -> Result<()> {
    Ok(engine.connect_crm(&crm).await?)
}

/// "Check my setup": every credential, a sample lookup, the data-health report.
#[tauri::command]
pub async fn check_setup(engine: State<'_, Arc<Engine>>) -> Result<SetupReport> {
    Ok(engine.check_setup().await)
}

/// Waits (up to three minutes) for the card of the call the user makes to their Aircall number.
#[tauri::command]
pub async fn test_call(engine: State<'_, Arc<Engine>>) -> Result<TestCall> {
    Ok(engine.test_call(std::time::Duration::from_secs(180)).await?)
}

/// Opens the setup check's window (the connect window's last step).
#[tauri::command]
pub fn open_check<R: tauri::Runtime>(app: tauri::AppHandle<R>, engine: State<'_, Arc<Engine>>) -> Result<()> {
    crate::windows::open(&app, crate::windows::WindowKind::Check, engine.language()).map_err(|error| {
        CommandError::Failed {
            code: "window",
            message: format!("cannot open the setup check: {error}"),
            subject: None,
        }
    })
}

/// Opens a record's page the setup check listed (http and https only).
#[tauri::command]
pub fn open_link(engine: State<'_, Arc<Engine>>, link: String) -> Result<()> {
    Ok(engine.open_link(&link)?)
}

/// Aircall and every CRM, connected or not (the settings window's accounts).
#[tauri::command]
pub async fn get_accounts(engine: State<'_, Arc<Engine>>) -> Result<Vec<AccountView>> {
    Ok(engine.accounts().await)
}

/// Disconnects an account (`aircall` or a CRM's id): its secrets leave the keychain.
#[tauri::command]
pub async fn disconnect_account(engine: State<'_, Arc<Engine>>, account: String) -> Result<()> {
    Ok(engine.disconnect(&account).await?)
}

/// The team hub this computer follows, and where calls come from now.
#[tauri::command]
pub fn get_hub(engine: State<'_, Arc<Engine>>) -> Result<HubView> {
    Ok(engine.hub())
}

/// Follows a team hub with this computer's token (tried first, then kept in
/// the keychain; a blank token keeps the saved one).
#[tauri::command]
pub async fn connect_hub(engine: State<'_, Arc<Engine>>, url: String, token: String) -> Result<()> {
    Ok(engine.connect_hub(&url, &token).await?)
}

/// Stops following the team hub: its token leaves the keychain.
#[tauri::command]
pub fn disconnect_hub(engine: State<'_, Arc<Engine>>) -> Result<()> {
    Ok(engine.disconnect_hub()?)
}

/// Keeps an OAuth client an admin pasted for a CRM (the secret goes to the
/// keychain; a blank one keeps the saved secret of the same client).
#[tauri::command]
pub fn save_crm_client(
    engine: State<'_, Arc<Engine>>,
    crm: String,
    client_id: String,
    client_secret: String,
    redirect_port: Option<u16>,
) -> Result<()> {
    Ok(engine.save_crm_client(&crm, &client_id, &client_secret, redirect_port)?)
}

/// Keeps the numbers to follow, then restarts with the connected accounts
/// (which replaces the demo).
#[tauri::command]
pub fn finish_setup<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    engine: State<'_, Arc<Engine>>,
    numbers: Vec<i64>,
) -> Result<()> {
    engine.finish_setup(numbers)?;
    tracing::info!("accounts connected: restarting");
    app.restart()
}

#[tauri::command]
pub fn call_back(engine: State<'_, Arc<Engine>>, call_id: i64) -> Result<()> {
    Ok(engine.call_back(call_id)?)
}

/// The link waiting for the user's yes before it starts a call.
#[tauri::command]
pub fn get_dial_to_confirm(engine: State<'_, Arc<Engine>>) -> Option<DialToConfirm> {
    engine.dial_to_confirm()
}

/// The user's answer about a link: `call` starts the call.
#[tauri::command]
pub fn answer_dial(engine: State<'_, Arc<Engine>>, id: u32, call: bool) -> Result<()> {
    Ok(engine.answer_dial(id, call)?)
}

#[tauri::command]
pub fn get_imports(engine: State<'_, Arc<Engine>>) -> Result<ImportView> {
    Ok(engine.imports()?)
}

#[tauri::command]
pub fn import_contacts(engine: State<'_, Arc<Engine>>) -> Result<()> {
    Ok(engine.import_contacts()?)
}
