//! Sellsy over HTTP: the bearer session (refreshed after a 401), the
//! account read from `staffs/me`, the staff list for phone-call owners, and
//! every request held back while a quota is spent.

use crate::links::SellsyLinks;
use crate::order::{order, SellsyMatch};
use crate::phone_call::{owner, phone_call, related};
use crate::quota::Quota;
use crate::records::{self, phone_call_write, Staff};
use callcard_core::activity::{call_id_of_reference, reference, text_logs_call, FinalCall, LogOptions};
use callcard_core::call_log::target_key;
use callcard_core::clock::rfc3339;
use callcard_core::crm::{
    ChangePage, Crm, CrmAccount, CrmError, CrmRecord, RateHint, RecordKind, RecordRef, RemoteRef, Write,
};
use callcard_core::matching::best_opportunity;
use callcard_core::phone::{Region, E164};
use callcard_core::settings::Settings;
use callcard_crm_http::reqwest::Method;
use callcard_crm_http::{ApiStyle, BearerApi, Call};
use callcard_oauth::Session;
use serde_json::{json, Value};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Sellsy's largest page.
const PAGE: usize = 100;

#[derive(Debug, Clone)]
pub struct SellsyConfig {
    pub api_url: String,
    /// The web app, for "Open in Sellsy" links.
    pub app_url: String,
    /// Numbers stored without a country code are read in this region.
    pub default_region: Option<Region>,
}

/// Who is connected, as `staffs/me` says: Sellsy ids are unique per account
/// only, so the account names every key, and this staff member owns calls
/// nobody else does. The app keeps it, so that a start without the network
/// can still queue logs under the right account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SellsyIdentity {
    pub account_id: i64,
    pub staff_id: i64,
}

pub struct Sellsy {
    api: BearerApi,
    config: SellsyConfig,
    links: SellsyLinks,
    quota: Arc<Quota>,
    me: SellsyIdentity,
    staff: RwLock<Vec<Staff>>,
}

/// Sellsy's error model: `{error:{code,message,details}}`.
fn error_detail(body: &Value) -> Option<String> {
    body["error"]["message"]
        .as_str()
        .or(body["message"].as_str())
        .map(str::to_owned)
}

/// The list a change-feed cursor is in, and the filter on its update time.
const FEED: [(&str, RecordKind, &str); 3] = [
    ("contacts", RecordKind::Contact, "updated"),
    ("companies", RecordKind::Company, "updated_at"),
    ("individuals", RecordKind::Individual, "updated_at"),
];

fn page_query(offset: Option<&str>) -> Vec<(&'static str, String)> {
    let mut query = vec![("limit", PAGE.to_string())];
    if let Some(offset) = offset.filter(|o| !o.is_empty()) {
        query.push(("offset", offset.to_owned()));
    }
    query
}

/// The items of a page and the cursor of the next one (`None`: last page).
fn page_of(answer: &Value) -> (Vec<Value>, Option<String>) {
    let items = answer["data"].as_array().cloned().unwrap_or_default();
    let count = answer["pagination"]["count"]
        .as_u64()
        .map_or(items.len(), |c| c as usize);
    let next = answer["pagination"]["offset"]
        .as_str()
        .filter(|_| count >= PAGE)
        .map(str::to_owned);
    (items, next)
}

fn total_of(answer: &Value) -> Option<u64> {
    answer["pagination"]["total"].as_u64()
}

impl Sellsy {
    /// Reads who is connected (`staffs/me`, with the account id) and the staff list.
    pub async fn connect(session: Arc<Session>, config: SellsyConfig) -> Result<Self, CrmError> {
        let unknown = SellsyIdentity {
            account_id: 0,
            staff_id: 0,
        };
        let mut sellsy = Self::with_identity(session, config, unknown);
        let me = sellsy.request(Call::get("staffs/me", &[])).await?;
        let number = |value: &Value| value.as_i64().or_else(|| value.as_str()?.parse().ok());
        sellsy.me = SellsyIdentity {
            account_id: number(&me["account_id"])
                .ok_or_else(|| CrmError::Rejected("Sellsy's staffs/me has no account_id".into()))?,
            staff_id: number(&me["id"])
                .ok_or_else(|| CrmError::Rejected("Sellsy's staffs/me has no id".into()))?,
        };
        sellsy.refresh_staff().await?;
        Ok(sellsy)
    }

