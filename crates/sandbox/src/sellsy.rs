//! The Sellsy API v2 (and its login server's OAuth with PKCE): contacts
//! search by exact phone values, companies and individuals (no phone filter,
//! as in the real API), contact↔company links, opportunities, staff, and
//! native phone-call activities. Ids are unique per account only; the
//! sandbox is one account.

use crate::clock::{iso8601, parse_iso8601};
use crate::http::{bad_request, json_status, not_found, AppState};
use crate::oauth::{self, require_bearer, Provider};
use crate::state::Record;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const RESULTS: [&str; 10] = [
    "noanswer",
    "busy",
    "wrongnumber",
    "msgdirect",
    "msgvocal",
    "connected",
    "transfer",
    "interrupt",
    "scheduled",
    "unknown",
];
pub const SOURCES: [&str; 2] = ["incoming", "outcoming"];
const RELATED_TYPES: [&str; 4] = ["opportunity", "company", "individual", "contact"];

pub struct SellsyWorld {
    pub account_id: i64,
    pub staffs: Vec<Record>,
    pub contacts: BTreeMap<i64, Record>,
    pub companies: BTreeMap<i64, Record>,
    pub individuals: BTreeMap<i64, Record>,
    pub opportunities: BTreeMap<i64, Record>,
    /// (contact id, company id)
    pub links: Vec<(i64, i64)>,
    pub phone_calls: BTreeMap<i64, Record>,
    pub next_id: i64,
}

impl Default for SellsyWorld {
    fn default() -> Self {
        Self {
            account_id: 48_213,
            staffs: Vec::new(),
            contacts: BTreeMap::new(),
            companies: BTreeMap::new(),
            individuals: BTreeMap::new(),
            opportunities: BTreeMap::new(),
            links: Vec::new(),
            phone_calls: BTreeMap::new(),
            next_id: 1,
        }
    }
}

fn with_defaults(defaults: Value, r: &Record) -> Value {
    let mut out = defaults;
    if let Some(o) = out.as_object_mut() {
        for (k, v) in &r.fields {
            o.insert(k.clone(), v.clone());
        }
    }
    out
}

impl SellsyWorld {
    pub fn contact_json(&self, r: &Record) -> Value {
        with_defaults(
            json!({
                "id": r.id, "civility": null, "first_name": null, "last_name": "", "email": null, "website": null,
                "phone_number": null, "mobile_number": null, "fax_number": null, "position": null, "birth_date": null,
                "avatar": null, "note": "", "invoicing_address_id": null, "delivery_address_id": null,
                "social": {"twitter": null, "facebook": null, "linkedin": null, "viadeo": null},
                "sync": {"mailchimp": false, "mailjet": false, "simplemail": false},
                "owner": {"id": self.staffs.first().map(|s| s.id), "type": "staff"},
                "created": iso8601(r.created_ms), "updated": iso8601(r.updated_ms), "is_archived": false,
                "marketing_campaigns_subscriptions": [],
            }),
            r,
        )
    }

    fn third_json(&self, r: &Record, individual: bool) -> Value {
        let mut defaults = json!({
            "id": r.id, "type": "prospect", "email": null, "website": null, "phone_number": null,
            "mobile_number": null, "fax_number": null, "reference": null, "note": "", "auxiliary_code": null,
            "social": {"twitter": null, "facebook": null, "linkedin": null, "viadeo": null},
            "rate_category_id": null, "main_contact_id": null, "dunning_contact_id": null,
            "invoicing_contact_id": null, "invoicing_address_id": null, "delivery_address_id": null,
            "accounting_code_id": null, "accounting_purchase_code_id": null,
            "owner": {"id": self.staffs.first().map(|s| s.id), "type": "staff"},
            "created": iso8601(r.created_ms), "updated_at": iso8601(r.updated_ms), "is_archived": false,
            "marketing_campaigns_subscriptions": [],
        });
        if individual {
            defaults["last_name"] = json!("");
            defaults["first_name"] = Value::Null;
            defaults["civility"] = Value::Null;
        } else {
            defaults["name"] = json!("");
            defaults["capital"] = Value::Null;
            defaults["business_segment"] = Value::Null;
            defaults["number_of_employees"] = Value::Null;
        }
        with_defaults(defaults, r)
    }

