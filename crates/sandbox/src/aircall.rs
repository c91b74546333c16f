//! The Aircall API (v1 and v2 users): Basic auth, calls with paging and the
//! 10,000-result cap, AI endpoints that 404 until ready, insight cards,
//! users, numbers, teams, tags, contacts, dial. Shapes follow the reference
//! samples in `shared/specs/aircall`.

use crate::http::{bad_request, json_status, not_found, vendor_error, AppState};
use crate::state::Record;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const API_HOST: &str = "https://api.aircall.io";
const MAX_PER_PAGE: u32 = 50;
/// Aircall refuses to page past 10,000 results.
const RESULT_CAP: u64 = 10_000;

#[derive(Debug, Clone)]
pub struct AircallUser {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub available: bool,
    /// Aircall Workspace is open on the user's computer (dial needs it).
    pub workspace_open: bool,
    pub numbers: Vec<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct Ai {
    pub summary: String,
    pub topics: Vec<String>,
    pub sentiment: String,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub id: i64,
    pub direction: String,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub raw_digits: String,
    pub number_id: i64,
    pub user_id: Option<i64>,
    pub voicemail: Option<String>,
    pub recording: Option<String>,
    pub missed_call_reason: Option<String>,
    pub tags: Vec<i64>,
    pub comments: Vec<Value>,
    pub transferred_to: Option<i64>,
    pub transferred_by: Option<i64>,
    pub ai: Option<Ai>,
}

impl Call {
    pub fn status(&self) -> &'static str {
        match (self.ended_at, self.answered_at) {
            (Some(_), _) => "done",
            (None, Some(_)) => "answered",
            (None, None) => "initial",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InsightCard {
    pub call_id: i64,
    pub contents: Value,
    pub t_ms: i64,
    /// Whether the call was still live: Aircall only shows cards then.
    pub live: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dial {
    pub user_id: i64,
    pub to: String,
    pub number_id: Option<i64>,
    pub kind: &'static str,
    pub t_ms: i64,
}

pub struct AircallWorld {
    pub users: Vec<AircallUser>,
    pub numbers: Vec<Value>,
    pub teams: Vec<Value>,
    pub tags: Vec<Value>,
    pub calls: BTreeMap<i64, Call>,
    pub contacts: BTreeMap<i64, Record>,
    pub insight_cards: Vec<InsightCard>,
    pub dials: Vec<Dial>,
    pub next_id: i64,
}

impl AircallWorld {
    pub fn new(users: Vec<AircallUser>, numbers: Vec<Value>, teams: Vec<Value>, tags: Vec<Value>) -> Self {
        Self {
            users,
            numbers,
            teams,
            tags,
            calls: BTreeMap::new(),
            contacts: BTreeMap::new(),
            insight_cards: Vec::new(),
            dials: Vec::new(),
            next_id: 900_000,
        }
    }

    pub fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn user(&self, id: i64) -> Option<&AircallUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Busy: answered a call that has not ended.
    pub fn user_busy(&self, id: i64) -> bool {
        self.calls
            .values()
            .any(|c| c.user_id == Some(id) && c.answered_at.is_some() && c.ended_at.is_none())
    }

    pub fn user_json(&self, user: &AircallUser) -> Value {
        let busy = self.user_busy(user.id);
        json!({
            "id": user.id,
            "direct_link": format!("{API_HOST}/v1/users/{}", user.id),
            "name": user.name,
            "email": user.email,
            "available": user.available && !busy,
            "availability_status": if !user.available { "unavailable" } else if busy { "in_call" } else { "available" },
            "created_at": "2024-01-15T09:00:00.000Z",
            "time_zone": "Europe/Paris",
            "language": "en-US",
            "substatus": "always_opened",
            "wrap_up_time": 0,
        })
    }

    fn number_json(&self, number: &Value) -> Value {
        let mut out = json!({
            "direct_link": format!("{API_HOST}/v1/numbers/{}", number["id"]),
            "created_at": "2024-01-02T11:41:01.000Z",
            "open": true,
            "availability_status": "open",
            "is_ivr": false,
            "live_recording_activated": false,
            "priority": null,
            // The number's recorded messages, as Aircall lists them.
            "messages": {
                "welcome": null, "waiting": null, "ivr": null, "voicemail": null, "closed": null,
                "callback_later": null, "unanswered_call": null, "after_hours": null, "ringing_tone": null,
            },
        });
        merge(&mut out, number);
        out
    }

    fn tag_json(&self, tag: &Value) -> Value {
        let mut out = json!({"direct_link": format!("{API_HOST}/v1/tags/{}", tag["id"])});
        merge(&mut out, tag);
        out
    }

    fn team_json(&self, team: &Value) -> Value {
        let users: Vec<Value> = team["users"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .filter_map(|id| self.user(id))
            .map(|u| self.user_json(u))
            .collect();
        json!({
            "id": team["id"],
            "direct_link": format!("{API_HOST}/v1/teams/{}", team["id"]),
            "name": team["name"],
            "created_at": "2024-01-02T11:41:01.000Z",
            "users": users,
        })
    }

    pub fn contact_json(&self, contact: &Record) -> Value {
        let mut out = json!({
            "id": contact.id,
            "direct_link": format!("{API_HOST}/v1/contacts/{}", contact.id),
            "first_name": null, "last_name": null, "company_name": null, "information": null,
            "is_shared": true, "phone_numbers": [], "emails": [],
            "created_at": contact.created_ms / 1000, "updated_at": contact.updated_ms / 1000,
        });
        merge(&mut out, &Value::Object(contact.fields.clone()));
        out
    }

    /// Aircall contacts whose phone numbers match `e164`.
    pub fn contacts_with_number(&self, e164: &str) -> Vec<&Record> {
        self.contacts
            .values()
            .filter(|c| {
                c.fields["phone_numbers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["value"].as_str())
                    .any(|v| same_number(v, e164))
            })
            .collect()
    }

    pub fn call_json(&self, call: &Call, now_secs: i64, fetch_contact: bool) -> Value {
        let user = call
            .user_id
            .and_then(|id| self.user(id))
            .map(|u| self.user_json(u));
        let number = self
            .numbers
            .iter()
            .find(|n| n["id"].as_i64() == Some(call.number_id))
            .map(|n| self.number_json(n));
        let teams: Value = if call.direction == "inbound" {
            let teams: Vec<Value> = self
                .teams
                .iter()
                .filter(|t| {
                    t["users"].as_array().into_iter().flatten().filter_map(Value::as_i64).any(|uid| {
                        self.user(uid).is_some_and(|u| u.numbers.contains(&call.number_id))
                    })
                })
                .map(|t| json!({"id": t["id"], "name": t["name"], "direct_link": format!("{API_HOST}/v1/teams/{}", t["id"])}))
                .collect();
            Value::Array(teams)
        } else {
            Value::Null
        };
        // The comment's author as Aircall shows it: the whole user.
        let comments: Vec<Value> = call
            .comments
            .iter()
            .map(|comment| {
                let mut comment = comment.clone();
                if let Some(author) = comment["posted_by"]["id"].as_i64().and_then(|id| self.user(id)) {
                    comment["posted_by"] = self.user_json(author);
                }
                comment
            })
            .collect();
        let tags: Vec<Value> = call
            .tags
            .iter()
            .filter_map(|id| self.tags.iter().find(|t| t["id"].as_i64() == Some(*id)))
            .map(|t| json!({"id": t["id"], "name": t["name"], "tagged_at": now_secs, "tagged_by": user.clone()}))
            .collect();
        let contact = if fetch_contact {
            self.contacts_with_number(&call.raw_digits)
                .first()
                .map(|c| self.contact_json(c))
        } else {
            None
        };
        let end = call.ended_at.unwrap_or(now_secs);
        json!({
            "id": call.id,
            "sid": format!("CA{:032x}", call.id),
            "direct_link": format!("{API_HOST}/v1/calls/{}", call.id),
            "direction": call.direction,
            "status": call.status(),
            "missed_call_reason": call.missed_call_reason,
            "started_at": call.started_at,
            "answered_at": call.answered_at,
            "ended_at": call.ended_at,
            "duration": (end - call.started_at).max(0),
            "voicemail": call.voicemail,
            "recording": call.recording,
            "asset": (call.recording.is_some() || call.voicemail.is_some())
                .then(|| format!("https://assets.aircall.io/calls/{}/recording", call.id)),
            "raw_digits": call.raw_digits,
            "user": user,
            "contact": contact,
            "archived": false,
            "assigned_to": null,
            "transferred_by": call.transferred_by.and_then(|id| self.user(id)).map(|u| self.user_json(u)),
            "transferred_to": call.transferred_to.and_then(|id| self.user(id)).map(|u| self.user_json(u)),
            "cost": "0.0",
            "number": number,
            "comments": comments,
            "tags": tags,
            "teams": teams,
        })
    }
}

fn merge(target: &mut Value, extra: &Value) {
    if let (Some(target), Some(extra)) = (target.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            target.insert(k.clone(), v.clone());
        }
    }
}

/// Digits only, for comparing numbers written with spaces and dashes.
pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

fn same_number(a: &str, b: &str) -> bool {
    let (a, b) = (digits(a), digits(b));
    !a.is_empty() && a == b
}

/// HTTP Basic with the company's API id and token. Missing → 401, wrong → 403,
/// as the real API answers.
pub struct AircallAuth;

impl FromRequestParts<AppState> for AircallAuth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Err(vendor_error("aircall", 401, None));
        };
        let expected = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            s.credentials.aircall_api_id, s.credentials.aircall_api_token
        ));
        match header.to_str().ok().and_then(|v| v.strip_prefix("Basic ")) {
            Some(given) if given.trim() == expected => Ok(AircallAuth),
            _ => Err(vendor_error("aircall", 403, None)),
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/ping", get(ping))
        .route("/v1/calls", get(list_calls))
        .route("/v1/calls/search", get(search_calls))
        .route("/v1/calls/{id}", get(get_call))
        .route("/v1/calls/{id}/{ai}", get(get_ai))
        .route("/v1/calls/{id}/insight_cards", post(post_insight_card))
        .route("/v2/users", get(list_users))
        .route("/v2/users/{key}", get(get_user))
        .route("/v2/users/{id}/numbers", get(user_numbers))
        .route("/v1/users/{id}/dial", post(dial))
        .route("/v1/users/{id}/calls", post(start_call))
        .route("/v1/numbers", get(list_numbers))
        .route("/v1/numbers/{id}", get(get_number))
        .route("/v1/webhooks", get(list_webhooks).post(create_webhook))
        .route("/v1/webhooks/{id}", get(get_webhook).delete(delete_webhook))
        .route("/v1/teams", get(list_teams))
        .route("/v1/tags", get(list_tags))
        .route("/v1/contacts", post(create_contact))
        .route("/v1/contacts/search", get(search_contacts))
        .route(
            "/v1/contacts/{id}",
            get(get_contact).post(update_contact).delete(delete_contact),
        )
        .route("/v1/contacts/{id}/phone_details", post(add_phone))
        .route(
            "/v1/contacts/{id}/phone_details/{detail}",
            axum::routing::put(update_phone).delete(delete_phone),
        )
}

/// Aircall's webhook object: the token is in every answer that shows the webhook.
fn webhook_json(target: &crate::webhooks::Target) -> Value {
    let id = target.webhook_id.clone().unwrap_or_default();
    json!({
        "webhook_id": id,
        "direct_link": format!("{API_HOST}/v1/webhooks/{id}"),
        "created_at": target.created_at,
        "url": target.url,
        "active": true,
        "token": target.token,
        "custom_name": target.custom_name,
        "events": target.events,
    })
}

/// `POST /v1/webhooks {url, events?, custom_name?}` → 201 with the token.
/// The sandbox keeps one webhook: a new one replaces it.
async fn create_webhook(_: AircallAuth, State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let Some(url) = body["url"].as_str().filter(|u| url::Url::parse(u).is_ok()) else {
        return json_status(
            StatusCode::BAD_REQUEST,
            json!({"error": "Bad Request", "troubleshoot": "url is required and must be a URL"}),
        );
    };
    let events: Vec<String> = body["events"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let random = |n: usize| -> String {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        (0..n).map(|_| format!("{:x}", rng.gen_range(0..16))).collect()
    };
    let target = crate::webhooks::Target {
        url: url.to_owned(),
        token: random(32),
        webhook_id: Some(format!(
            "{}-{}-{}-{}-{}",
            random(8),
            random(4),
            random(4),
            random(4),
            random(12)
        )),
        custom_name: body["custom_name"].as_str().map(str::to_owned),
        events,
        created_at: crate::clock::iso8601(s.clock.now_ms()),
    };
    s.webhooks.set(target.clone());
    json_status(StatusCode::CREATED, json!({ "webhook": webhook_json(&target) }))
}

fn registered(s: &AppState) -> Option<crate::webhooks::Target> {
    s.webhooks.target().filter(|t| t.webhook_id.is_some())
}

async fn list_webhooks(_: AircallAuth, State(s): State<AppState>) -> Response {
    let webhooks: Vec<Value> = registered(&s).iter().map(webhook_json).collect();
    json_status(
        StatusCode::OK,
        json!({"webhooks": webhooks, "meta": meta(webhooks.len())}),
    )
}

async fn get_webhook(_: AircallAuth, State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match registered(&s).filter(|t| t.webhook_id.as_deref() == Some(id.as_str())) {
        Some(target) => json_status(StatusCode::OK, json!({ "webhook": webhook_json(&target) })),
        None => vendor_error("aircall", 404, None),
    }
}

async fn delete_webhook(_: AircallAuth, State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match registered(&s).filter(|t| t.webhook_id.as_deref() == Some(id.as_str())) {
        Some(_) => {
            s.webhooks.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        None => vendor_error("aircall", 404, None),
    }
}

async fn ping(_: AircallAuth) -> Response {
    json_status(StatusCode::OK, json!({"ping": "pong"}))
}

/// Query parameters, read leniently from the raw string so `tags[]` works.
fn params(raw: &Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

async fn list_calls(_: AircallAuth, State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    calls_page(&s, "/v1/calls", params(&raw), false)
}

async fn search_calls(_: AircallAuth, State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    calls_page(&s, "/v1/calls/search", params(&raw), true)
}

fn calls_page(s: &AppState, path: &str, params: Vec<(String, String)>, search: bool) -> Response {
    let number = |key: &str| -> Result<Option<i64>, Response> {
        match param(&params, key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| bad_request("aircall", format!("{key} must be an integer"))),
        }
    };
    let (from, to, page, per_page, user_id) = match (
        number("from"),
        number("to"),
        number("page"),
        number("per_page"),
        number("user_id"),
    ) {
        (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e)) => (a, b, c.unwrap_or(1), d.unwrap_or(20), e),
        (Err(r), ..) | (_, Err(r), ..) | (_, _, Err(r), ..) | (_, _, _, Err(r), _) | (.., Err(r)) => {
            return r
        }
    };
    if page < 1 || per_page < 1 {
        return bad_request("aircall", "page and per_page start at 1");
    }
    let per_page = per_page.min(MAX_PER_PAGE as i64);
    if (page as u64) * (per_page as u64) > RESULT_CAP {
        return bad_request(
            "aircall",
            "Paging is limited to 10000 results: narrow the from/to window",
        );
    }
    let order_desc = param(&params, "order") == Some("desc");
    let direction = param(&params, "direction");
    let phone = search
        .then(|| param(&params, "phone_number"))
        .flatten()
        .map(digits);
    let tags: Vec<String> = params
        .iter()
        .filter(|(k, _)| search && (k == "tags[]" || k == "tags"))
        .map(|(_, v)| v.clone())
        .collect();
    let fetch_contact = param(&params, "fetch_contact") == Some("true");
    let now = s.clock.now_secs();
    let world = s.world();
    let aircall = &world.aircall;
    let mut calls: Vec<&Call> = aircall
        .calls
        .values()
        .filter(|c| from.is_none_or(|f| c.started_at >= f))
        .filter(|c| to.is_none_or(|t| c.started_at <= t))
        .filter(|c| direction.is_none_or(|d| c.direction == d))
        .filter(|c| !search || user_id.is_none_or(|u| c.user_id == Some(u)))
        .filter(|c| {
            phone
                .as_ref()
                .is_none_or(|p| digits(&c.raw_digits).ends_with(p.as_str()))
        })
        .filter(|c| {
            tags.iter().all(|tag| {
                c.tags.iter().any(|id| {
                    aircall.tags.iter().any(|t| {
                        t["id"].as_i64() == Some(*id)
                            && (t["name"] == tag.as_str()
                                || t["id"].as_i64().is_some_and(|id| tag.parse() == Ok(id)))
                    })
                })
            })
        })
        .collect();
    calls.sort_by_key(|c| (c.started_at, c.id));
    if order_desc {
        calls.reverse();
    }
    let total = calls.len() as i64;
    let start = ((page - 1) * per_page) as usize;
    let items: Vec<Value> = calls
        .iter()
        .skip(start)
        .take(per_page as usize)
        .map(|c| aircall.call_json(c, now, fetch_contact))
        .collect();
    let link = |p: i64| {
        let mut url = url::Url::parse(&format!("{}/aircall{path}", s.base_url)).expect("base url");
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params.iter().filter(|(k, _)| k != "page" && k != "per_page") {
                q.append_pair(k, v);
            }
            q.append_pair("page", &p.to_string());
            q.append_pair("per_page", &per_page.to_string());
        }
        url.to_string()
    };
    // As Aircall does: the link is there even when following it passes the
    // 10,000 cap (and answers 400).
    let has_next = page * per_page < total;
    json_status(
        StatusCode::OK,
        json!({
            "meta": {
                "count": items.len(),
                "total": total,
                "current_page": page,
                "per_page": per_page,
                "next_page_link": has_next.then(|| link(page + 1)),
                "previous_page_link": (page > 1).then(|| link(page - 1)),
            },
            "calls": items,
        }),
    )
}

async fn get_call(
    _: AircallAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> Response {
    let fetch_contact = param(&params(&raw), "fetch_contact") == Some("true");
    let now = s.clock.now_secs();
    let world = s.world();
    match world.aircall.calls.get(&id) {
        Some(call) => json_status(
            StatusCode::OK,
            json!({"call": world.aircall.call_json(call, now, fetch_contact)}),
        ),
        None => not_found("aircall"),
    }
}

/// AI data needs the AI add-on and is computed minutes after the call: 404 until then.
async fn get_ai(
    _: AircallAuth,
    State(s): State<AppState>,
    Path((id, kind)): Path<(i64, String)>,
) -> Response {
    let world = s.world();
    let Some(ai) = world.aircall.calls.get(&id).and_then(|c| c.ai.clone()) else {
        return not_found("aircall");
    };
    let body = match kind.as_str() {
        "summary" => json!({"summary": {"call_id": id, "content": ai.summary}}),
        "topics" => json!({"topic": {"call_id": id, "content": ai.topics}}),
        "sentiments" => json!({"sentiment": {"call_id": id, "participants": [
            {"phone_number": null, "type": "external", "value": ai.sentiment}
        ]}}),
        "transcription" => {
            json!({"transcription": {"call_id": id, "content": {"language": "en", "utterances": []}}})
        }
        "action_items" => json!({"action_items": {"call_id": id, "content": []}}),
        _ => return not_found("aircall"),
    };
    json_status(StatusCode::OK, body)
}

async fn post_insight_card(
    _: AircallAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("aircall", "body must be JSON");
    };
    let Some(contents) = body["contents"].as_array().filter(|c| !c.is_empty()) else {
        return bad_request("aircall", "contents must be a non-empty array");
    };
    for item in contents {
        let ok = match item["type"].as_str() {
            Some("title") => item["text"].is_string(),
            Some("shortText") => item["label"].is_string() && item["text"].is_string(),
            Some("user") => item["label"].is_string() && item["user_id"].is_i64(),
            _ => false,
        };
        if !ok {
            return bad_request("aircall", format!("invalid content line {item}"));
        }
    }
    let t_ms = s.clock.now_ms();
    let mut world = s.world();
    let Some(call) = world.aircall.calls.get(&id) else {
        return not_found("aircall");
    };
    let live = call.ended_at.is_none();
    world.aircall.insight_cards.push(InsightCard {
        call_id: id,
        contents: Value::Array(contents.clone()),
        t_ms,
        live,
    });
    StatusCode::CREATED.into_response()
}

async fn list_users(_: AircallAuth, State(s): State<AppState>) -> Response {
    let world = s.world();
    let users: Vec<Value> = world
        .aircall
        .users
        .iter()
        .map(|u| world.aircall.user_json(u))
        .collect();
    json_status(
        StatusCode::OK,
        json!({"users": users, "meta": {"count": users.len(), "total": users.len(), "current_page": 1,
            "per_page": 50, "next_page_link": null, "previous_page_link": null}}),
    )
}

/// v2 takes the user id or the e-mail in the path.
async fn get_user(_: AircallAuth, State(s): State<AppState>, Path(key): Path<String>) -> Response {
    let world = s.world();
    let user = world
        .aircall
        .users
        .iter()
        .find(|u| u.id.to_string() == key || u.email.eq_ignore_ascii_case(&key));
    match user {
        Some(u) => json_status(StatusCode::OK, json!({"user": world.aircall.user_json(u)})),
        None => not_found("aircall"),
    }
}

async fn user_numbers(_: AircallAuth, State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let world = s.world();
    let Some(user) = world.aircall.user(id) else {
        return not_found("aircall");
    };
    let numbers: Vec<Value> = world
        .aircall
        .numbers
        .iter()
        .filter(|n| n["id"].as_i64().is_some_and(|nid| user.numbers.contains(&nid)))
        .map(|n| world.aircall.number_json(n))
        .collect();
    json_status(StatusCode::OK, json!({"numbers": numbers}))
}

async fn list_numbers(_: AircallAuth, State(s): State<AppState>) -> Response {
    let world = s.world();
    let numbers: Vec<Value> = world
        .aircall
        .numbers
        .iter()
        .map(|n| world.aircall.number_json(n))
        .collect();
    json_status(
        StatusCode::OK,
        json!({"numbers": numbers, "meta": meta(numbers.len())}),
    )
}

async fn get_number(_: AircallAuth, State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let world = s.world();
    match world
        .aircall
        .numbers
        .iter()
        .find(|n| n["id"].as_i64() == Some(id))
    {
        Some(n) => json_status(StatusCode::OK, json!({"number": world.aircall.number_json(n)})),
        None => not_found("aircall"),
    }
}

async fn list_teams(_: AircallAuth, State(s): State<AppState>) -> Response {
    let world = s.world();
    let teams: Vec<Value> = world
        .aircall
        .teams
        .iter()
        .map(|t| world.aircall.team_json(t))
        .collect();
    json_status(StatusCode::OK, json!({"teams": teams, "meta": meta(teams.len())}))
}

async fn list_tags(_: AircallAuth, State(s): State<AppState>) -> Response {
    let world = s.world();
    let tags: Vec<Value> = world
        .aircall
        .tags
        .iter()
        .map(|t| world.aircall.tag_json(t))
        .collect();
    json_status(StatusCode::OK, json!({"tags": tags, "meta": meta(tags.len())}))
}

fn meta(n: usize) -> Value {
    json!({"count": n, "total": n, "current_page": 1, "per_page": 50, "next_page_link": null, "previous_page_link": null})
}

#[derive(serde::Deserialize)]
struct DialBody {
    to: Option<String>,
    number_id: Option<i64>,
}

async fn dial(
    _: AircallAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<DialBody>>,
) -> Response {
    place(&s, id, body, "dial")
}

async fn start_call(
    _: AircallAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<DialBody>>,
) -> Response {
    place(&s, id, body, "call")
}

fn place(s: &AppState, user_id: i64, body: Option<Json<DialBody>>, kind: &'static str) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("aircall", "body must be JSON");
    };
    let Some(to) = body.to.filter(|t| t.starts_with('+') && digits(t).len() >= 6) else {
        return bad_request("aircall", "to must be a number in E.164 format");
    };
    if kind == "call" && body.number_id.is_none() {
        return bad_request("aircall", "number_id is required");
    }
    let t_ms = s.clock.now_ms();
    let mut world = s.world();
    let Some(user) = world.aircall.user(user_id).cloned() else {
        return not_found("aircall");
    };
    if !user.workspace_open || !user.available || world.aircall.user_busy(user_id) {
        // Aircall's state error: Workspace closed, or the user busy or away.
        return json_status(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "Method Not Allowed", "troubleshoot": "User is not available or Aircall Workspace is not open"}),
        );
    }
    world.aircall.dials.push(Dial {
        user_id,
        to,
        number_id: body.number_id,
        kind,
        t_ms,
    });
    StatusCode::NO_CONTENT.into_response()
}

