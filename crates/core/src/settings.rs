//! The user's settings (DESIGN §1.8): what they are, their defaults, and what
//! values are allowed. Nothing here is secret: credentials live in the
//! keychain, never in settings.
//!
//! Validation reports every bad field at once, by field name, so that a form
//! can show each error next to its field.

use crate::crm_descriptor::{CrmDescriptor, CrmId};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Which CRMs the app logs to, by CRM id (several may be on at once). A
/// selection that names no CRM (a new installation) selects each CRM's
/// default; once one is named, a CRM not named is off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CrmSelection(BTreeMap<CrmId, bool>);

impl CrmSelection {
    /// Exactly these CRMs on, every other one off.
    pub fn only<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        Self(ids.into_iter().map(|id| (CrmId::new(id), true)).collect())
    }

    pub fn selects(&self, crm: &CrmDescriptor) -> bool {
        if self.0.is_empty() {
            return crm.selected_by_default;
        }
        self.0.get(crm.id).copied().unwrap_or(false)
    }

    /// Turns one CRM on or off. Once a CRM is named the defaults no longer
    /// apply, so a caller that changes one CRM of a new installation names
    /// them all (as the connect window does), or starts from [`Self::filled`].
    pub fn set(&mut self, crm: &CrmDescriptor, on: bool) {
        self.0.insert(CrmId::new(crm.id), on);
    }

    /// Every CRM of `all` named, on or off as now.
    pub fn filled(&self, all: &[&CrmDescriptor]) -> Self {
        let mut filled = self.0.clone();
        for crm in all {
            filled.insert(CrmId::new(crm.id), self.selects(crm));
        }
        Self(filled)
    }

    fn turns_every_crm_off(&self) -> bool {
        !self.0.is_empty() && !self.0.values().any(|on| *on)
    }
}

/// Which CRMs' contacts are brought into Aircall, by CRM id; a CRM not
/// named is. (Rows saved before CRMs were named by id say
/// `<id>_to_aircall`; they read the same.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ContactSync(BTreeMap<CrmId, bool>);

impl ContactSync {
    pub fn is_on(&self, crm: &CrmDescriptor) -> bool {
        self.0.get(crm.id).copied().unwrap_or(true)
    }

    pub fn set(&mut self, crm: &CrmDescriptor, on: bool) {
        self.0.insert(CrmId::new(crm.id), on);
    }

    /// Every CRM of `all` named, on or off as now.
    pub fn filled(&self, all: &[&CrmDescriptor]) -> Self {
        let mut filled = self.0.clone();
        for crm in all {
            filled.insert(CrmId::new(crm.id), self.is_on(crm));
        }
        Self(filled)
    }
}