    fn opportunity_json(&self, r: &Record) -> Value {
        let related = r.fields.get("related").cloned().unwrap_or(json!([]));
        let of = |kind: &str| {
            related
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["type"] == kind)
                .and_then(|x| x["id"].as_i64())
        };
        let mut out = with_defaults(
            json!({
                "id": r.id, "number": format!("OPP-{:05}", r.id % 100_000), "name": "",
                "source": {"id": 1, "name": "Phone"}, "due_date": null, "created": iso8601(r.created_ms),
                "updated_status": iso8601(r.updated_ms), "status": "open",
                "amount": {"value": "0.00", "currency": "EUR"}, "pipeline": {"id": 1, "name": "Sales"},
                "step": {"id": 1, "name": "New"}, "probability": 50, "note": "",
                "owner": {"id": self.staffs.first().map(|s| s.id), "type": "staff"},
                "assigned_staff_ids": [], "contact_ids": [], "main_doc_id": null, "related": [],
            }),
            r,
        );
        out["company_id"] = json!(of("company"));
        out["individual_id"] = json!(of("individual"));
        out
    }

    fn staff_json(&self, r: &Record) -> Value {
        with_defaults(
            json!({
                "id": r.id, "lastname": null, "firstname": null, "email": "", "avatar": null, "status": "ok",
                "position": null, "phone_number": null, "mobile_number": null, "fax_number": null, "groups": [],
                "civility": null, "created": iso8601(r.created_ms), "profile": 1, "team": null, "job": null,
                "timezone": "Europe/Paris", "language": "fr",
            }),
            r,
        )
    }

    fn phone_call_json(&self, r: &Record) -> Value {
        let result = r.str("result").unwrap_or("unknown").to_owned();
        let related = r.fields.get("related").cloned().unwrap_or(json!([]));
        let of = |kind: &str| {
            related
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["type"] == kind)
                .and_then(|x| x["id"].as_i64())
        };
        json!({
            "id": r.id,
            "source": r.fields.get("source"),
            "description": r.fields.get("description").cloned().unwrap_or(Value::Null),
            "updated": iso8601(r.updated_ms),
            "created": iso8601(r.created_ms),
            "duration": r.fields.get("duration").cloned().unwrap_or(json!(0)),
            "date": r.fields.get("date"),
            "company_id": of("company"),
            "individual_id": of("individual"),
            "contact_id": of("contact"),
            "related": related,
            "priority": r.fields.get("priority").cloned().unwrap_or(json!(0)),
            "owner": {"id": r.fields.get("owner_id"), "type": "staff"},
            "topic": {"id": 1, "name": "Call"},
            "result": {"id": result, "name": result},
            "reminders": [],
        })
    }
}

pub struct SellsyAuth;

impl FromRequestParts<AppState> for SellsyAuth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        require_bearer(s, Provider::Sellsy, &parts.headers).map(|_| SellsyAuth)
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/oauth2/authorization", get(oauth::sellsy_authorize))
        .route("/login/oauth2/access-tokens", post(oauth::sellsy_token))
        .route("/v2/contacts", get(list_contacts))
        .route("/v2/contacts/search", post(search_contacts))
        .route("/v2/contacts/{id}", get(get_contact))
        .route("/v2/contacts/{id}/companies", get(contact_companies))
        .route("/v2/companies", get(list_companies))
        .route("/v2/companies/search", post(search_companies))
        .route("/v2/companies/{id}", get(get_company))
        .route("/v2/individuals", get(list_individuals))
        .route("/v2/individuals/search", post(search_individuals))
        .route("/v2/individuals/{id}", get(get_individual))
        .route("/v2/opportunities/search", post(search_opportunities))
        .route("/v2/staffs", get(list_staffs))
        .route("/v2/staffs/me", get(me))
        .route("/v2/phone-calls", post(create_phone_call).get(list_phone_calls))
        .route("/v2/phone-calls/search", post(search_phone_calls))
        .route("/v2/phone-calls/{id}", get(get_phone_call).put(update_phone_call))
}

