//! The JobAdder API v2 (and its identity server's OAuth endpoints): phone
//! search with match quality, contacts and candidates with `Phone` and
//! `UpdatedAt` filters and the paging envelope, notes, users. Bodies are
//! checked as the real API checks them (e.g. `reference` ≤ 200 characters).

use crate::clock::{iso8601, parse_iso8601};
use crate::http::{bad_request, json_status, not_found, AppState};
use crate::oauth::{self, require_bearer, Provider};
use crate::state::Record;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteParent {
    Contact(i64),
    Candidate(i64),
}

#[derive(Debug, Clone)]
pub struct Note {
    pub id: String,
    pub parent: NoteParent,
    pub kind: Option<String>,
    pub text: String,
    pub reference: Option<String>,
    pub created_by: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Default)]
pub struct JobAdderWorld {
    pub users: Vec<Record>,
    pub companies: BTreeMap<i64, Record>,
    pub contacts: BTreeMap<i64, Record>,
    pub candidates: BTreeMap<i64, Record>,
    pub notes: BTreeMap<String, Note>,
    pub next_id: i64,
    /// The account's name, as `GET /users/current` gives it (empty: the
    /// default); the control API renames it to stand for another account.
    pub account_name: String,
}

/// The sandbox account's name unless the control API set another.
pub const ACCOUNT_NAME: &str = "Callcard Sandbox Recruitment";

impl JobAdderWorld {
    fn user_name(&self, id: i64) -> Value {
        let user = self.users.iter().find(|u| u.id == id).or(self.users.first());
        match user {
            Some(u) => json!({
                "userId": u.id, "firstName": u.str("firstName"), "lastName": u.str("lastName"),
                "position": u.str("position"), "email": u.str("email"), "inactive": false, "deleted": false,
            }),
            None => json!({"userId": id, "inactive": false, "deleted": false}),
        }
    }

    fn summary(&self, kind: &str, r: &Record) -> Value {
        let mut out = serde_json::Map::new();
        out.insert(format!("{kind}Id"), json!(r.id));
        for (k, v) in &r.fields {
            out.insert(k.clone(), v.clone());
        }
        out.insert("createdAt".into(), json!(iso8601(r.created_ms)));
        out.insert("updatedAt".into(), json!(iso8601(r.updated_ms)));
        if let Some(mobile) = r.str("mobile") {
            out.insert("mobileNormalized".into(), json!(e164(mobile, &r.region)));
        }
        if let Some(owner) = r.fields.get("owner").and_then(|o| o["userId"].as_i64()) {
            out.insert("owner".into(), self.user_name(owner));
        }
        if let Some(recruiters) = r.fields.get("recruiters").and_then(Value::as_array) {
            let list: Vec<Value> = recruiters
                .iter()
                .filter_map(|o| o["userId"].as_i64())
                .map(|id| self.user_name(id))
                .collect();
            out.insert("recruiters".into(), Value::Array(list));
        }
        Value::Object(out)
    }

    fn name_model(&self, parent: NoteParent) -> (&'static str, Value) {
        let pick = |r: Option<&Record>, id_key: &str| {
            let r = r?;
            let mut v = json!({ id_key: r.id, "firstName": r.str("firstName"), "lastName": r.str("lastName"),
                "email": r.str("email"), "phone": r.str("phone"), "mobile": r.str("mobile") });
            if id_key == "contactId" {
                v["inactive"] = json!(r.bool("inactive"));
            }
            Some(v)
        };
        match parent {
            NoteParent::Contact(id) => (
                "contacts",
                pick(self.contacts.get(&id), "contactId").unwrap_or(json!({"contactId": id})),
            ),
            NoteParent::Candidate(id) => (
                "candidates",
                pick(self.candidates.get(&id), "candidateId").unwrap_or(json!({"candidateId": id})),
            ),
        }
    }

    pub fn note_json(&self, note: &Note, base: &str) -> Value {
        let (list, name) = self.name_model(note.parent);
        let mut out = json!({
            "noteId": note.id,
            "type": note.kind,
            "source": "API",
            "text": note.text,
            "reference": note.reference,
            "readonly": false,
            "createdBy": self.user_name(note.created_by),
            "createdAt": iso8601(note.created_ms),
            "updatedBy": self.user_name(note.created_by),
            "updatedAt": iso8601(note.updated_ms),
            "links": {"self": format!("{base}/jobadder/v2/notes/{}", note.id)},
        });
        out[list] = json!([name]);
        out
    }
}