async fn search_contacts(_: AircallAuth, State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let params = params(&raw);
    let phone = param(&params, "phone_number").map(str::to_owned);
    let email = param(&params, "email").map(str::to_lowercase);
    let world = s.world();
    let with_phone: Option<Vec<i64>> = phone.as_deref().map(|p| {
        world
            .aircall
            .contacts_with_number(p)
            .iter()
            .map(|m| m.id)
            .collect()
    });
    let contacts: Vec<Value> = world
        .aircall
        .contacts
        .values()
        .filter(|c| with_phone.as_ref().is_none_or(|ids| ids.contains(&c.id)))
        .filter(|c| {
            email.as_deref().is_none_or(|e| {
                c.fields["emails"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|m| m["value"].as_str().map(str::to_lowercase).as_deref() == Some(e))
            })
        })
        .take(50)
        .map(|c| world.aircall.contact_json(c))
        .collect();
    json_status(
        StatusCode::OK,
        json!({"contacts": contacts, "meta": meta(contacts.len())}),
    )
}

fn contact_fields(body: &Value, require_phones: bool) -> Result<Map<String, Value>, String> {
    let mut fields = Map::new();
    for key in ["first_name", "last_name", "company_name", "information"] {
        match &body[key] {
            Value::Null => {}
            Value::String(_) => {
                fields.insert(key.into(), body[key].clone());
            }
            other => return Err(format!("{key} must be a string, got {other}")),
        }
    }
    for key in ["phone_numbers", "emails"] {
        match &body[key] {
            Value::Null if key == "phone_numbers" && require_phones => {
                return Err("phone_numbers is required".into())
            }
            Value::Null => {}
            Value::Array(items) => {
                if key == "phone_numbers" && require_phones && items.is_empty() {
                    return Err("phone_numbers must not be empty".into());
                }
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let (Some(label), Some(value)) = (item["label"].as_str(), item["value"].as_str()) else {
                        return Err(format!("{key}[{i}] needs label and value"));
                    };
                    out.push(json!({"id": 0, "label": label, "value": value}));
                }
                fields.insert(key.into(), Value::Array(out));
            }
            other => return Err(format!("{key} must be an array, got {other}")),
        }
    }
    Ok(fields)
}