/// Paging: `limit` (≤ 100) and `offset`, an opaque cursor. The answer's
/// `pagination.offset` is the cursor of the next page; a page shorter than
/// `limit` is the last.
pub struct Page {
    limit: usize,
    start: usize,
}

fn cursor(start: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("cursor:{start}"))
}

fn page(raw: &Option<String>) -> Result<Page, Response> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let limit = match get("limit").map(str::parse::<usize>) {
        None => 25,
        Some(Ok(v)) if (1..=100).contains(&v) => v,
        _ => return Err(bad_request("sellsy", "limit must be between 1 and 100")),
    };
    let start = match get("offset") {
        None | Some("") | Some("0") => 0,
        Some(text) => {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("cursor:").and_then(|n| n.parse().ok()));
            match decoded.or_else(|| text.parse().ok()) {
                Some(n) => n,
                None => return Err(bad_request("sellsy", "offset is not a valid cursor")),
            }
        }
    };
    Ok(Page { limit, start })
}

/// The paging of a list or search request, read from its query; a bad
/// `limit` or `offset` is a 400 before the handler runs.
pub struct Paging(Page);

impl FromRequestParts<AppState> for Paging {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        page(&parts.uri.query().map(str::to_owned)).map(Paging)
    }
}

fn paged(items: Vec<Value>, page: &Page) -> Response {
    let total = items.len();
    let data: Vec<Value> = items.into_iter().skip(page.start).take(page.limit).collect();
    let next = (page.start + data.len()).min(total);
    json_status(
        StatusCode::OK,
        json!({"pagination": {"limit": page.limit, "count": data.len(), "total": total, "offset": cursor(next)}, "data": data}),
    )
}

/// `{start, end}` in ISO 8601, either bound optional.
fn date_range(value: &Value) -> Result<(Option<i64>, Option<i64>), String> {
    let bound = |key: &str| -> Result<Option<i64>, String> {
        match &value[key] {
            Value::Null => Ok(None),
            Value::String(s) => parse_iso8601(s)
                .map(Some)
                .ok_or_else(|| format!("{key}: {s:?} is not a date-time")),
            other => Err(format!("{key}: expected a date-time string, got {other}")),
        }
    };
    Ok((bound("start")?, bound("end")?))
}

fn in_range(ms: i64, range: (Option<i64>, Option<i64>)) -> bool {
    range.0.is_none_or(|s| ms >= s) && range.1.is_none_or(|e| ms <= e)
}

/// The `filters` object of a search body; missing `filters` is a 400, as in Sellsy.
fn filters(body: &Option<Json<Value>>, allowed: &[&str]) -> Result<Map<String, Value>, Response> {
    let Some(Json(body)) = body else {
        return Err(bad_request("sellsy", "the body must be JSON"));
    };
    let Some(filters) = body.get("filters").and_then(Value::as_object) else {
        return Err(bad_request("sellsy", "filters is required"));
    };
    if let Some(unknown) = filters.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad_request("sellsy", format!("filters.{unknown} is not allowed")));
    }
    Ok(filters.clone())
}

async fn list_contacts(_: SellsyAuth, State(s): State<AppState>, Paging(page): Paging) -> Response {
    let world = s.world();
    let items = world
        .sellsy
        .contacts
        .values()
        .map(|c| world.sellsy.contact_json(c))
        .collect();
    paged(items, &page)
}