/// The number in E.164, reading national numbers with the record's region.
pub fn e164(stored: &str, region: &str) -> Option<String> {
    let parsed = phonenumber::parse(region.parse().ok(), stored).ok()?;
    phonenumber::is_valid(&parsed).then(|| parsed.format().mode(phonenumber::Mode::E164).to_string())
}

pub struct JobAdderAuth;

impl FromRequestParts<AppState> for JobAdderAuth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        require_bearer(s, Provider::JobAdder, &parts.headers).map(|_| JobAdderAuth)
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/id/connect/authorize", get(oauth::jobadder_authorize))
        .route("/id/connect/token", post(oauth::jobadder_token))
        .route("/v2/search/phonenumber", get(search_phone))
        .route("/v2/contacts", get(list_contacts))
        .route("/v2/contacts/{id}", get(get_contact))
        .route(
            "/v2/contacts/{id}/notes",
            post(add_contact_note).get(list_contact_notes),
        )
        .route("/v2/candidates", get(list_candidates))
        .route("/v2/candidates/{id}", get(get_candidate))
        .route(
            "/v2/candidates/{id}/notes",
            post(add_candidate_note).get(list_candidate_notes),
        )
        .route("/v2/notes/{id}", get(get_note).put(update_note))
        .route("/v2/users", get(list_users))
        .route("/v2/users/current", get(current_user))
}

fn params(raw: &Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Where a stored number matches the searched one, and how well.
fn match_of(r: &Record, wanted: &str) -> Option<(Value, &'static str)> {
    for (field, kind) in [("phone", "Phone"), ("mobile", "Mobile")] {
        let Some(stored) = r.str(field) else { continue };
        if e164(stored, &r.region).as_deref() == Some(wanted) {
            let quality = if stored.trim_start().starts_with('+') {
                "Exact"
            } else {
                "National"
            };
            return Some((
                json!({"type": kind, "number": stored, "normalized": wanted}),
                quality,
            ));
        }
    }
    None
}

async fn search_phone(_: JobAdderAuth, State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let params = params(&raw);
    let Some(wanted) = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("E164"))
        .map(|(_, v)| v.clone())
    else {
        return bad_request("jobadder", "E164 is required");
    };
    if e164(&wanted, "GB").as_deref() != Some(wanted.as_str()) {
        return bad_request("jobadder", "E164 must be a valid number in E.164 format");
    }
    let world = s.world();
    let ja = &world.jobadder;
    let mut best = None;
    let mut collect = |records: Vec<&Record>, build: &dyn Fn(&Record, Value) -> Value| -> Vec<Value> {
        let mut found: Vec<(&Record, Value, &str)> = records
            .into_iter()
            .filter_map(|r| match_of(r, &wanted).map(|(m, q)| (r, m, q)))
            .collect();
        found.sort_by_key(|(r, ..)| std::cmp::Reverse(r.updated_ms));
        found.truncate(5);
        for (_, _, q) in &found {
            if best != Some("Exact") {
                best = Some(q);
            }
        }
        found.into_iter().map(|(r, m, _)| build(r, m)).collect()
    };
    let candidates = collect(ja.candidates.values().collect(), &|r, m| {
        json!({"match": m, "candidateId": r.id, "firstName": r.str("firstName"), "lastName": r.str("lastName"),
            "email": r.str("email"), "phone": r.str("phone"), "mobile": r.str("mobile"), "updatedAt": iso8601(r.updated_ms)})
    });
    let contacts = collect(ja.contacts.values().collect(), &|r, m| {
        let company = r
            .fields
            .get("company")
            .map(|c| json!({"companyId": c["companyId"], "name": c["name"]}));
        json!({"match": m, "contactId": r.id, "firstName": r.str("firstName"), "lastName": r.str("lastName"),
            "email": r.str("email"), "phone": r.str("phone"), "mobile": r.str("mobile"), "company": company,
            "position": r.str("position"), "updatedAt": iso8601(r.updated_ms)})
    });
    let companies = collect(
        ja.companies.values().collect(),
        &|r, m| json!({"match": m, "companyId": r.id, "name": r.str("name"), "updatedAt": iso8601(r.updated_ms)}),
    );
    let users = collect(ja.users.iter().collect(), &|r, m| {
        json!({"match": m, "userId": r.id, "firstName": r.str("firstName"), "lastName": r.str("lastName"),
            "email": r.str("email"), "phone": r.str("phone"), "mobile": r.str("mobile"), "position": r.str("position"),
            "inactive": false, "updatedAt": iso8601(r.updated_ms)})
    });
    let mut body =
        json!({"candidates": candidates, "contacts": contacts, "companies": companies, "users": users});
    if let Some(quality) = best {
        body["quality"] = json!(quality);
    }
    json_status(StatusCode::OK, body)
}