impl<'de> Deserialize<'de> for ContactSync {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = BTreeMap::<String, bool>::deserialize(deserializer)?;
        Ok(Self(
            stored
                .into_iter()
                .map(|(key, on)| {
                    let id = key.strip_suffix("_to_aircall").unwrap_or(&key);
                    (CrmId::new(id), on)
                })
                .collect(),
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SmsMode {
    /// Messages with one person join the same note while it is recent and short enough.
    #[default]
    Conversation,
    OneNotePerSms,
    Off,
}

/// What to do when two records of the same type share the caller's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DuplicateRule {
    #[default]
    MostRecentlyUpdated,
    DoNothing,
}

/// How a `tel:` link reaches Aircall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DialMode {
    /// `POST /v1/users/{id}/dial`: Aircall Workspace opens with the number filled in.
    #[default]
    Prefill,
    /// `POST /v1/users/{id}/calls`: the call starts at once.
    StartCall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    En,
    Fr,
    De,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Settings {
    #[cfg_attr(feature = "ts", ts(type = "Record<string, boolean>"))]
    pub crms: CrmSelection,
    /// The e-mail of the Aircall user at this computer; resolved to a user id.
    pub aircall_user_email: String,
    /// Aircall number ids whose calls are handled; others are ignored.
    pub connected_numbers: Vec<i64>,
    pub log_ai_info: bool,
    pub log_recording_link: bool,
    pub sms_mode: SmsMode,
    /// The CRM publishes no maximum note length, so the joined SMS note is capped here.
    pub sms_note_max_chars: u32,
    pub duplicate_rule: DuplicateRule,
    #[cfg_attr(feature = "ts", ts(type = "Record<string, boolean>"))]
    pub contact_sync: ContactSync,
    /// Aircall completes tags, notes and duration about 30 s after hang-up.
    pub settle_delay_secs: u32,
    /// How far back catch-up looks after sleep, offline time or a restart.
    pub look_back_days: u32,
    /// How long to wait for AI data before giving up on updating the log.
    pub ai_wait_minutes: u32,
    /// ISO 3166 region used to read numbers stored without a country code.
    pub default_region: String,
    /// This computer's share of the company-wide Aircall rate limit.
    pub polling_budget_per_minute: u32,
    /// Registering for `tel:` replaces the user's current handler, so it is opt-in.
    pub handle_tel_links: bool,
    pub dial_mode: DialMode,
    pub start_at_login: bool,
    pub language: Language,
    /// OAuth clients an admin pasted into the connect window, by CRM id (the
    /// secret, when there is one, is in the keychain). The environment and a
    /// client built into the app come first.
    pub crm_clients: std::collections::BTreeMap<String, CrmClientSetting>,
    /// The company's team hub (`https://…`), empty for none: calls then come
    /// from its stream instead of polling. This computer's token for it is
    /// in the keychain.
    pub team_hub_url: String,
    /// How many days written logs, cards and finished calls are kept on this
    /// computer (what is still to be written is kept whatever its age).
    pub retention_days: u32,
}

/// A CRM's OAuth client as the connect window keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct CrmClientSetting {
    /// Empty: none pasted (the CRM's redirect port may still be chosen).
    pub client_id: String,
    /// The loopback port of the registered redirect URI; `None` for the CRM's default.
    pub redirect_port: Option<u16>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            crms: CrmSelection::default(),
            aircall_user_email: String::new(),
            connected_numbers: Vec::new(),
            log_ai_info: true,
            log_recording_link: false,
            sms_mode: SmsMode::default(),
            sms_note_max_chars: 8_000,
            duplicate_rule: DuplicateRule::default(),
            contact_sync: ContactSync::default(),
            settle_delay_secs: 60,
            look_back_days: 7,
            ai_wait_minutes: 30,
            default_region: "GB".to_owned(),
            // A 60/min company limit shared by about six people.
            polling_budget_per_minute: 10,
            handle_tel_links: false,
            dial_mode: DialMode::default(),
            start_at_login: false,
            language: Language::default(),
            crm_clients: Default::default(),
            team_hub_url: String::new(),
            retention_days: 90,
        }
    }
}

/// The allowed range of a numeric setting, shared with the UI so that the
/// form's limits and the core's checks cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Range {
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Limits {
    pub sms_note_max_chars: Range,
    pub settle_delay_secs: Range,
    pub look_back_days: Range,
    pub ai_wait_minutes: Range,
    pub polling_budget_per_minute: Range,
    pub retention_days: Range,
}

pub const LIMITS: Limits = Limits {
    sms_note_max_chars: Range {
        min: 200,
        max: 100_000,
    },
    settle_delay_secs: Range { min: 0, max: 600 },
    // Aircall keeps about six months of calls.
    look_back_days: Range { min: 1, max: 180 },
    ai_wait_minutes: Range { min: 0, max: 240 },
    // Aircall's documented company limit is 120/min at most.
    polling_budget_per_minute: Range { min: 1, max: 120 },
    // At least a week: catch-up reads a little before its checkpoint, and
    // what it finds must still be known as logged.
    retention_days: Range { min: 7, max: 3650 },
};