async fn create_contact(_: AircallAuth, State(s): State<AppState>, body: Option<Json<Value>>) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("aircall", "body must be JSON");
    };
    let mut fields = match contact_fields(&body, true) {
        Ok(f) => f,
        Err(message) => return bad_request("aircall", message),
    };
    let now = s.clock.now_ms();
    let mut world = s.world();
    let id = world.aircall.next_id();
    for key in ["phone_numbers", "emails"] {
        if let Some(Value::Array(items)) = fields.get_mut(key) {
            for item in items {
                item["id"] = json!(world.aircall.next_id());
            }
        }
    }
    fields.entry("phone_numbers").or_insert(json!([]));
    fields.entry("emails").or_insert(json!([]));
    let record = Record {
        id,
        fields,
        created_ms: now,
        updated_ms: now,
        region: "GB".into(),
    };
    let out = world.aircall.contact_json(&record);
    world.aircall.contacts.insert(id, record);
    json_status(StatusCode::CREATED, json!({"contact": out}))
}

async fn get_contact(_: AircallAuth, State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let world = s.world();
    match world.aircall.contacts.get(&id) {
        Some(c) => json_status(StatusCode::OK, json!({"contact": world.aircall.contact_json(c)})),
        None => not_found("aircall"),
    }
}

/// Aircall updates a contact with POST (names, company, information); phone
/// numbers and e-mails go through their own endpoints.
async fn update_contact(
    _: AircallAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("aircall", "body must be JSON");
    };
    let fields = match contact_fields(&body, false) {
        Ok(f) => f,
        Err(message) => return bad_request("aircall", message),
    };
    let now = s.clock.now_ms();
    let mut world = s.world();
    let Some(contact) = world.aircall.contacts.get_mut(&id) else {
        return not_found("aircall");
    };
    for (k, v) in fields {
        if k != "phone_numbers" && k != "emails" {
            contact.fields.insert(k, v);
        }
    }
    contact.updated_ms = now;
    let contact = contact.clone();
    json_status(
        StatusCode::OK,
        json!({"contact": world.aircall.contact_json(&contact)}),
    )
}