/// `UpdatedAt` values: `>2024-01-01T00:00:00Z`, `<…`, `>=…`, `<=…` or exact.
fn updated_filter(values: &[&str]) -> Result<Vec<(String, i64)>, String> {
    values
        .iter()
        .map(|v| {
            let (op, date) = ["<=", ">=", "<", ">"]
                .iter()
                .find_map(|op| v.strip_prefix(op).map(|d| (op.to_string(), d)))
                .unwrap_or(("=".to_string(), v));
            parse_iso8601(date)
                .map(|ms| (op, ms))
                .ok_or_else(|| format!("UpdatedAt: {v:?} is not a date-time"))
        })
        .collect()
}

fn list(s: &AppState, kind: &str, raw: Option<String>) -> Response {
    let params = params(&raw);
    let get = |key: &str| {
        params
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    let offset: usize = match get("Offset").first().map(|v| v.parse()) {
        None => 0,
        Some(Ok(v)) => v,
        Some(Err(_)) => return bad_request("jobadder", "Offset must be an integer"),
    };
    let limit: usize = match get("Limit").first().map(|v| v.parse::<usize>()) {
        None => 100,
        Some(Ok(v)) if v <= 1000 => v,
        _ => return bad_request("jobadder", "Limit must be an integer between 0 and 1000"),
    };
    let updated = match updated_filter(&get("UpdatedAt")) {
        Ok(f) => f,
        Err(message) => return bad_request("jobadder", message),
    };
    let phone = get("Phone").first().map(|p| crate::aircall::digits(p));
    let world = s.world();
    let ja = &world.jobadder;
    let records = if kind == "contact" {
        &ja.contacts
    } else {
        &ja.candidates
    };
    let matching: Vec<&Record> = records
        .values()
        .filter(|r| {
            updated.iter().all(|(op, ms)| match op.as_str() {
                ">" => r.updated_ms > *ms,
                ">=" => r.updated_ms >= *ms,
                "<" => r.updated_ms < *ms,
                "<=" => r.updated_ms <= *ms,
                _ => r.updated_ms == *ms,
            })
        })
        .filter(|r| {
            phone.as_ref().is_none_or(|p| {
                ["phone", "mobile"].iter().filter_map(|f| r.str(f)).any(|stored| {
                    let d = crate::aircall::digits(stored);
                    !p.is_empty()
                        && (d == *p
                            || e164(stored, &r.region).is_some_and(|e| crate::aircall::digits(&e) == *p))
                })
            })
        })
        .collect();
    let total = matching.len();
    let items: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| ja.summary(kind, r))
        .collect();
    let link = |offset: usize| {
        let mut url = url::Url::parse(&format!("{}/jobadder/v2/{kind}s", s.base_url)).expect("base url");
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("Offset") && !k.eq_ignore_ascii_case("Limit"))
            {
                q.append_pair(k, v);
            }
            q.append_pair("Offset", &offset.to_string());
            q.append_pair("Limit", &limit.to_string());
        }
        url.to_string()
    };
    let mut links = json!({"first": link(0)});
    if limit > 0 && offset + limit < total {
        links["next"] = json!(link(offset + limit));
    }
    if offset > 0 {
        links["prev"] = json!(link(offset.saturating_sub(limit)));
    }
    json_status(
        StatusCode::OK,
        json!({"items": items, "totalCount": total, "links": links}),
    )
}

async fn list_contacts(_: JobAdderAuth, State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    list(&s, "contact", raw)
}

async fn list_candidates(_: JobAdderAuth, State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    list(&s, "candidate", raw)
}

async fn get_contact(_: JobAdderAuth, State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let world = s.world();
    match world.jobadder.contacts.get(&id) {
        Some(r) => json_status(StatusCode::OK, world.jobadder.summary("contact", r)),
        None => not_found("jobadder"),
    }
}

async fn get_candidate(_: JobAdderAuth, State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let world = s.world();
    match world.jobadder.candidates.get(&id) {
        Some(r) => json_status(StatusCode::OK, world.jobadder.summary("candidate", r)),
        None => not_found("jobadder"),
    }
}