async fn search_contacts(
    _: SellsyAuth,
    State(s): State<AppState>,
    Paging(page): Paging,
    body: Option<Json<Value>>,
) -> Response {
    let allowed = [
        "companies",
        "individuals",
        "created",
        "updated",
        "last_name",
        "birth_date",
        "email",
        "phone_number",
        "mobile_number",
        "id",
        "favourite_filter",
        "is_linked",
        "country_code",
        "postal_code",
        "is_archived",
    ];
    let filters = match filters(&body, &allowed) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let updated = match filters.get("updated").map(date_range).transpose() {
        Ok(r) => r,
        Err(message) => return bad_request("sellsy", format!("filters.updated.{message}")),
    };
    let created = match filters.get("created").map(date_range).transpose() {
        Ok(r) => r,
        Err(message) => return bad_request("sellsy", format!("filters.created.{message}")),
    };
    let exact = |key: &str| filters.get(key).and_then(Value::as_str).map(str::to_owned);
    let (phone, mobile, email, last_name) = (
        exact("phone_number"),
        exact("mobile_number"),
        exact("email"),
        exact("last_name"),
    );
    let ids: Option<Vec<i64>> = filters
        .get("id")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect());
    let companies: Option<Vec<i64>> = filters
        .get("companies")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect());
    let world = s.world();
    let sellsy = &world.sellsy;
    let items = sellsy
        .contacts
        .values()
        // Sellsy compares phone values exactly as stored: "+33 6 12…" ≠ "+336 12…".
        .filter(|c| phone.as_deref().is_none_or(|p| c.str("phone_number") == Some(p)))
        .filter(|c| {
            mobile
                .as_deref()
                .is_none_or(|p| c.str("mobile_number") == Some(p))
        })
        .filter(|c| {
            email
                .as_deref()
                .is_none_or(|e| c.str("email").is_some_and(|v| v.eq_ignore_ascii_case(e)))
        })
        .filter(|c| last_name.as_deref().is_none_or(|n| c.str("last_name") == Some(n)))
        .filter(|c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
        .filter(|c| {
            companies.as_ref().is_none_or(|cos| {
                sellsy
                    .links
                    .iter()
                    .any(|(ct, co)| *ct == c.id && cos.contains(co))
            })
        })
        .filter(|c| updated.is_none_or(|r| in_range(c.updated_ms, r)))
        .filter(|c| created.is_none_or(|r| in_range(c.created_ms, r)))
        .map(|c| sellsy.contact_json(c))
        .collect();
    paged(items, &page)
}

async fn get_contact(_: SellsyAuth, State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let world = s.world();
    match world.sellsy.contacts.get(&id) {
        Some(c) => json_status(StatusCode::OK, world.sellsy.contact_json(c)),
        None => not_found("sellsy"),
    }
}

async fn contact_companies(
    _: SellsyAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Paging(page): Paging,
) -> Response {
    let world = s.world();
    let sellsy = &world.sellsy;
    if !sellsy.contacts.contains_key(&id) {
        return not_found("sellsy");
    }
    let items = sellsy
        .links
        .iter()
        .filter(|(ct, _)| *ct == id)
        .filter_map(|(_, co)| sellsy.companies.get(co))
        .map(|co| sellsy.third_json(co, false))
        .collect();
    paged(items, &page)
}

fn list_thirds(s: &AppState, page: &Page, individual: bool, body: Option<&Map<String, Value>>) -> Response {
    let range = |key: &str| body.and_then(|f| f.get(key)).map(date_range).transpose();
    // Companies and individuals filter on `updated_at` (contacts: `updated`).
    let (updated, created) = match (range("updated_at"), range("created")) {
        (Ok(u), Ok(c)) => (u, c),
        (Err(m), _) | (_, Err(m)) => return bad_request("sellsy", format!("filters: {m}")),
    };
    let world = s.world();
    let sellsy = &world.sellsy;
    let records = if individual {
        &sellsy.individuals
    } else {
        &sellsy.companies
    };
    let items = records
        .values()
        .filter(|r| updated.is_none_or(|range| in_range(r.updated_ms, range)))
        .filter(|r| created.is_none_or(|range| in_range(r.created_ms, range)))
        .map(|r| sellsy.third_json(r, individual))
        .collect();
    paged(items, page)
}

async fn list_companies(_: SellsyAuth, State(s): State<AppState>, Paging(page): Paging) -> Response {
    list_thirds(&s, &page, false, None)
}

async fn list_individuals(_: SellsyAuth, State(s): State<AppState>, Paging(page): Paging) -> Response {
    list_thirds(&s, &page, true, None)
}

const THIRD_FILTERS: [&str; 13] = [
    "created",
    "updated_at",
    "name",
    "email",
    "type",
    "is_archived",
    "contacts",
    "id",
    "country_code",
    "postal_code",
    "favourite_filter",
    "reference",
    "number_of_employees",
];