async fn delete_contact(_: AircallAuth, State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    match s.world().aircall.contacts.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found("aircall"),
    }
}

async fn add_phone(
    _: AircallAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("aircall", "body must be JSON");
    };
    let (Some(label), Some(value)) = (body["label"].as_str(), body["value"].as_str()) else {
        return bad_request("aircall", "label and value are required");
    };
    let mut world = s.world();
    let detail_id = world.aircall.next_id();
    let Some(contact) = world.aircall.contacts.get_mut(&id) else {
        return not_found("aircall");
    };
    let detail = json!({"id": detail_id, "label": label, "value": value});
    if let Some(Value::Array(phones)) = contact.fields.get_mut("phone_numbers") {
        phones.push(detail.clone());
    }
    json_status(StatusCode::CREATED, json!({"phone_detail": detail}))
}

async fn update_phone(
    _: AircallAuth,
    State(s): State<AppState>,
    Path((id, detail)): Path<(i64, i64)>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("aircall", "body must be JSON");
    };
    let mut world = s.world();
    let Some(contact) = world.aircall.contacts.get_mut(&id) else {
        return not_found("aircall");
    };
    let Some(phone) = contact
        .fields
        .get_mut("phone_numbers")
        .and_then(Value::as_array_mut)
        .and_then(|p| p.iter_mut().find(|p| p["id"].as_i64() == Some(detail)))
    else {
        return not_found("aircall");
    };
    for key in ["label", "value"] {
        if let Some(v) = body[key].as_str() {
            phone[key] = json!(v);
        }
    }
    let out = phone.clone();
    json_status(StatusCode::OK, json!({"phone_detail": out}))
}

async fn delete_phone(
    _: AircallAuth,
    State(s): State<AppState>,
    Path((id, detail)): Path<(i64, i64)>,
) -> Response {
    let mut world = s.world();
    let Some(phones) = world
        .aircall
        .contacts
        .get_mut(&id)
        .and_then(|c| c.fields.get_mut("phone_numbers"))
        .and_then(Value::as_array_mut)
    else {
        return not_found("aircall");
    };
    let before = phones.len();
    phones.retain(|p| p["id"].as_i64() != Some(detail));
    if phones.len() == before {
        return not_found("aircall");
    }
    StatusCode::NO_CONTENT.into_response()
}