    /// The connector for an account read earlier, without a request (a start
    /// without the network); the staff list comes with the first index refresh.
    pub fn with_identity(session: Arc<Session>, config: SellsyConfig, identity: SellsyIdentity) -> Self {
        let quota = Arc::new(Quota::default());
        let observer = {
            let quota = quota.clone();
            Arc::new(move |headers: &callcard_crm_http::reqwest::header::HeaderMap| quota.observe(headers))
        };
        let style = ApiStyle {
            name: "Sellsy",
            error_detail,
        };
        Self {
            api: BearerApi::new(session, style, Some(observer)),
            links: SellsyLinks::new(&config.app_url),
            config,
            quota,
            me: identity,
            staff: RwLock::new(Vec::new()),
        }
    }

    pub fn identity(&self) -> SellsyIdentity {
        self.me
    }

    pub fn session(&self) -> &Arc<Session> {
        self.api.session()
    }

    pub fn quota(&self) -> &Quota {
        &self.quota
    }

    /// The staff list (no e-mail filter exists: read it all, match locally).
    pub async fn refresh_staff(&self) -> Result<usize, CrmError> {
        let mut staff = Vec::new();
        let mut offset: Option<String> = None;
        let mut guard = callcard_crm_http::PageGuard::default();
        loop {
            let query = page_query(offset.as_deref());
            let answer = self.request(Call::get("staffs", &query)).await?;
            let (items, next) = page_of(&answer);
            staff.extend(items.iter().filter_map(records::staff));
            match next {
                Some(next) => {
                    guard.advance("Sellsy", &next)?;
                    offset = Some(next)
                }
                None => break,
            }
        }
        let count = staff.len();
        *self.staff.write().unwrap_or_else(|p| p.into_inner()) = staff;
        Ok(count)
    }

    fn staff(&self) -> Vec<Staff> {
        self.staff.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn request(&self, call: Call<'_>) -> Result<Value, CrmError> {
        let api_url = self.config.api_url.as_str();
        let base = move |_: &callcard_oauth::TokenSet| api_url.to_owned();
        for attempt in 0..2 {
            if let Err(wait) = self.quota.ready().await {
                return Err(CrmError::RateLimited {
                    retry_after: Some(wait),
                });
            }
            match self.api.send(&base, call.clone()).await {
                // A 429 changed nothing: after the spent second, once more.
                Err(CrmError::RateLimited { .. }) if attempt == 0 && self.short_wait().is_some() => {
                    tokio::time::sleep(self.short_wait().unwrap_or_default()).await;
                }
                // Sellsy says which quota is spent, not when to come back.
                Err(CrmError::RateLimited { retry_after: None }) => {
                    return Err(CrmError::RateLimited {
                        retry_after: Some(self.quota.wait().unwrap_or(Duration::from_secs(1))),
                    })
                }
                other => return other,
            }
        }
        Err(CrmError::RateLimited {
            retry_after: Some(self.quota.wait().unwrap_or(Duration::from_secs(1))),
        })
    }

    /// The wait for a spent quota when it is a matter of a second or two.
    fn short_wait(&self) -> Option<Duration> {
        let wait = self.quota.wait().unwrap_or(Duration::from_secs(1));
        (wait <= Duration::from_secs(2)).then_some(wait)
    }

    fn record(&self, kind: RecordKind, value: &Value, staff: &[Staff]) -> Option<CrmRecord> {
        records::record(kind, value, &self.links, self.config.default_region, staff)
    }

    /// The first company the contact is linked to.
    async fn linked_company(&self, contact_id: &str) -> Result<Option<(String, String)>, CrmError> {
        let path = format!("contacts/{contact_id}/companies");
        let query = [("limit", "1".to_owned())];
        let answer = self.request(Call::get(&path, &query)).await?;
        Ok(answer["data"].get(0).and_then(|company| {
            let id = company["id"].as_i64()?.to_string();
            let name = company["name"].as_str().unwrap_or_default().to_owned();
            Some((id, name))
        }))
    }

    /// The best open opportunity linked to the contact (DESIGN §1.3).
    async fn opportunity_of(
        &self,
        contact_id: &str,
    ) -> Result<Option<callcard_core::crm::Opportunity>, CrmError> {
        let Ok(id) = contact_id.parse::<i64>() else {
            return Ok(None);
        };
        let body = json!({ "filters": { "contacts": [id], "statuses": ["open"] } });
        let query = page_query(None);
        let answer = self
            .request(Call::search("opportunities/search", &query, &body))
            .await?;
        let found: Vec<_> = answer["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| records::opportunity(o, &self.links))
            .collect();
        Ok(best_opportunity(&found, contact_id).cloned())
    }

    /// Every contact holding `value` exactly in `field`.
    async fn contacts_with(&self, field: &str, value: &str) -> Result<Vec<Value>, CrmError> {
        let body = json!({ "filters": { field: value } });
        let query = page_query(None);
        let answer = self
            .request(Call::search("contacts/search", &query, &body))
            .await?;
        Ok(page_of(&answer).0)
    }

    fn remote(&self, id: &str) -> RemoteRef {
        RemoteRef {
            id: id.to_owned(),
            link: Some(self.links.phone_call(id)),
        }
    }
}

fn phone_call_id(answer: &Value) -> Option<String> {
    answer["id"]
        .as_i64()
        .map(|id| id.to_string())
        .or_else(|| answer["id"].as_str().map(str::to_owned))
}

#[async_trait::async_trait]
impl Crm for Sellsy {
    async fn user_with_email(&self, email: &str) -> Result<Option<callcard_core::crm::Person>, CrmError> {
        // The staff list read at connection (phone calls' owners).
        Ok(self
            .staff()
            .into_iter()
            .find(|s| {
                s.email
                    .as_deref()
                    .is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()))
            })
            .map(|s| callcard_core::crm::Person {
                id: Some(s.id.to_string()),
                name: s.name,
                email: s.email,
            }))
    }