async fn search_companies(
    _: SellsyAuth,
    State(s): State<AppState>,
    Paging(page): Paging,
    body: Option<Json<Value>>,
) -> Response {
    match filters(&body, &THIRD_FILTERS) {
        Ok(f) => list_thirds(&s, &page, false, Some(&f)),
        Err(r) => r,
    }
}

async fn search_individuals(
    _: SellsyAuth,
    State(s): State<AppState>,
    Paging(page): Paging,
    body: Option<Json<Value>>,
) -> Response {
    match filters(&body, &THIRD_FILTERS) {
        Ok(f) => list_thirds(&s, &page, true, Some(&f)),
        Err(r) => r,
    }
}

async fn get_company(_: SellsyAuth, State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let world = s.world();
    match world.sellsy.companies.get(&id) {
        Some(r) => json_status(StatusCode::OK, world.sellsy.third_json(r, false)),
        None => not_found("sellsy"),
    }
}

async fn get_individual(_: SellsyAuth, State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let world = s.world();
    match world.sellsy.individuals.get(&id) {
        Some(r) => json_status(StatusCode::OK, world.sellsy.third_json(r, true)),
        None => not_found("sellsy"),
    }
}

async fn search_opportunities(
    _: SellsyAuth,
    State(s): State<AppState>,
    Paging(page): Paging,
    body: Option<Json<Value>>,
) -> Response {
    let allowed = [
        "related_objects",
        "statuses",
        "contacts",
        "created",
        "updated_status",
        "owners",
        "pipelines",
        "steps",
        "id",
    ];
    let filters = match filters(&body, &allowed) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let related: Option<Vec<(String, i64)>> =
        filters.get("related_objects").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|o| Some((o["type"].as_str()?.to_owned(), o["id"].as_i64()?)))
                .collect()
        });
    let statuses: Option<Vec<String>> = filters
        .get("statuses")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect());
    let contacts: Option<Vec<i64>> = filters
        .get("contacts")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect());
    let world = s.world();
    let sellsy = &world.sellsy;
    let mut found: Vec<&Record> = sellsy
        .opportunities
        .values()
        .filter(|o| {
            related.as_ref().is_none_or(|rel| {
                o.fields["related"].as_array().into_iter().flatten().any(|x| {
                    rel.iter()
                        .any(|(t, id)| x["type"] == t.as_str() && x["id"].as_i64() == Some(*id))
                })
            })
        })
        .filter(|o| {
            statuses
                .as_ref()
                .is_none_or(|st| o.str("status").is_some_and(|v| st.iter().any(|x| x == v)))
        })
        .filter(|o| {
            contacts.as_ref().is_none_or(|cs| {
                o.fields["contact_ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_i64)
                    .any(|c| cs.contains(&c))
            })
        })
        .collect();
    found.sort_by_key(|o| std::cmp::Reverse(o.updated_ms));
    let items = found.into_iter().map(|o| sellsy.opportunity_json(o)).collect();
    paged(items, &page)
}

async fn list_staffs(_: SellsyAuth, State(s): State<AppState>, Paging(page): Paging) -> Response {
    let world = s.world();
    let items = world
        .sellsy
        .staffs
        .iter()
        .map(|r| world.sellsy.staff_json(r))
        .collect();
    paged(items, &page)
}

/// The connected staff member, with the account id (Sellsy ids are unique per account only).
async fn me(_: SellsyAuth, State(s): State<AppState>) -> Response {
    let world = s.world();
    match world.sellsy.staffs.first() {
        Some(staff) => {
            let mut out = world.sellsy.staff_json(staff);
            out["account_id"] = json!(world.sellsy.account_id);
            json_status(StatusCode::OK, out)
        }
        None => not_found("sellsy"),
    }
}

