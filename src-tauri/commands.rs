//! The typed commands the windows may call. Each window's capability in
//! tauri.conf.json lists which of these it may use.

use callcard_core::settings::{FieldError, Limits, Settings, LIMITS};
use callcard_core::{Service, StoreError};
use serde::Serialize;
use std::sync::Arc;
use tauri::State;

/// The settings with the limits the form should enforce.
#[derive(Debug, Serialize)]
pub struct SettingsView {
    pub settings: Settings,
    pub limits: Limits,
}

/// What the UI gets back when a command fails: field errors to show next to
/// their fields, or a message.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandError {
    Invalid { fields: Vec<FieldError> },
    Failed { message: String },
}

impl From<StoreError> for CommandError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidSettings(fields) => Self::Invalid { fields },
            other => {
                tracing::error!(error = %other, "command failed");
                Self::Failed {
                    message: other.to_string(),
                }
            }
        }
    }
}

#[tauri::command]
pub fn get_settings(service: State<'_, Arc<Service>>) -> Result<SettingsView, CommandError> {
    Ok(SettingsView {
        settings: service.settings()?,
        limits: LIMITS,
    })
}

#[tauri::command]
pub fn save_settings(
    service: State<'_, Arc<Service>>,
    settings: Settings,
) -> Result<SettingsView, CommandError> {
    service.save_settings(&settings)?;
    get_settings(service)
}

/// The newest call's caller cards (one per CRM), for the card window.
#[tauri::command]
pub fn get_card(
    service: State<'_, Arc<Service>>,
) -> Result<Vec<callcard_core::call_log::Card>, CommandError> {
    let store = service.shared_store();
    let store = store.lock().map_err(|_| CommandError::Failed {
        message: "the store is unavailable".into(),
    })?;
    match store.recent_cards(1)?.into_iter().next() {
        Some((newest, _)) => Ok(store.cards(newest.call_id)?),
        None => Ok(Vec::new()),
    }
}

/// The user picked the record the call is about in one CRM: used for its
/// log and remembered for the number. Only one of the card's matches can be picked.
#[tauri::command]
pub fn choose_record(
    service: State<'_, Arc<Service>>,
    call_id: i64,
    crm: String,
    record: callcard_core::crm::RecordRef,
) -> Result<bool, CommandError> {
    let store = service.shared_store();
    let store = store.lock().map_err(|_| CommandError::Failed {
        message: "the store is unavailable".into(),
    })?;
    Ok(store.choose(call_id, &crm, &record)?)
}

/// Opens a card record's page in the browser. The link is read from the
/// stored card, never taken from the window, so a page cannot open anything else.
#[tauri::command]
pub fn open_record(
    service: State<'_, Arc<Service>>,
    call_id: i64,
    crm: String,
    record: callcard_core::crm::RecordRef,
    opportunity: Option<bool>,
) -> Result<(), CommandError> {
    let store = service.shared_store();
    let link = {
        let store = store.lock().map_err(|_| CommandError::Failed {
            message: "the store is unavailable".into(),
        })?;
        let found = store
            .card(call_id, &crm)?
            .and_then(|card| card.matches.into_iter().find(|m| m.record == record));
        // The record's own page, or its opportunity's (Sellsy).
        match opportunity {
            Some(true) => found.and_then(|m| m.opportunity).and_then(|o| o.link),
            _ => found.and_then(|m| m.link),
        }
    };
    match link.filter(|l| l.starts_with("https://") || l.starts_with("http://")) {
        Some(link) => {
            crate::crm_connection::open_in_browser(&link);
            Ok(())
        }
        None => Err(CommandError::Failed {
            message: "this record has no link".into(),
        }),
    }
}

/// The recent calls and what was logged where, for the history window.
#[tauri::command]
pub fn get_history(
    service: State<'_, Arc<Service>>,
) -> Result<callcard_core::history::History, CommandError> {
    Ok(service.history(100)?)
}

/// The history's Retry button on a failed log.
#[tauri::command]
pub fn retry_log(service: State<'_, Arc<Service>>, id: i64) -> Result<bool, CommandError> {
    Ok(service.retry_outbox_item(id)?)
}

/// Opens a written note or activity. The link comes from the store.
#[tauri::command]
pub fn open_log(service: State<'_, Arc<Service>>, id: i64) -> Result<(), CommandError> {
    let store = service.shared_store();
    let link = {
        let store = store.lock().map_err(|_| CommandError::Failed {
            message: "the store is unavailable".into(),
        })?;
        store
            .outbox_item(id)?
            .and_then(|item| item.remote)
            .and_then(|r| r.link)
    };
    match link.filter(|l| l.starts_with("https://") || l.starts_with("http://")) {
        Some(link) => {
            crate::crm_connection::open_in_browser(&link);
            Ok(())
        }
        None => Err(CommandError::Failed {
            message: "nothing to open for this log yet".into(),
        }),
    }
}