fn uuid() -> String {
    let b: [u8; 16] = rand::thread_rng().gen();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Checks a note body as JobAdder's `AddContactNoteCommand` /
/// `AddCandidateNoteCommand` says; the error names the field.
fn validate_note(body: &Value, max_chars: usize) -> Result<(), String> {
    let Some(object) = body.as_object() else {
        return Err("the body must be a JSON object".into());
    };
    match object.get("text") {
        Some(Value::String(text)) if !text.trim().is_empty() => {
            if text.chars().count() > max_chars {
                return Err(format!(
                    "text: the note is too long ({} characters)",
                    text.chars().count()
                ));
            }
        }
        Some(Value::String(_)) => return Err("text: must not be empty".into()),
        _ => return Err("text: is required".into()),
    }
    for (field, max) in [("type", 50), ("reference", 200)] {
        match object.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(v)) if v.chars().count() <= max => {}
            Some(Value::String(_)) => return Err(format!("{field}: must be {max} characters or fewer")),
            Some(_) => return Err(format!("{field}: must be a string")),
        }
    }
    match object.get("createdBy") {
        None | Some(Value::Null) => {}
        Some(Value::Object(by)) => {
            if by.keys().any(|k| k != "userId" && k != "email") {
                return Err("createdBy: only userId and email are allowed".into());
            }
        }
        Some(_) => return Err("createdBy: must be an object".into()),
    }
    if let Some(v) = object.get("createdByIntegration") {
        if !v.is_boolean() && !v.is_null() {
            return Err("createdByIntegration: must be a boolean".into());
        }
    }
    Ok(())
}

fn add_note(s: &AppState, parent: NoteParent, body: Option<Json<Value>>) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("jobadder", "the body must be JSON");
    };
    let now = s.clock.now_ms();
    let mut world = s.world();
    let max_chars = world.limits.config.jobadder_note_max_chars;
    let ja = &mut world.jobadder;
    let exists = match parent {
        NoteParent::Contact(id) => ja.contacts.contains_key(&id),
        NoteParent::Candidate(id) => ja.candidates.contains_key(&id),
    };
    if !exists {
        return not_found("jobadder");
    }
    if let Err(message) = validate_note(&body, max_chars) {
        let field = message.split(':').next().unwrap_or("").to_owned();
        let code = if message.ends_with("is required") {
            "Missing"
        } else {
            "Invalid"
        };
        return json_status(
            StatusCode::BAD_REQUEST,
            json!({"message": "Validation failed", "errors": [{"code": code, "message": message, "fields": [field]}]}),
        );
    }
    // The author: the user with that id or e-mail, else the connected user.
    let by = &body["createdBy"];
    let created_by = ja
        .users
        .iter()
        .find(|u| {
            by["userId"].as_i64() == Some(u.id)
                || (by["email"].is_string() && u.str("email") == by["email"].as_str())
        })
        .or(ja.users.first())
        .map(|u| u.id)
        .unwrap_or(0);
    let note = Note {
        id: uuid(),
        parent,
        kind: body["type"].as_str().map(str::to_owned),
        text: body["text"].as_str().unwrap_or_default().to_owned(),
        reference: body["reference"].as_str().map(str::to_owned),
        created_by,
        created_ms: now,
        updated_ms: now,
    };
    let mut out = ja.note_json(&note, &s.base_url);
    if let Some(o) = out.as_object_mut() {
        o.remove("links");
    }
    ja.notes.insert(note.id.clone(), note);
    json_status(StatusCode::CREATED, out)
}

async fn add_contact_note(
    _: JobAdderAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<Value>>,
) -> Response {
    add_note(&s, NoteParent::Contact(id), body)
}

async fn add_candidate_note(
    _: JobAdderAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<Value>>,
) -> Response {
    add_note(&s, NoteParent::Candidate(id), body)
}

/// A record's notes as JobAdder lists them: the `Reference` filter, and
/// `Offset`/`Limit` paging (100 by default), oldest first.
fn notes_of(s: &AppState, parent: NoteParent, raw: Option<String>) -> Response {
    let params = params(&raw);
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    let offset: usize = match get("Offset").map(str::parse) {
        None => 0,
        Some(Ok(v)) => v,
        Some(Err(_)) => return bad_request("jobadder", "Offset must be an integer"),
    };
    let limit: usize = match get("Limit").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(v)) if v <= 1000 => v,
        _ => return bad_request("jobadder", "Limit must be an integer between 0 and 1000"),
    };
    let reference = get("Reference");
    let world = s.world();
    let mut matching: Vec<&Note> = world
        .jobadder
        .notes
        .values()
        .filter(|n| n.parent == parent)
        .filter(|n| reference.is_none_or(|r| n.reference.as_deref() == Some(r)))
        .collect();
    matching.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
    let total = matching.len();
    let items: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|n| world.jobadder.note_json(n, &s.base_url))
        .collect();
    let mut links = json!({});
    if limit > 0 && offset + limit < total {
        links["next"] = json!(format!("?Offset={}&Limit={limit}", offset + limit));
    }
    json_status(
        StatusCode::OK,
        json!({"items": items, "totalCount": total, "links": links}),
    )
}