/// Checks a phone-call body as `PhoneCallCreateItem` / `PhoneCallUpdateItem` say.
pub fn validate_phone_call(body: &Value, creating: bool) -> Result<(), String> {
    let Some(o) = body.as_object() else {
        return Err("the body must be a JSON object".into());
    };
    if creating {
        for key in ["owner_id", "date", "result", "source", "related"] {
            if !o.contains_key(key) {
                return Err(format!("{key}: is required"));
            }
        }
    }
    if let Some(v) = o.get("owner_id") {
        if !v.is_i64() {
            return Err("owner_id: must be an integer".into());
        }
    }
    if let Some(v) = o.get("result") {
        if !v.as_str().is_some_and(|r| RESULTS.contains(&r)) {
            return Err(format!("result: {v} is not one of {RESULTS:?}"));
        }
    }
    if let Some(v) = o.get("source") {
        if !v.as_str().is_some_and(|r| SOURCES.contains(&r)) {
            return Err(format!("source: {v} is not one of {SOURCES:?}"));
        }
    }
    if let Some(v) = o.get("date") {
        if v.as_str().and_then(parse_iso8601).is_none() {
            return Err("date: must be a date-time".into());
        }
    }
    if let Some(v) = o.get("duration") {
        if v.as_i64().is_none_or(|d| d < 0) {
            return Err("duration: must be a positive integer".into());
        }
    }
    if let Some(v) = o.get("description") {
        if !v.is_string() && !v.is_null() {
            return Err("description: must be a string".into());
        }
    }
    if let Some(v) = o.get("related") {
        let Some(items) = v.as_array() else {
            return Err("related: must be an array".into());
        };
        if items.is_empty() || items.len() > 3 {
            return Err("related: between 1 and 3 objects".into());
        }
        let mut seen = Vec::new();
        for item in items {
            let kind = item["type"].as_str().unwrap_or("");
            if !RELATED_TYPES.contains(&kind) || !item["id"].is_i64() {
                return Err(format!(
                    "related: {item} needs an integer id and a type among {RELATED_TYPES:?}"
                ));
            }
            if seen.contains(&kind) {
                return Err(format!("related: at most one {kind}"));
            }
            seen.push(kind);
        }
    }
    Ok(())
}

fn related_exist(sellsy: &SellsyWorld, body: &Value) -> Result<(), String> {
    for item in body["related"].as_array().into_iter().flatten() {
        let id = item["id"].as_i64().unwrap_or(0);
        let exists = match item["type"].as_str() {
            Some("contact") => sellsy.contacts.contains_key(&id),
            Some("company") => sellsy.companies.contains_key(&id),
            Some("individual") => sellsy.individuals.contains_key(&id),
            Some("opportunity") => sellsy.opportunities.contains_key(&id),
            _ => false,
        };
        if !exists {
            return Err(format!("related: {item} does not exist"));
        }
    }
    if let Some(owner) = body["owner_id"].as_i64() {
        if !sellsy.staffs.iter().any(|s| s.id == owner) {
            return Err(format!("owner_id: no staff {owner}"));
        }
    }
    Ok(())
}

async fn create_phone_call(_: SellsyAuth, State(s): State<AppState>, body: Option<Json<Value>>) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("sellsy", "the body must be JSON");
    };
    if let Err(message) = validate_phone_call(&body, true) {
        return bad_request("sellsy", message);
    }
    let now = s.clock.now_ms();
    let mut world = s.world();
    let sellsy = &mut world.sellsy;
    if let Err(message) = related_exist(sellsy, &body) {
        return bad_request("sellsy", message);
    }
    let id = sellsy.next_id;
    sellsy.next_id += 1;
    let Value::Object(fields) = body else {
        unreachable!("validated as an object")
    };
    let record = Record {
        id,
        fields,
        created_ms: now,
        updated_ms: now,
        region: "FR".into(),
    };
    let out = sellsy.phone_call_json(&record);
    sellsy.phone_calls.insert(id, record);
    json_status(StatusCode::CREATED, out)
}