/// The demo, when it runs: the connect window says so and may stop it.
pub struct DemoState(pub Option<crate::demo::DemoHandle>);

#[tauri::command]
pub async fn get_setup(
    service: State<'_, Arc<Service>>,
    demo: State<'_, DemoState>,
) -> Result<crate::setup::SetupView, CommandError> {
    let running = demo.0.as_ref().is_some_and(|d| d.is_running());
    Ok(crate::setup::view(&service, running).await)
}

#[tauri::command]
pub async fn connect_aircall(
    service: State<'_, Arc<Service>>,
    api_id: String,
    api_token: String,
    email: String,
) -> Result<crate::setup::AircallAccount, CommandError> {
    crate::setup::connect_aircall(&service, &api_id, &api_token, &email)
        .await
        .map_err(|message| CommandError::Failed { message })
}

#[tauri::command]
pub async fn connect_jobadder(service: State<'_, Arc<Service>>) -> Result<(), CommandError> {
    crate::setup::connect_crm(&service, crate::crm_connection::CrmKind::JobAdder)
        .await
        .map_err(|message| CommandError::Failed { message })
}

#[tauri::command]
pub async fn connect_sellsy(service: State<'_, Arc<Service>>) -> Result<(), CommandError> {
    crate::setup::connect_crm(&service, crate::crm_connection::CrmKind::Sellsy)
        .await
        .map_err(|message| CommandError::Failed { message })
}

/// Keeps the numbers to follow, then restarts with the connected accounts
/// (which replaces the demo).
#[tauri::command]
pub fn finish_setup<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    service: State<'_, Arc<Service>>,
    numbers: Vec<i64>,
) -> Result<(), CommandError> {
    let mut settings = service.settings()?;
    settings.connected_numbers = numbers;
    service.save_settings(&settings)?;
    tracing::info!("accounts connected: restarting");
    app.restart()
}

/// "Call back" on the card: dials the card's number through Aircall, as a
/// `tel:` link would. The number is read from the stored card, not the page.
#[tauri::command]
pub fn call_back(
    service: State<'_, Arc<Service>>,
    session: State<'_, crate::calls::SharedSession>,
    call_id: i64,
) -> Result<(), CommandError> {
    let number = {
        let store = service.shared_store();
        let store = store.lock().map_err(|_| CommandError::Failed {
            message: "the store is unavailable".into(),
        })?;
        store.cards(call_id)?.into_iter().next().map(|card| card.number)
    };
    match number.filter(|n| !n.is_empty()) {
        Some(number) => {
            crate::handle_link(&service, &session, format!("tel:{number}"));
            Ok(())
        }
        None => Err(CommandError::Failed {
            message: "no number to call back".into(),
        }),
    }
}

/// What the settings window shows of contact imports.
#[derive(Debug, Serialize)]
pub struct ImportView {
    pub running: bool,
    /// Whether a CRM that can import (Sellsy) is connected.
    pub available: bool,
    pub imports: Vec<callcard_core::contact_import::ImportProgress>,
}

#[tauri::command]
pub fn get_imports(
    service: State<'_, Arc<Service>>,
    logs: State<'_, crate::calls::SharedLogs>,
    running: State<'_, crate::contacts::ImportRunning>,
) -> Result<ImportView, CommandError> {
    let store = service.shared_store();
    let imports = store
        .lock()
        .map_err(|_| CommandError::Failed {
            message: "the store is unavailable".into(),
        })?
        .imports()?;
    let available = crate::calls::sellsy_log(&logs).is_some();
    Ok(ImportView {
        running: running.0.load(std::sync::atomic::Ordering::SeqCst),
        available,
        imports,
    })
}

/// "Import existing contacts": Sellsy's contacts into Aircall, in the background.
#[tauri::command]
pub fn import_contacts(
    service: State<'_, Arc<Service>>,
    logs: State<'_, crate::calls::SharedLogs>,
    session: State<'_, crate::calls::SharedSession>,
    running: State<'_, crate::contacts::ImportRunning>,
) -> Result<(), CommandError> {
    crate::contacts::start_import(&service, &logs, &session, &running)
        .map_err(|message| CommandError::Failed { message })
}
