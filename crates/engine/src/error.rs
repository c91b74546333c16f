//! What an engine call can fail with. Each error has a stable code, so a
//! window can say it in the user's language rather than show an English
//! sentence built here.

use crate::lock::LockError;
use callcard_core::crm::CrmDescriptor;
use callcard_core::service::ServiceError;
use callcard_core::StoreError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("cannot open the events file {path}: {source}")]
    EventsFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the store is unavailable")]
    StoreUnavailable,
    #[error("this record has no link")]
    NoLink,
    #[error("nothing to open for this log yet")]
    NothingToOpen,
    #[error("no number to call back")]
    NoNumber,
    #[error("unknown CRM {0:?}: use {known}", known = crate::crms::descriptors().iter().map(|d| d.id).collect::<Vec<_>>().join(" or "))]
    UnknownCrm(String),
    #[error("{} is not configured: set {}", .0.name, crate::crms::required_variables(.0))]
    CrmNotConfigured(&'static CrmDescriptor),
    /// A step that explains itself (a refused key, a sign-in that failed).
    #[error("{0}")]
    Failed(String),
}

impl EngineError {
    /// A stable code for windows to translate.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(StoreError::InvalidSettings(_)) => "invalid_settings",
            Self::Store(_) | Self::Service(_) | Self::StoreUnavailable => "storage",
            Self::Locked(_) => "data_folder_in_use",
            Self::EventsFile { .. } => "events_file",
            Self::NoLink => "no_link",
            Self::NothingToOpen => "nothing_to_open",
            Self::NoNumber => "no_number",
            Self::UnknownCrm(_) => "unknown_crm",
            Self::CrmNotConfigured(_) => "crm_not_configured",
            Self::Failed(_) => "failed",
        }
    }
}