/// One invalid field: which, why (a stable code the UI translates), and an
/// English message for logs and for the headless mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Settings {
    /// Every problem, not just the first.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut in_range = |field: &'static str, value: u32, range: Range| {
            if value < range.min || value > range.max {
                errors.push(FieldError {
                    field,
                    code: "out_of_range",
                    message: format!("must be between {} and {}", range.min, range.max),
                });
            }
        };
        in_range(
            "sms_note_max_chars",
            self.sms_note_max_chars,
            LIMITS.sms_note_max_chars,
        );
        in_range(
            "settle_delay_secs",
            self.settle_delay_secs,
            LIMITS.settle_delay_secs,
        );
        in_range("look_back_days", self.look_back_days, LIMITS.look_back_days);
        in_range("ai_wait_minutes", self.ai_wait_minutes, LIMITS.ai_wait_minutes);
        in_range(
            "polling_budget_per_minute",
            self.polling_budget_per_minute,
            LIMITS.polling_budget_per_minute,
        );
        in_range("retention_days", self.retention_days, LIMITS.retention_days);

        if !is_known_region(&self.default_region) {
            errors.push(FieldError {
                field: "default_region",
                code: "unknown_region",
                message: format!("{:?} is not a two-letter country code", self.default_region),
            });
        }
        if !self.aircall_user_email.is_empty() && !looks_like_email(&self.aircall_user_email) {
            errors.push(FieldError {
                field: "aircall_user_email",
                code: "invalid_email",
                message: "is not an e-mail address".to_owned(),
            });
        }
        if let Some((crm, _)) = self
            .crm_clients
            .iter()
            .find(|(_, client)| matches!(client.redirect_port, Some(port) if port < 1024))
        {
            errors.push(FieldError {
                field: "crm_clients",
                code: "invalid_port",
                message: format!("{crm}: the redirect port must be between 1024 and 65535"),
            });
        }
        let hub = self.team_hub_url.trim();
        if !(hub.is_empty() || hub.starts_with("https://") || hub.starts_with("http://")) {
            errors.push(FieldError {
                field: "team_hub_url",
                code: "invalid_url",
                message: "the team hub's address starts with https://".to_owned(),
            });
        }
        if let Some(bad) = self.connected_numbers.iter().find(|id| **id <= 0) {
            errors.push(FieldError {
                field: "connected_numbers",
                code: "invalid_number_id",
                message: format!("{bad} is not an Aircall number id"),
            });
        }
        if self.crms.turns_every_crm_off() {
            errors.push(FieldError {
                field: "crms",
                code: "no_crm",
                message: "choose at least one CRM".to_owned(),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

impl Settings {
    /// The default country, parsed: `None` when it names none (the
    /// validation keeps such a value from being saved).
    pub fn region(&self) -> Option<crate::phone::Region> {
        crate::phone::Region::parse(&self.default_region).ok()
    }
}

fn is_known_region(code: &str) -> bool {
    code.len() == 2
        && code.bytes().all(|b| b.is_ascii_uppercase())
        && phonenumber::country::Id::from_str(code).is_ok()
}

/// A deliberately loose check: the real test is Aircall resolving the address.
fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<(), Vec<FieldError>>) -> Vec<&'static str> {
        result.err().unwrap_or_default().iter().map(|e| e.field).collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Settings::default().validate(), Ok(()));
    }

    #[test]
    fn defaults_follow_the_design() {
        let s = Settings::default();
        assert_eq!(s.settle_delay_secs, 60);
        assert_eq!(s.look_back_days, 7);
        assert_eq!(s.ai_wait_minutes, 30);
        assert!(
            !s.handle_tel_links,
            "tel: handling replaces the user's handler: opt-in"
        );
        assert!(
            s.polling_budget_per_minute * 5 <= 60,
            "default leaves room for colleagues"
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let s = Settings {
            settle_delay_secs: 601,
            polling_budget_per_minute: 0,
            default_region: "XX".into(),
            aircall_user_email: "not an email".into(),
            ..Settings::default()
        };
        assert_eq!(
            fields(s.validate()),
            [
                "settle_delay_secs",
                "polling_budget_per_minute",
                "default_region",
                "aircall_user_email"
            ]
        );
    }

    #[test]
    fn range_limits_are_inclusive() {
        let at_max = Settings {
            settle_delay_secs: LIMITS.settle_delay_secs.max,
            look_back_days: LIMITS.look_back_days.min,
            ..Settings::default()
        };
        assert_eq!(at_max.validate(), Ok(()));
        let past_max = Settings {
            look_back_days: LIMITS.look_back_days.max + 1,
            ..Settings::default()
        };
        assert_eq!(fields(past_max.validate()), ["look_back_days"]);
    }

    #[test]
    fn region_must_be_an_upper_case_country_known_to_phonenumber() {
        for good in ["FR", "DE", "GB", "AU", "US"] {
            let s = Settings {
                default_region: good.into(),
                ..Settings::default()
            };
            assert_eq!(s.validate(), Ok(()), "{good}");
        }
        for bad in ["fr", "F", "FRA", "", "ZZ"] {
            let s = Settings {
                default_region: bad.into(),
                ..Settings::default()
            };
            assert_eq!(fields(s.validate()), ["default_region"], "{bad:?}");
        }
    }

    #[test]
    fn at_least_one_crm_must_be_chosen() {
        let mut s = Settings::default();
        assert_eq!(
            s.validate(),
            Ok(()),
            "a new installation selects each CRM's default"
        );
        s.crms = serde_json::from_str(r#"{"one": false, "other": false}"#).unwrap();
        assert_eq!(fields(s.validate()), ["crms"]);
        s.crms = CrmSelection::only(["other"]);
        assert_eq!(s.validate(), Ok(()));
    }

    const ONE: CrmDescriptor = CrmDescriptor {
        id: "one",
        name: "One",
        env_prefix: "CALLCARD_ONE",
        sign_in: crate::crm_descriptor::SignIn::Pkce,
        redirect_port: 0,
        contact_sync: crate::crm_descriptor::ContactSyncMode::OnEachCall,
        imports_contacts: false,
        selected_by_default: true,
    };
    const OTHER: CrmDescriptor = CrmDescriptor {
        id: "other",
        selected_by_default: false,
        ..ONE
    };

    #[test]
    fn a_selection_naming_no_crm_selects_the_defaults_and_one_naming_some_only_those() {
        let new = CrmSelection::default();
        assert!(new.selects(&ONE) && !new.selects(&OTHER));
        let filled = new.filled(&[&ONE, &OTHER]);
        assert_eq!(
            serde_json::to_value(&filled).unwrap(),
            serde_json::json!({"one": true, "other": false})
        );
        let mut chosen = CrmSelection::default();
        chosen.set(&OTHER, true);
        assert!(chosen.selects(&OTHER) && !chosen.selects(&ONE));
    }

    #[test]
    fn contact_sync_is_on_unless_turned_off_and_reads_rows_of_before() {
        let old: ContactSync =
            serde_json::from_str(r#"{"one_to_aircall": false, "other_to_aircall": true}"#).unwrap();
        assert!(!old.is_on(&ONE) && old.is_on(&OTHER));
        let new = ContactSync::default();
        assert!(new.is_on(&ONE));
        assert_eq!(
            serde_json::to_value(old.filled(&[&ONE, &OTHER])).unwrap(),
            serde_json::json!({"one": false, "other": true})
        );
    }

    #[test]
    fn number_ids_must_be_positive() {
        let s = Settings {
            connected_numbers: vec![12, 0],
            ..Settings::default()
        };
        assert_eq!(fields(s.validate()), ["connected_numbers"]);
    }

    #[test]
    fn missing_fields_in_stored_json_take_their_defaults() {
        let s: Settings =
            serde_json::from_str(r#"{"settle_delay_secs": 90, "crms": {"other": true}}"#).unwrap();
        assert_eq!(s.settle_delay_secs, 90);
        assert!(s.crms.selects(&OTHER) && !s.crms.selects(&ONE));
        assert_eq!(s.look_back_days, 7);
    }

    #[test]
    fn enums_use_snake_case_names() {
        let json = serde_json::to_value(Settings::default()).unwrap();
        assert_eq!(json["sms_mode"], "conversation");
        assert_eq!(json["duplicate_rule"], "most_recently_updated");
        assert_eq!(json["dial_mode"], "prefill");
        assert_eq!(json["language"], "en");
    }
}
