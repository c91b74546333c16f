//! What the tray and the history say about Callcard's state, as codes.
//!
//! A trouble or a CRM's wait is a value with a code (and the CRM it is
//! about), never an English sentence: each window and the tray translate
//! it where it is shown, and a trouble is cleared by its code, so no text
//! change can leave the tray red.

use serde::Serialize;

/// What the tray's status line and icon show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum Status {
    Running,
    /// Logging paused by the user: calls are still seen, nothing is written.
    Paused,
    /// Something needs the user: an expired login, a failing outbox.
    Trouble(Trouble),
}

/// Something that needs the user, by code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Trouble {
    /// The saved settings cannot be read: the defaults run until a save.
    UnreadableSettings,
    /// Some logs could not be written: History has them, with Retry.
    FailedLogs,
    /// A CRM's sign-in lapsed: its calls wait for a new one.
    CrmNeedsSignIn {
        /// The CRM's id.
        crm: String,
    },
    /// A CRM cannot be reached: its calls wait.
    CrmUnreachable { crm: String },
    /// The team hub has been away too long: calls are polled meanwhile.
    HubLost,
    /// The team hub refused this computer's token.
    HubRefused,
    /// The team hub's log was reset or restored from a backup: Callcard
    /// caught up and, for a day, looks each log up in the CRM before
    /// writing it (the hub's claims may have forgotten writes).
    HubLogReplaced,
    /// The team hub has not answered claims for long: logs are written
    /// without it (each computer's turn, a look in the CRM first).
    HubClaimsAway,
}

impl Trouble {
    /// The message catalogue's key for it (`ui/src/i18n`), whose text may
    /// name the CRM as `{crm}`.
    pub fn key(&self) -> &'static str {
        match self {
            Self::UnreadableSettings => "trouble.unreadable_settings",
            Self::FailedLogs => "trouble.failed_logs",
            Self::CrmNeedsSignIn { .. } => "trouble.crm_needs_sign_in",
            Self::CrmUnreachable { .. } => "trouble.crm_unreachable",
            Self::HubLost => "trouble.hub_lost",
            Self::HubRefused => "trouble.hub_refused",
            Self::HubLogReplaced => "trouble.hub_log_replaced",
            Self::HubClaimsAway => "trouble.hub_claims_away",
        }
    }

    /// The CRM it is about, if any (its id).
    pub fn crm(&self) -> Option<&str> {
        match self {
            Self::CrmNeedsSignIn { crm } | Self::CrmUnreachable { crm } => Some(crm),
            _ => None,
        }
    }
}

/// Why a selected CRM cannot take writes now (the history says it beside
/// the number of calls waiting for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CrmWait {
    /// Its sign-in lapsed: a new sign-in sends what waits.
    NeedsSignIn,
    /// It answered errors to the last write: tried again shortly.
    NotAnswering,
    /// It could not be reached to sign in: tried again shortly.
    Unreachable,
}

impl CrmWait {
    /// The message catalogue's key for it.
    pub fn key(self) -> &'static str {
        match self {
            Self::NeedsSignIn => "waiting.needs_sign_in",
            Self::NotAnswering => "waiting.not_answering",
            Self::Unreachable => "waiting.unreachable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trouble_travels_as_a_code_with_the_crm_it_is_about() {
        let status = Status::Trouble(Trouble::CrmNeedsSignIn { crm: "sellsy".into() });
        assert_eq!(
            serde_json::to_value(&status).unwrap(),
            serde_json::json!({"state": "trouble", "reason": {"code": "crm_needs_sign_in", "crm": "sellsy"}})
        );
        assert_eq!(
            serde_json::to_value(Status::Trouble(Trouble::HubLost)).unwrap(),
            serde_json::json!({"state": "trouble", "reason": {"code": "hub_lost"}})
        );
        assert_eq!(
            serde_json::to_value(CrmWait::NotAnswering).unwrap(),
            "not_answering"
        );
    }

    #[test]
    fn every_code_has_its_own_catalogue_key() {
        let all = [
            Trouble::UnreadableSettings,
            Trouble::FailedLogs,
            Trouble::CrmNeedsSignIn { crm: "x".into() },
            Trouble::CrmUnreachable { crm: "x".into() },
            Trouble::HubLost,
            Trouble::HubRefused,
            Trouble::HubLogReplaced,
            Trouble::HubClaimsAway,
        ];
        let keys: std::collections::BTreeSet<_> = all.iter().map(Trouble::key).collect();
        assert_eq!(keys.len(), all.len());
        assert_eq!(all[2].crm(), Some("x"));
        assert_eq!(Trouble::HubLost.crm(), None);
    }
}
