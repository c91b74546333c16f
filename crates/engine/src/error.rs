//! What an engine call can fail with. Each error has a stable code, so a
//! window can say it in the user's language rather than show an English
//! sentence built here.

use crate::lock::LockError;
use callcard_aircall::AircallError;
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
    #[error(
        "{} has no OAuth client in this installation: paste one in the connect window, or set {}",
        .0.name,
        crate::crms::required_variables(.0)
    )]
    CrmNotConfigured(&'static CrmDescriptor),
    #[error("Enter the client id of the {} OAuth client, and its secret.", .0.name)]
    CrmClientIncomplete(&'static CrmDescriptor),
    #[error("Enter the API id and the API token of an Aircall API key.")]
    AircallKeyMissing,
    #[error("{0}")]
    Aircall(#[from] callcard_aircall::AircallError),
    #[error("No Aircall user has the e-mail {0}.")]
    AircallNoUser(String),
    #[error("Aircall is not connected yet.")]
    AircallNotConnected,
    #[error("the keychain cannot keep it: {0}")]
    Keychain(String),
    #[error("the sign-in did not finish: {0}")]
    SignIn(String),
    #[error("{0} is not connected.")]
    CrmNotConnected(&'static str),
    #[error("An import is already running.")]
    ImportRunning,
    #[error("{0} is set up by this computer's environment, not in Callcard: remove it there.")]
    SetByEnvironment(&'static str),
    #[error(
        "This is another {crm} account than the one {waiting} log(s) are still waiting for. Sign in \
         to that account again so that they can go out, then switch."
    )]
    AccountSwitch { crm: &'static str, waiting: u64 },
    #[error("unknown account {0:?}")]
    UnknownAccount(String),
    #[error("Connect your accounts first: the test call needs them, and the demo is running.")]
    DemoRunning,
    #[error("{0}")]
    Hub(#[from] callcard_aircall::hub::HubError),
    #[error("{0}")]
    HubToken(String),
    #[error("This call link has expired or was answered already: open it again to call.")]
    DialExpired,
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
            Self::CrmClientIncomplete(_) => "crm_client_incomplete",
            Self::AircallKeyMissing => "aircall_key_missing",
            Self::Aircall(AircallError::Forbidden | AircallError::Unauthorized) => "aircall_key_refused",
            Self::Aircall(AircallError::Transport(_) | AircallError::Unavailable { .. }) => {
                "aircall_unreachable"
            }
            Self::Aircall(_) => "aircall_failed",
            Self::AircallNoUser(_) => "aircall_no_user",
            Self::AircallNotConnected => "aircall_not_connected",
            Self::Keychain(_) => "keychain",
            Self::SignIn(_) => "sign_in_failed",
            Self::CrmNotConnected(_) => "crm_not_connected",
            Self::ImportRunning => "import_running",
            Self::SetByEnvironment(_) => "set_by_environment",
            Self::AccountSwitch { .. } => "crm_account_switch",
            Self::UnknownAccount(_) => "unknown_account",
            Self::DemoRunning => "demo_running",
            Self::Hub(callcard_aircall::hub::HubError::Refused) => "hub_token_refused",
            Self::Hub(callcard_aircall::hub::HubError::Url(_)) => "hub_url_invalid",
            Self::Hub(_) => "hub_unreachable",
            Self::HubToken(_) => "hub_token_invalid",
            Self::DialExpired => "dial_expired",
        }
    }

    /// What the sentence is about (an e-mail, a CRM's name), for windows
    /// that say it in their own words.
    pub fn subject(&self) -> Option<String> {
        match self {
            Self::AircallNoUser(email) => Some(email.clone()),
            Self::CrmNotConfigured(crm) | Self::CrmClientIncomplete(crm) => Some(crm.name.to_owned()),
            Self::CrmNotConnected(name) => Some((*name).to_owned()),
            Self::UnknownCrm(id) | Self::UnknownAccount(id) => Some(id.clone()),
            Self::SetByEnvironment(name) => Some((*name).to_owned()),
            Self::AccountSwitch { crm, .. } => Some((*crm).to_owned()),
            Self::SignIn(detail) | Self::Keychain(detail) => Some(detail.clone()),
            _ => None,
        }
    }
}
