//! What a CRM says about itself, and its id: plain data that the settings,
//! the engine's registry and the windows go through instead of naming CRMs.

use serde::{Deserialize, Serialize};

/// A CRM's id: its name in settings, keys and outbox rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CrmId(String);

impl CrmId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for CrmId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CrmId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a person signs in to a CRM (OAuth 2 authorization code either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SignIn {
    /// With the client secret of the deployer's partner app.
    ClientSecret,
    /// A public client proves itself with PKCE.
    Pkce,
}

/// How a CRM's people reach Aircall's contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ContactSyncMode {
    /// The caller's record, each time they call (the CRM has no change feed
    /// worth following for this).
    OnEachCall,
    /// Contacts created or changed since the connection, after each refresh
    /// of the phone index.
    ChangedContacts,
}

/// What a CRM crate tells the rest of the app about itself: the engine, the
/// settings and the windows go through these instead of naming CRMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CrmDescriptor {
    /// The [`CrmId`] in settings, keys and outbox rows.
    pub id: &'static str,
    /// How people know it.
    pub name: &'static str,
    /// Its `CALLCARD_*` variables start with this (`_CLIENT_ID`, `_API_URL`, …).
    pub env_prefix: &'static str,
    pub sign_in: SignIn,
    /// The loopback port its sign-in comes back to unless the installation
    /// chooses another: `http://127.0.0.1:<port>/callback` is the redirect
    /// URI to register with the CRM (JobAdder matches it exactly).
    pub redirect_port: u16,
    pub contact_sync: ContactSyncMode,
    /// Whether its existing contacts can be imported into Aircall.
    pub imports_contacts: bool,
    /// Selected in a new installation's settings.
    pub selected_by_default: bool,
}