async fn update_phone_call(
    _: SellsyAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("sellsy", "the body must be JSON");
    };
    if let Err(message) = validate_phone_call(&body, false) {
        return bad_request("sellsy", message);
    }
    let now = s.clock.now_ms();
    let mut world = s.world();
    let sellsy = &mut world.sellsy;
    if let Err(message) = related_exist(sellsy, &body) {
        return bad_request("sellsy", message);
    }
    let Some(record) = sellsy.phone_calls.get_mut(&id) else {
        return not_found("sellsy");
    };
    if let Value::Object(fields) = body {
        for (k, v) in fields {
            record.fields.insert(k, v);
        }
    }
    record.updated_ms = now;
    let record = record.clone();
    json_status(StatusCode::OK, sellsy.phone_call_json(&record))
}

async fn get_phone_call(_: SellsyAuth, State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let world = s.world();
    match world.sellsy.phone_calls.get(&id) {
        Some(r) => json_status(StatusCode::OK, world.sellsy.phone_call_json(r)),
        None => not_found("sellsy"),
    }
}

async fn list_phone_calls(_: SellsyAuth, State(s): State<AppState>, Paging(page): Paging) -> Response {
    let world = s.world();
    let items = world
        .sellsy
        .phone_calls
        .values()
        .map(|r| world.sellsy.phone_call_json(r))
        .collect();
    paged(items, &page)
}

async fn search_phone_calls(
    _: SellsyAuth,
    State(s): State<AppState>,
    Paging(page): Paging,
    body: Option<Json<Value>>,
) -> Response {
    let allowed = [
        "created",
        "owners",
        "related_objects",
        "companies",
        "individuals",
        "contacts",
        "topic",
        "result",
        "source",
        "date",
    ];
    let filters = match filters(&body, &allowed) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let related: Option<Vec<(String, i64)>> =
        filters.get("related_objects").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|o| Some((o["type"].as_str()?.to_owned(), o["id"].as_i64()?)))
                .collect()
        });
    let contacts: Option<Vec<i64>> = filters
        .get("contacts")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect());
    let world = s.world();
    let sellsy = &world.sellsy;
    let items =
        sellsy
            .phone_calls
            .values()
            .filter(|r| {
                related.as_ref().is_none_or(|rel| {
                    r.fields["related"].as_array().into_iter().flatten().any(|x| {
                        rel.iter()
                            .any(|(t, id)| x["type"] == t.as_str() && x["id"].as_i64() == Some(*id))
                    })
                })
            })
            .filter(|r| {
                contacts.as_ref().is_none_or(|cs| {
                    r.fields["related"].as_array().into_iter().flatten().any(|x| {
                        x["type"] == "contact" && x["id"].as_i64().is_some_and(|id| cs.contains(&id))
                    })
                })
            })
            .map(|r| sellsy.phone_call_json(r))
            .collect();
    paged(items, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Value {
        json!({"owner_id": 1, "date": "2026-01-02T10:00:00Z", "result": "connected", "source": "outcoming",
               "related": [{"id": 5, "type": "contact"}, {"id": 6, "type": "opportunity"}]})
    }

    #[test]
    fn a_valid_phone_call_passes() {
        assert_eq!(validate_phone_call(&call(), true), Ok(()));
    }

    #[test]
    fn outgoing_is_not_sellsys_spelling() {
        let mut body = call();
        body["source"] = json!("outgoing");
        assert!(validate_phone_call(&body, true)
            .unwrap_err()
            .starts_with("source"));
    }

    #[test]
    fn related_holds_one_to_three_objects_one_per_type() {
        let mut body = call();
        body["related"] = json!([{"id": 1, "type": "contact"}, {"id": 2, "type": "contact"}]);
        assert!(validate_phone_call(&body, true)
            .unwrap_err()
            .contains("at most one contact"));
        body["related"] = json!([]);
        assert!(validate_phone_call(&body, true).is_err());
    }

    #[test]
    fn required_fields_are_named() {
        let mut body = call();
        body.as_object_mut().unwrap().remove("owner_id");
        assert_eq!(
            validate_phone_call(&body, true).unwrap_err(),
            "owner_id: is required"
        );
        assert_eq!(validate_phone_call(&json!({"duration": 5}), false), Ok(()));
    }

    #[test]
    fn cursors_round_trip() {
        let p = page(&Some(format!("limit=10&offset={}", cursor(30))))
            .ok()
            .unwrap();
        assert_eq!((p.limit, p.start), (10, 30));
    }
}
