//! What Callcard needs from a CRM, as one trait, and what a CRM says about
//! itself (its [`CrmDescriptor`]). Each CRM implements them in its own crate;
//! the core decides what to write and when, and never sees a CRM's wire
//! format or names one.

use crate::activity::{FinalCall, LogOptions};
use crate::phone::E164;
use crate::settings::Settings;

pub use crate::crm_descriptor::{ContactSyncMode, CrmDescriptor, CrmId, SignIn};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which CRM and which account in it: a CRM's ids may be unique per account only,
/// so every key that holds a record id also holds this.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CrmAccount {
    pub crm: String,
    pub account: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Candidate,
    Contact,
    Company,
    Individual,
}

/// A record in a CRM, by kind and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RecordRef {
    pub kind: RecordKind,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Person {
    pub id: Option<String>,
    pub name: String,
    pub email: Option<String>,
}

/// What a card shows and what the matching rules look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CrmRecord {
    pub record: RecordRef,
    pub name: String,
    pub email: Option<String>,
    pub position: Option<String>,
    /// The linked company's name, when there is one.
    pub company: Option<String>,
    pub owner: Option<Person>,
    pub updated_ms: i64,
    pub archived: bool,
    /// Where to open the record in the CRM's web app.
    pub link: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "string[]"))]
    pub phones: Vec<E164>,
    /// The linked company's id (a contact's company: a CRM may relate the
    /// call to it and rank such a contact first).
    #[serde(default)]
    pub company_id: Option<String>,
    /// The best open opportunity for this record, shown on the card
    /// and related to the call.
    #[serde(default)]
    pub opportunity: Option<Opportunity>,
    /// Numbers the record stores that cannot be read with the default
    /// country: calls from them never find it (the setup check lists them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable_phones: Vec<String>,
}

impl CrmRecord {
    /// A record known only by its reference and name (the other fields
    /// empty): what builders of fixtures and tests start from.
    pub fn new(kind: RecordKind, id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            record: RecordRef { kind, id: id.into() },
            name: name.into(),
            email: None,
            position: None,
            company: None,
            owner: None,
            updated_ms: 0,
            archived: false,
            link: None,
            phones: Vec::new(),
            company_id: None,
            opportunity: None,
            unreadable_phones: Vec::new(),
        }
    }

    /// The record as a window shows it: every name one line of plain text
    /// (no control characters or bidi overrides, which could make a card
    /// read in another order than the CRM stores it) and at most
    /// [`SHOWN_CHARS`] characters. Markup stays text: the windows never
    /// interpret it.
    pub fn shown(mut self) -> Self {
        self.name = shown_text(&self.name);
        for field in [&mut self.email, &mut self.position, &mut self.company] {
            if let Some(text) = field.as_mut() {
                *text = shown_text(text);
            }
        }
        if let Some(owner) = self.owner.as_mut() {
            owner.name = shown_text(&owner.name);
        }
        if let Some(opportunity) = self.opportunity.as_mut() {
            opportunity.name = shown_text(&opportunity.name);
        }
        self
    }
}

/// The longest text a card shows for one field; longer is cut with "…".
pub const SHOWN_CHARS: usize = 200;

fn shown_text(text: &str) -> String {
    let line = crate::activity::one_line(text);
    if line.chars().count() <= SHOWN_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(SHOWN_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum OpportunityStatus {
    Open,
    Won,
    Lost,
    Cancelled,
    Closed,
    Late,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Opportunity {
    pub id: String,
    pub name: String,
    pub status: OpportunityStatus,
    pub updated_ms: i64,
    pub contact_ids: Vec<String>,
    pub link: Option<String>,
}

/// Where a written call or note lives in the CRM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRef {
    pub id: String,
    pub link: Option<String>,
}

/// Why a CRM call failed, in the terms the outbox acts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrmError {
    /// 429 or a spent quota: wait, then try again; not the item's fault.
    #[error("rate limited{}", .retry_after.map(|d| format!(", retry in {} s", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// Nothing was written (connection refused, 5xx before processing): retry.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The request may have been written (timeout, connection reset after
    /// sending, unreadable answer): look it up by reference before writing again.
    #[error("no answer, the write may have happened: {0}")]
    Ambiguous(String),
    /// The login expired and could not be refreshed: wait for the user.
    #[error("the connection to the CRM needs to be renewed: {0}")]
    NeedsReconnect(String),
    /// The CRM refused the request for good (validation, missing record).
    #[error("refused by the CRM: {0}")]
    Rejected(String),
    /// The note is too long for the CRM: start a new one (SMS conversations).
    #[error("too long for the CRM")]
    TooLong,
}

/// A CRM's own limits as its last answer told them (quota headers), so
/// the dispatcher can pace itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateHint {
    /// Requests left in the current window.
    pub remaining: u32,
    /// How long until the window resets.
    pub window: Duration,
}

