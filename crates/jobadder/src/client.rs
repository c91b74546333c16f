//! JobAdder over HTTP: bearer tokens from the OAuth session (refreshed after
//! a 401), the account's own API base from the token answer, and every
//! failure mapped to what the outbox should do about it.

use crate::note::{note_for, NOTE_KINDS};
use crate::records::{self, iso8601, note_target, NoteTarget};
use callcard_core::activity::{FinalCall, LogOptions};
use callcard_core::call_log::target_key;
use callcard_core::crm::{
    ChangePage, Crm, CrmAccount, CrmError, CrmRecord, RecordKind, RecordRef, RemoteRef, Write,
};
use callcard_core::matching::targets_with_choice;
use callcard_core::phone::{Region, E164};
use callcard_core::settings::Settings;
use callcard_crm_http::reqwest::Method;
use callcard_crm_http::{ApiStyle, BearerApi, Call, Effect};
use callcard_oauth::{Session, TokenSet};
use serde_json::{json, Value};
use std::sync::Arc;

/// Page size of the change feed (JobAdder allows up to 1000; 100 keeps pages quick).
const PAGE: usize = 100;

#[derive(Debug, Clone)]
pub struct JobAdderConfig {
    /// Used only when the token answer carries no `api` (it always should).
    pub api_url: String,
    /// The web app, for "Open in JobAdder" links.
    pub app_url: String,
    /// Numbers stored without a country code are read in this region.
    pub default_region: Option<Region>,
    /// Names the account in outbox keys and id maps.
    pub account: String,
}

pub struct JobAdder {
    api: BearerApi,
    config: JobAdderConfig,
}

/// Who a JobAdder sign-in is. The token answer names only the API host
/// (the same for every account of a region), so the account is the name
/// `GET /users/current` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobAdderIdentity {
    pub account: String,
    pub user_id: Option<String>,
}