    fn account(&self) -> CrmAccount {
        CrmAccount {
            crm: "sellsy".into(),
            account: self.me.account_id.to_string(),
        }
    }

    /// Contacts by exact phone value, in every form Sellsy may hold the
    /// number in, each with its company and best open opportunity.
    /// Companies and individuals have no phone filter: the index finds them.
    async fn lookup(&self, number: &E164) -> Result<Vec<CrmRecord>, CrmError> {
        let staff = self.staff();
        let mut found: Vec<CrmRecord> = Vec::new();
        for form in number.stored_forms() {
            for field in ["phone_number", "mobile_number"] {
                for value in self.contacts_with(field, &form).await? {
                    let Some(mut record) = self.record(RecordKind::Contact, &value, &staff) else {
                        continue;
                    };
                    if found.iter().any(|r| r.record == record.record) {
                        continue;
                    }
                    // Read with the default region the stored form may parse elsewhere;
                    // the exact match says it is this number.
                    if !record.phones.contains(number) {
                        record.phones.push(number.clone());
                    }
                    found.push(record);
                }
            }
        }
        for record in &mut found {
            if let Some((id, name)) = self.linked_company(&record.record.id).await? {
                record.company_id = Some(id);
                record.company = Some(name).filter(|n| !n.is_empty());
            }
            record.opportunity = self.opportunity_of(&record.record.id).await?;
        }
        Ok(self.order_matches(found))
    }

    /// A contact the index found but the exact-value search could not (its
    /// number is stored in a form of its own): its company and opportunity.
    async fn complete_record(&self, mut record: CrmRecord) -> Result<CrmRecord, CrmError> {
        if record.record.kind == RecordKind::Contact {
            if record.company_id.is_none() {
                if let Some((id, name)) = self.linked_company(&record.record.id).await? {
                    record.company_id = Some(id);
                    record.company = Some(name).filter(|n| !n.is_empty());
                }
            }
            if record.opportunity.is_none() {
                record.opportunity = self.opportunity_of(&record.record.id).await?;
            }
        }
        Ok(record)
    }

    /// A contact linked to a company first, then a contact, an individual, a
    /// company; the most recently updated first within a kind; archived last.
    fn order_matches(&self, matches: Vec<CrmRecord>) -> Vec<CrmRecord> {
        let ranked = matches
            .into_iter()
            .map(|record| SellsyMatch {
                linked_to_company: record.record.kind == RecordKind::Contact && record.company_id.is_some(),
                record,
            })
            .collect();
        order(ranked).into_iter().map(|m| m.record).collect()
    }

    /// One phone call, related to the best match (or the user's pick), its
    /// opportunity and its company: at most one per type, at most three.
    fn call_writes(
        &self,
        call: &FinalCall,
        matches: &[CrmRecord],
        chosen: Option<&RecordRef>,
        _settings: &Settings,
        options: LogOptions,
    ) -> Vec<(String, Write)> {
        let ordered = self.order_matches(matches.to_vec());
        let best = chosen
            .and_then(|c| ordered.iter().find(|r| &r.record == c))
            .or(ordered.first());
        let Some(best) = best else {
            return Vec::new();
        };
        let id_of = |id: Option<&String>| id.and_then(|id| id.parse::<i64>().ok());
        let own = id_of(Some(&best.record.id));
        let opportunity = id_of(best.opportunity.as_ref().map(|o| &o.id));
        let related = match best.record.kind {
            RecordKind::Contact => related(own, opportunity, id_of(best.company_id.as_ref()), None),
            RecordKind::Company => related(None, opportunity, own, None),
            RecordKind::Individual => related(None, opportunity, None, own),
            RecordKind::Candidate => Vec::new(),
        };
        if related.is_empty() {
            return Vec::new();
        }
        let staff: Vec<(i64, String)> = self
            .staff()
            .into_iter()
            .filter_map(|s| Some((s.id, s.email?)))
            .collect();
        let contact_owner = best.owner.as_ref().and_then(|o| id_of(o.id.as_ref()));
        let owner = owner(call.agent.as_ref(), &staff, contact_owner).unwrap_or(self.me.staff_id);
        let phone_call = phone_call(call, options, owner, related);
        vec![(
            target_key(&best.record),
            phone_call_write(&reference(call.call_id), &phone_call),
        )]
    }