/// A write the outbox asks a CRM to make. The payload is what the activity
/// builder produced for that CRM (a note, a phone-call activity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    /// Carried into the CRM (note `reference`, phone-call description) so the
    /// record can be found again after an ambiguous failure.
    pub reference: String,
    pub payload: serde_json::Value,
}

/// One page of records changed since a time, for local phone indexes and
/// contact sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePage {
    pub records: Vec<CrmRecord>,
    /// Pass back to get the next page; `None` when done.
    pub next: Option<String>,
    /// How many records the whole listing holds, when the CRM says.
    pub total: Option<u64>,
}

#[async_trait::async_trait]
pub trait Crm: Send + Sync {
    fn account(&self) -> CrmAccount;

    /// Every record whose phone numbers include `number`.
    async fn lookup(&self, number: &E164) -> Result<Vec<CrmRecord>, CrmError>;

    /// Writes a call (a note, a phone-call activity).
    async fn write_call(&self, write: &Write) -> Result<RemoteRef, CrmError>;

    /// Replaces a written call's content (AI data arrived later).
    async fn update_call(&self, remote: &RemoteRef, write: &Write) -> Result<(), CrmError>;

    /// The writes an SMS log makes in this CRM, with their targets: `text`
    /// (the line, or a conversation's lines) on the records the rules pick,
    /// under `reference`. None when this CRM does not log SMS.
    fn sms_writes(
        &self,
        _text: &str,
        _reference: &str,
        _matches: &[CrmRecord],
        _chosen: Option<&RecordRef>,
        _settings: &Settings,
    ) -> Vec<(String, Write)> {
        Vec::new()
    }

    /// The same SMS write with another whole text (a new note started from
    /// it when the CRM refused to extend the old one). None: this CRM cannot.
    fn with_sms_text(&self, _write: &Write, _text: &str) -> Option<Write> {
        None
    }

    /// Writes a new SMS note, or extends `existing` with the whole new text.
    async fn write_sms(&self, existing: Option<&RemoteRef>, write: &Write) -> Result<RemoteRef, CrmError>;

    /// The record written earlier with this reference, if any: makes writes
    /// idempotent after an ambiguous failure.
    async fn find_by_reference(&self, write: &Write) -> Result<Option<RemoteRef>, CrmError>;

    /// Records changed since `since_ms`, a page at a time.
    async fn changed_since(&self, since_ms: i64, cursor: Option<&str>) -> Result<ChangePage, CrmError>;

    /// Every contact, a page at a time (the "Import existing contacts" action).
    async fn contacts(&self, _cursor: Option<&str>) -> Result<ChangePage, CrmError> {
        Err(CrmError::Rejected("this CRM has no contact import".into()))
    }

    /// The writes a final call makes in this CRM, each with its target
    /// (`candidate:12`, see [`crate::card::target_key`]): the CRM's own
    /// rules (a note per record by the duplicates setting, or one activity
    /// related to several records) applied to the matches, or to the user's pick.
    fn call_writes(
        &self,
        call: &FinalCall,
        matches: &[CrmRecord],
        chosen: Option<&RecordRef>,
        settings: &Settings,
        options: LogOptions,
    ) -> Vec<(String, Write)>;

    /// A record the phone index found, completed as the live search would
    /// (a CRM whose search cannot find a number in every stored form: the
    /// company and the open opportunity of an indexed contact). As it is by
    /// default.
    async fn complete_record(&self, record: CrmRecord) -> Result<CrmRecord, CrmError> {
        Ok(record)
    }

    /// The matches in the CRM's order of preference, best first (the card
    /// shows them so; the insight card and the log take the first).
    fn order_matches(&self, matches: Vec<CrmRecord>) -> Vec<CrmRecord> {
        matches
    }

    /// What the last answer said about the CRM's quotas, if it says anything.
    fn rate_hint(&self) -> Option<RateHint> {
        None
    }

    /// The CRM user with this e-mail (calls are logged as theirs), `None`
    /// when there is none. The setup check asks; a CRM that cannot list its
    /// users says so with an error.
    async fn user_with_email(&self, _email: &str) -> Result<Option<Person>, CrmError> {
        Err(CrmError::Rejected("this CRM cannot list its users".into()))
    }
}