async fn list_contact_notes(
    _: JobAdderAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> Response {
    notes_of(&s, NoteParent::Contact(id), raw)
}

async fn list_candidate_notes(
    _: JobAdderAuth,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> Response {
    notes_of(&s, NoteParent::Candidate(id), raw)
}

async fn get_note(_: JobAdderAuth, State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let world = s.world();
    match world.jobadder.notes.get(&id) {
        Some(note) => json_status(StatusCode::OK, world.jobadder.note_json(note, &s.base_url)),
        None => not_found("jobadder"),
    }
}

async fn update_note(
    _: JobAdderAuth,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("jobadder", "the body must be JSON");
    };
    let now = s.clock.now_ms();
    let mut world = s.world();
    let max = world.limits.config.jobadder_note_max_chars;
    let Some(note) = world.jobadder.notes.get_mut(&id) else {
        return not_found("jobadder");
    };
    match &body["text"] {
        Value::Null => {}
        Value::String(text) if text.chars().count() <= max => note.text = text.clone(),
        Value::String(_) => return bad_request("jobadder", "text: the note is too long"),
        _ => return bad_request("jobadder", "text: must be a string"),
    }
    match &body["type"] {
        Value::Null => {}
        Value::String(kind) if kind.chars().count() <= 50 => note.kind = Some(kind.clone()),
        _ => return bad_request("jobadder", "type: must be a string of 50 characters or fewer"),
    }
    note.updated_ms = now;
    StatusCode::NO_CONTENT.into_response()
}

async fn list_users(_: JobAdderAuth, State(s): State<AppState>) -> Response {
    let world = s.world();
    let items: Vec<Value> = world
        .jobadder
        .users
        .iter()
        .map(|u| {
            json!({"userId": u.id, "firstName": u.str("firstName"), "lastName": u.str("lastName"),
                "position": u.str("position"), "email": u.str("email"), "inactive": false, "deleted": false,
                "createdAt": iso8601(u.created_ms), "updatedAt": iso8601(u.updated_ms)})
        })
        .collect();
    json_status(
        StatusCode::OK,
        json!({"items": items, "totalCount": items.len(), "links": {}}),
    )
}

/// The signed-in user (the sandbox's first) and the account's name.
async fn current_user(_: JobAdderAuth, State(s): State<AppState>) -> Response {
    let world = s.world();
    let Some(user) = world.jobadder.users.first() else {
        return json_status(
            StatusCode::NOT_FOUND,
            json!({"message": "Current user was not found"}),
        );
    };
    let account = match world.jobadder.account_name.as_str() {
        "" => ACCOUNT_NAME,
        name => name,
    };
    json_status(
        StatusCode::OK,
        json!({"userId": user.id, "firstName": user.str("firstName"), "lastName": user.str("lastName"),
            "position": user.str("position"), "email": user.str("email"), "inactive": false, "deleted": false,
            "admin": true, "accountName": account,
            "createdAt": iso8601(user.created_ms), "updatedAt": iso8601(user.updated_ms)}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_over_200_characters_is_refused() {
        let body = json!({"text": "hello", "reference": "x".repeat(201)});
        assert_eq!(
            validate_note(&body, 100).unwrap_err(),
            "reference: must be 200 characters or fewer"
        );
        assert!(validate_note(&json!({"text": "hello", "reference": "x".repeat(200)}), 100).is_ok());
    }

    #[test]
    fn text_is_required_and_bounded() {
        assert!(validate_note(&json!({"type": "Call"}), 100).is_err());
        assert!(validate_note(&json!({"text": "x".repeat(101)}), 100)
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn national_numbers_match_with_the_records_region() {
        assert_eq!(e164("07400 123456", "GB").as_deref(), Some("+447400123456"));
        assert_eq!(e164("garbage", "GB"), None);
    }
}