    async fn write_call(&self, write: &Write) -> Result<RemoteRef, CrmError> {
        let answer = self
            .request(Call::write(Method::POST, "phone-calls", &write.payload))
            .await?;
        let id = phone_call_id(&answer)
            .ok_or_else(|| CrmError::Ambiguous("Sellsy's answer has no phone call id".into()))?;
        Ok(self.remote(&id))
    }

    async fn update_call(&self, remote: &RemoteRef, write: &Write) -> Result<(), CrmError> {
        let path = format!("phone-calls/{}", remote.id);
        self.request(Call::write(Method::PUT, &path, &write.payload))
            .await
            .map(|_| ())
    }

    async fn write_sms(&self, _existing: Option<&RemoteRef>, _write: &Write) -> Result<RemoteRef, CrmError> {
        Err(CrmError::Rejected("SMS are logged to JobAdder only".into()))
    }

    /// The phone calls related to the write's first record whose description
    /// carries the call's line.
    async fn find_by_reference(&self, write: &Write) -> Result<Option<RemoteRef>, CrmError> {
        let Some(call_id) = call_id_of_reference(&write.reference) else {
            return Ok(None);
        };
        let Some(related) = write.payload["related"].get(0).cloned() else {
            return Ok(None);
        };
        let body = json!({ "filters": { "related_objects": [related] } });
        let mut offset: Option<String> = None;
        let mut guard = callcard_crm_http::PageGuard::default();
        loop {
            let query = page_query(offset.as_deref());
            let answer = self
                .request(Call::search("phone-calls/search", &query, &body))
                .await?;
            let (items, next) = page_of(&answer);
            let hit = items.iter().find(|pc| {
                pc["description"]
                    .as_str()
                    .is_some_and(|text| text_logs_call(text, call_id))
            });
            if let Some(id) = hit.and_then(phone_call_id) {
                return Ok(Some(self.remote(&id)));
            }
            match next {
                Some(next) => {
                    guard.advance("Sellsy", &next)?;
                    offset = Some(next)
                }
                None => return Ok(None),
            }
        }
    }

    /// Contacts, then companies, then individuals updated after `since_ms`
    /// (cursor `contacts:OFFSET`…); the staff list is read again at each start.
    async fn changed_since(&self, since_ms: i64, cursor: Option<&str>) -> Result<ChangePage, CrmError> {
        let (list, offset) = match cursor.and_then(|c| c.split_once(':')) {
            Some((list, offset)) => (list, Some(offset)),
            None => {
                self.refresh_staff().await?;
                ("contacts", None)
            }
        };
        let position = FEED.iter().position(|(name, _, _)| *name == list).unwrap_or(0);
        let (path, kind, filter) = FEED[position];
        let body = json!({ "filters": { filter: { "start": rfc3339(since_ms) } } });
        let query = page_query(offset);
        let answer = self
            .request(Call::search(&format!("{path}/search"), &query, &body))
            .await?;
        let (items, next) = page_of(&answer);
        let staff = self.staff();
        let records = items
            .iter()
            .filter_map(|item| self.record(kind, item, &staff))
            .collect();
        let next = match next {
            Some(next) => Some(format!("{path}:{next}")),
            None => FEED.get(position + 1).map(|(name, _, _)| format!("{name}:")),
        };
        Ok(ChangePage {
            records,
            next,
            total: total_of(&answer),
        })
    }

    /// Every contact, oldest first (`GET /contacts`, cursor paging).
    async fn contacts(&self, cursor: Option<&str>) -> Result<ChangePage, CrmError> {
        if cursor.is_none() {
            self.refresh_staff().await?;
        }
        let query = page_query(cursor);
        let answer = self.request(Call::get("contacts", &query)).await?;
        let (items, next) = page_of(&answer);
        let staff = self.staff();
        Ok(ChangePage {
            records: items
                .iter()
                .filter_map(|item| self.record(RecordKind::Contact, item, &staff))
                .collect(),
            next,
            total: total_of(&answer),
        })
    }

    fn rate_hint(&self) -> Option<RateHint> {
        self.quota.hint()
    }
}