/// JobAdder's error model: `{message, errors:[{message}]}`.
fn error_detail(body: &Value) -> Option<String> {
    body["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find_map(|e| e["message"].as_str()))
        .or(body["message"].as_str())
        .map(str::to_owned)
}

impl JobAdder {
    pub fn new(session: Arc<Session>, config: JobAdderConfig) -> Self {
        let style = ApiStyle {
            name: "JobAdder",
            error_detail,
        };
        Self {
            api: BearerApi::new(session, style, None),
            config,
        }
    }

    pub fn session(&self) -> &Arc<Session> {
        self.api.session()
    }

    /// The signed-in account and user; `None` when JobAdder names no
    /// account (the field is optional in its document).
    pub async fn identify(&self) -> Result<Option<JobAdderIdentity>, CrmError> {
        let me = self
            .request(Method::GET, "users/current", &[], None, Effect::Read)
            .await?;
        let account = me["accountName"]
            .as_str()
            .map(callcard_core::activity::one_line)
            .filter(|name| !name.is_empty());
        Ok(account.map(|account| JobAdderIdentity {
            account,
            user_id: me["userId"].as_i64().map(|id| id.to_string()),
        }))
    }

    /// The same connection, naming the account `account` in keys.
    pub fn for_account(mut self, account: String) -> Self {
        self.config.account = account;
        self
    }

    /// The account's own API base from the token answer (regional hosts).
    fn base(&self, tokens: &TokenSet) -> String {
        tokens.api.clone().unwrap_or_else(|| self.config.api_url.clone())
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        effect: Effect,
    ) -> Result<Value, CrmError> {
        let call = Call {
            method,
            path,
            query,
            body,
            effect,
        };
        self.api.send(&|tokens| self.base(tokens), call).await
    }

    fn records_of(&self, answer: &Value, key: &str, kind: RecordKind) -> Vec<CrmRecord> {
        answer[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| {
                        records::record(kind, item, &self.config.app_url, self.config.default_region)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn note_link(&self, _note_id: &str, target: NoteTarget) -> String {
        // Notes have no page of their own in the web app: link to the record's.
        let app = self.config.app_url.trim_end_matches('/');
        match target {
            NoteTarget::Contact(id) => format!("{app}/contacts/{id}"),
            NoteTarget::Candidate(id) => format!("{app}/candidates/{id}"),
        }
    }

    async fn post_note(&self, target: NoteTarget, note: &Value) -> Result<RemoteRef, CrmError> {
        let answer = self
            .request(Method::POST, &target.notes_path(), &[], Some(note), Effect::Write)
            .await?;
        let id = answer["noteId"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| answer["noteId"].as_i64().map(|id| id.to_string()))
            .ok_or_else(|| CrmError::Ambiguous("JobAdder's answer has no note id".into()))?;
        Ok(RemoteRef {
            link: Some(self.note_link(&id, target)),
            id,
        })
    }

    async fn put_note(&self, note_id: &str, note: &Value) -> Result<(), CrmError> {
        let body = json!({ "text": note["text"], "type": note["type"] });
        self.request(
            Method::PUT,
            &format!("notes/{note_id}"),
            &[],
            Some(&body),
            Effect::Write,
        )
        .await
        .map(|_| ())
    }
}

/// The note on each record the rules pick (the duplicate rule, or the user's pick).
fn note_writes(
    matches: &[CrmRecord],
    chosen: Option<&RecordRef>,
    settings: &Settings,
    note: &crate::note::Note,
) -> Vec<(String, Write)> {
    targets_with_choice(matches, &NOTE_KINDS, settings.duplicate_rule, chosen)
        .into_iter()
        .map(|target| {
            (
                target_key(&target.record),
                records::note_write(&target.record, note),
            )
        })
        .collect()
}

/// The text an SMS note should have: `wanted` (the conversation's lines in
/// order) when the note holds only lines of it, else — a user edited the
/// note — the note as it is with the missing lines added at the end. `None`
/// when no line is missing.
fn extended_text(current: &str, wanted: &str) -> Option<String> {
    let have: Vec<&str> = current.lines().collect();
    let missing: Vec<&str> = wanted.lines().filter(|line| !have.contains(line)).collect();
    if missing.is_empty() {
        return None;
    }
    let wanted_lines: Vec<&str> = wanted.lines().collect();
    if have.iter().all(|line| wanted_lines.contains(line)) {
        Some(wanted.to_owned())
    } else {
        Some(format!("{}\n{}", current.trim_end(), missing.join("\n")))
    }
}

fn target_of(write: &Write) -> Result<NoteTarget, CrmError> {
    note_target(write).ok_or_else(|| CrmError::Rejected("the note names no contact or candidate".into()))
}

#[async_trait::async_trait]
impl Crm for JobAdder {
    async fn user_with_email(&self, email: &str) -> Result<Option<callcard_core::crm::Person>, CrmError> {
        // `/users` has no e-mail filter: read the user list, a page at a time.
        let mut offset = 0usize;
        for _ in 0..20 {
            let answer = self
                .request(
                    Method::GET,
                    "users",
                    &[("Offset", offset.to_string()), ("Limit", PAGE.to_string())],
                    None,
                    Effect::Read,
                )
                .await?;
            let items = answer["items"].as_array().cloned().unwrap_or_default();
            let found = items.iter().find(|user| {
                user["email"]
                    .as_str()
                    .is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()))
            });
            if let Some(user) = found {
                return Ok(crate::records::person(user));
            }
            offset += items.len();
            let total = answer["totalCount"].as_u64().unwrap_or(0) as usize;
            if items.is_empty() || offset >= total {
                break;
            }
        }
        Ok(None)
    }

    fn account(&self) -> CrmAccount {
        CrmAccount {
            crm: "jobadder".into(),
            account: self.config.account.clone(),
        }
    }

    /// One search finds candidates and contacts; a match only on the
    /// subscriber number (no country or area code agreed) is too weak to log to.
    async fn lookup(&self, number: &E164) -> Result<Vec<CrmRecord>, CrmError> {
        let answer = self
            .request(
                Method::GET,
                "search/phonenumber",
                &[("E164", number.as_str().to_owned())],
                None,
                Effect::Read,
            )
            .await?;
        if answer["quality"].as_str() == Some("Subscriber") {
            tracing::debug!("JobAdder matched the subscriber number only; not used");
            return Ok(Vec::new());
        }
        let mut found = self.records_of(&answer, "candidates", RecordKind::Candidate);
        found.extend(self.records_of(&answer, "contacts", RecordKind::Contact));
        Ok(found)
    }

    /// A note on each target: one contact and/or one candidate, by the
    /// duplicates setting or the user's pick on the card.
    fn call_writes(
        &self,
        call: &FinalCall,
        matches: &[CrmRecord],
        chosen: Option<&RecordRef>,
        settings: &Settings,
        options: LogOptions,
    ) -> Vec<(String, Write)> {
        let note = note_for(call, options);
        note_writes(matches, chosen, settings, &note)
    }

    fn sms_writes(
        &self,
        text: &str,
        reference: &str,
        matches: &[CrmRecord],
        chosen: Option<&RecordRef>,
        settings: &Settings,
    ) -> Vec<(String, Write)> {
        let note = crate::note::Note {
            note_type: "SMS".to_owned(),
            text: text.to_owned(),
            reference: reference.to_owned(),
            created_by_email: None,
        };
        note_writes(matches, chosen, settings, &note)
    }

    fn with_sms_text(&self, write: &Write, text: &str) -> Option<Write> {
        let mut write = write.clone();
        write
            .payload
            .get_mut("note")?
            .as_object_mut()?
            .insert("text".into(), json!(text));
        Some(write)
    }

    async fn write_call(&self, write: &Write) -> Result<RemoteRef, CrmError> {
        self.post_note(target_of(write)?, &write.payload["note"]).await
    }

    async fn update_call(&self, remote: &RemoteRef, write: &Write) -> Result<(), CrmError> {
        self.put_note(&remote.id, &write.payload["note"]).await
    }

    async fn write_sms(&self, existing: Option<&RemoteRef>, write: &Write) -> Result<RemoteRef, CrmError> {
        let target = target_of(write)?;
        let Some(remote) = existing else {
            return self.post_note(target, &write.payload["note"]).await;
        };
        // The note as it is now: someone may have edited it in JobAdder.
        let current = match self
            .request(
                Method::GET,
                &format!("notes/{}", remote.id),
                &[],
                None,
                Effect::Read,
            )
            .await
        {
            Ok(note) => note["text"].as_str().unwrap_or("").to_owned(),
            // Deleted in JobAdder: the conversation goes on in a new note.
            // Only a 404: any other refusal must not start a second copy.
            Err(CrmError::Rejected(why)) if why.contains("answered 404") => {
                return self.post_note(target, &write.payload["note"]).await
            }
            Err(error) => return Err(error),
        };
        let wanted = write.payload["note"]["text"].as_str().unwrap_or("");
        let Some(text) = extended_text(&current, wanted) else {
            // Every line is there already (a repeat after a crash).
            return Ok(remote.clone());
        };
        let mut note = write.payload["note"].clone();
        note["text"] = json!(text);
        self.put_note(&remote.id, &note).await?;
        Ok(remote.clone())
    }

    async fn find_by_reference(&self, write: &Write) -> Result<Option<RemoteRef>, CrmError> {
        let target = target_of(write)?;
        // The API's own filter, paged through: a record can have hundreds of
        // notes, and ours may not be among the first page of them.
        let mut offset = 0usize;
        for _ in 0..callcard_crm_http::MAX_PAGES {
            let answer = self
                .request(
                    Method::GET,
                    &target.notes_path(),
                    &[
                        ("Reference", write.reference.clone()),
                        ("Offset", offset.to_string()),
                        ("Limit", PAGE.to_string()),
                    ],
                    None,
                    Effect::Read,
                )
                .await?;
            let items = answer["items"].as_array().cloned().unwrap_or_default();
            // The filter is the server's; the match is checked here too.
            let found = items
                .iter()
                .find(|note| note["reference"].as_str() == Some(write.reference.as_str()));
            if let Some(id) = found.and_then(|note| note["noteId"].as_str()) {
                return Ok(Some(RemoteRef {
                    link: Some(self.note_link(id, target)),
                    id: id.to_owned(),
                }));
            }
            offset += items.len();
            let total = answer["totalCount"].as_u64().unwrap_or(0);
            if items.is_empty() || offset as u64 >= total {
                break;
            }
        }
        Ok(None)
    }

    /// Contacts, then candidates, updated after `since_ms`. The cursor is
    /// `contacts:OFFSET` or `candidates:OFFSET`.
    async fn changed_since(&self, since_ms: i64, cursor: Option<&str>) -> Result<ChangePage, CrmError> {
        let (list, offset) = match cursor.and_then(|c| c.split_once(':')) {
            Some((list, offset)) => (list, offset.parse::<usize>().unwrap_or(0)),
            None => ("contacts", 0),
        };
        let kind = if list == "candidates" {
            RecordKind::Candidate
        } else {
            RecordKind::Contact
        };
        let list = if kind == RecordKind::Candidate {
            "candidates"
        } else {
            "contacts"
        };
        let answer = self
            .request(
                Method::GET,
                list,
                &[
                    ("UpdatedAt", format!(">{}", iso8601(since_ms))),
                    ("Offset", offset.to_string()),
                    ("Limit", PAGE.to_string()),
                ],
                None,
                Effect::Read,
            )
            .await?;
        let records = self.records_of(&answer, "items", kind);
        let fetched = answer["items"].as_array().map_or(0, Vec::len);
        let total = answer["totalCount"].as_u64().unwrap_or(0) as usize;
        let next = if fetched > 0 && offset + fetched < total {
            Some(format!("{list}:{}", offset + fetched))
        } else if kind == RecordKind::Contact {
            Some("candidates:0".to_owned())
        } else {
            None
        };
        Ok(ChangePage {
            records,
            next,
            total: Some(total as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_sms_note_keeps_a_users_edit_and_never_takes_a_line_twice() {
        // Only our lines: the conversation's text, in order (a late line inserted).
        assert_eq!(
            super::extended_text("L1\nL3", "L1\nL2\nL3").as_deref(),
            Some("L1\nL2\nL3")
        );
        // Edited in JobAdder: the edit stays, the new line goes at the end.
        assert_eq!(
            super::extended_text("L1\ncalled back, all good", "L1\nL2").as_deref(),
            Some("L1\ncalled back, all good\nL2")
        );
        // A repeat after a crash: nothing to write.
        assert_eq!(super::extended_text("L1\nL2", "L1\nL2"), None);
        assert_eq!(super::extended_text("L1\nedit\nL2", "L1\nL2"), None);
    }
}
