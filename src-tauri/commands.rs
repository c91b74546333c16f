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
