//! The control API under `/_sandbox/`: drives scenarios, injects faults,
//! shows what the simulators received. Tests, the demo and benchmarks use it;
//! the names are part of the project's contract (see the README).

use crate::faults::FaultSpec;
use crate::http::{json_status, AppState};
use crate::limits::LimitsConfig;
use crate::oauth::Provider;
use crate::scenario::{CallAction, Driver, NewCall};
use crate::state::{Record, Shared};
use crate::webhooks::Target;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/calls", post(create_call))
        .route("/calls/{id}/{action}", post(call_action))
        .route("/sms", post(sms))
        .route("/company", post(company_history))
        .route("/webhooks", post(set_webhook).get(get_webhooks))
        .route("/faults", post(add_fault).delete(clear_faults).get(list_faults))
        .route("/requests", get(requests).delete(clear_requests))
        .route("/stats", get(stats))
        .route("/records", post(create_record))
        .route(
            "/records/{crm}/{kind}/{id}",
            put(update_record).delete(delete_record),
        )
        .route("/state", get(state))
        .route("/reset", post(reset))
        .route("/clock", get(clock).post(move_clock))
        .route("/limits", get(get_limits).post(set_limits))
        .route("/oauth/{crm}/{action}", post(oauth_action))
        .route("/users/{id}", put(update_user))
        .route("/jobadder/account", put(rename_jobadder_account))
        .route("/health", get(|| async { "ok" }))
        .route("/", delete(reset))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json_status(status, json!({ "error": message.into() }))
}

async fn create_call(State(s): State<AppState>, Json(body): Json<NewCall>) -> Response {
    match Driver::new(s).ring(body) {
        Ok(id) => json_status(StatusCode::CREATED, json!({ "id": id })),
        Err(e) => error(e.status(), e.to_string()),
    }
}

/// A busy company's past calls; answers them (id, number, whose).
async fn company_history(
    State(s): State<AppState>,
    Json(plan): Json<crate::company::CompanyHistory>,
) -> Response {
    match crate::company::write(&s, &plan) {
        Ok(calls) => json_status(StatusCode::OK, json!({"calls": calls})),
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

async fn call_action(
    State(s): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    body: Option<Json<Value>>,
) -> Response {
    let body = body.map(|Json(b)| b).unwrap_or(Value::Null);
    let action = match CallAction::from_request(&action, &body) {
        Ok(action) => action,
        Err(e) => return error(e.status(), e.to_string()),
    };
    match Driver::new(s).act(id, action) {
        Ok(call) => json_status(StatusCode::OK, json!({ "call": call })),
        Err(e) => error(e.status(), e.to_string()),
    }
}

async fn sms(State(s): State<AppState>, Json(sms): Json<crate::scenario::NewSms>) -> Response {
    match Driver::new(s.clone()).sms(sms) {
        Ok(id) => json_status(
            StatusCode::CREATED,
            json!({ "id": id, "delivered_to": s.webhooks.target().map(|t| t.url) }),
        ),
        Err(e) => error(e.status(), e.to_string()),
    }
}

async fn set_webhook(State(s): State<AppState>, Json(target): Json<Value>) -> Response {
    let (Some(url), Some(token)) = (target["url"].as_str(), target["token"].as_str()) else {
        return error(StatusCode::BAD_REQUEST, "url and token are required");
    };
    s.webhooks.set(Target::any_event(url, token));
    json_status(StatusCode::OK, json!({"url": url}))
}

async fn get_webhooks(State(s): State<AppState>) -> Response {
    json_status(
        StatusCode::OK,
        json!({
            "target": s.webhooks.target(),
            "deliveries": s.webhooks.deliveries(),
            "in_flight": s.webhooks.in_flight(),
        }),
    )
}

async fn add_fault(State(s): State<AppState>, Json(spec): Json<FaultSpec>) -> Response {
    match s.world().faults.add(spec) {
        Ok(fault) => json_status(StatusCode::CREATED, json!(fault)),
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

async fn clear_faults(State(s): State<AppState>) -> Response {
    s.world().faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_faults(State(s): State<AppState>) -> Response {
    json_status(StatusCode::OK, json!({"faults": s.world().faults.list}))
}

async fn requests(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let world = s.world();
    let since: i64 = q.get("since_ms").and_then(|v| v.parse().ok()).unwrap_or(i64::MIN);
    let list: Vec<_> = world
        .requests
        .iter()
        .filter(|r| q.get("api").is_none_or(|api| r.api == api.as_str()))
        .filter(|r| r.t_ms >= since)
        .collect();
    json_status(StatusCode::OK, json!({"requests": list}))
}

async fn clear_requests(State(s): State<AppState>) -> Response {
    let mut world = s.world();
    world.requests.clear();
    world.stats.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn stats(State(s): State<AppState>) -> Response {
    let world = s.world();
    json_status(
        StatusCode::OK,
        json!({"apis": world.stats, "oauth_refreshes": world.oauth.refreshes}),
    )
}

#[derive(Deserialize)]
struct NewRecord {
    crm: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    fields: Map<String, Value>,
    /// Region used to read numbers stored without a country code.
    region: Option<String>,
}

/// The record map of a CRM and type, for the control API.
fn records<'a>(
    world: &'a mut crate::state::World,
    crm: &str,
    kind: &str,
) -> Option<&'a mut std::collections::BTreeMap<i64, Record>> {
    match (crm, kind) {
        ("jobadder", "candidate") => Some(&mut world.jobadder.candidates),
        ("jobadder", "contact") => Some(&mut world.jobadder.contacts),
        ("jobadder", "company") => Some(&mut world.jobadder.companies),
        ("sellsy", "contact") => Some(&mut world.sellsy.contacts),
        ("sellsy", "company") => Some(&mut world.sellsy.companies),
        ("sellsy", "individual") => Some(&mut world.sellsy.individuals),
        ("sellsy", "opportunity") => Some(&mut world.sellsy.opportunities),
        _ => None,
    }
}

fn next_record_id(world: &mut crate::state::World, crm: &str) -> i64 {
    let counter = if crm == "jobadder" {
        &mut world.jobadder.next_id
    } else {
        &mut world.sellsy.next_id
    };
    *counter = (*counter).max(100_000) + 1;
    *counter
}

async fn create_record(State(s): State<AppState>, Json(mut new): Json<NewRecord>) -> Response {
    let now = s.clock.now_ms();
    let mut world = s.world();
    if records(&mut world, &new.crm, &new.kind).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown record type {}/{}", new.crm, new.kind),
        );
    }
    let id = next_record_id(&mut world, &new.crm);
    // Sellsy contact↔company links are given as `company_ids`.
    let company_ids: Vec<i64> = new
        .fields
        .remove("company_ids")
        .and_then(|v| v.as_array().map(|a| a.iter().filter_map(Value::as_i64).collect()))
        .unwrap_or_default();
    if new.crm == "sellsy" && new.kind == "contact" {
        world.sellsy.links.extend(company_ids.iter().map(|co| (id, *co)));
    }
    let region = new.region.unwrap_or_else(|| {
        if new.crm == "sellsy" {
            "FR".into()
        } else {
            "GB".into()
        }
    });
    let record = Record {
        id,
        fields: new.fields,
        created_ms: now,
        updated_ms: now,
        region,
    };
    if let Some(map) = records(&mut world, &new.crm, &new.kind) {
        map.insert(id, record);
    }
    json_status(StatusCode::CREATED, json!({ "id": id }))
}

async fn update_record(
    State(s): State<AppState>,
    Path((crm, kind, id)): Path<(String, String, i64)>,
    Json(body): Json<Value>,
) -> Response {
    let now = s.clock.now_ms();
    let mut world = s.world();
    let Some(record) = records(&mut world, &crm, &kind).and_then(|m| m.get_mut(&id)) else {
        return error(StatusCode::NOT_FOUND, format!("no {crm} {kind} {id}"));
    };
    let fields = body.get("fields").cloned().unwrap_or(body);
    if let Value::Object(fields) = fields {
        for (k, v) in fields {
            record.fields.insert(k, v);
        }
    }
    // As in the real services, any change moves the updated time.
    record.updated_ms = now.max(record.updated_ms + 1);
    json_status(
        StatusCode::OK,
        json!({ "id": id, "updated_ms": record.updated_ms }),
    )
}

async fn delete_record(
    State(s): State<AppState>,
    Path((crm, kind, id)): Path<(String, String, i64)>,
) -> Response {
    let mut world = s.world();
    match records(&mut world, &crm, &kind).and_then(|m| m.remove(&id)) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no {crm} {kind} {id}")),
    }
}

fn dump(map: &std::collections::BTreeMap<i64, Record>) -> Vec<Value> {
    map.values()
        .map(|r| {
            let mut v = Value::Object(r.fields.clone());
            v["id"] = json!(r.id);
            v["updated_ms"] = json!(r.updated_ms);
            v
        })
        .collect()
}

/// Everything the sandbox holds; `?calls=false` leaves out the Aircall
/// calls (a busy company's history is large, and the world is locked while
/// it is written out).
async fn state(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let with_calls = q.get("calls").is_none_or(|v| v != "false");
    let now = s.clock.now_secs();
    let world = s.world();
    let notes: Vec<Value> = world.jobadder.notes.values().map(|n| {
        let (kind, id) = match n.parent {
            crate::jobadder::NoteParent::Contact(id) => ("contact", id),
            crate::jobadder::NoteParent::Candidate(id) => ("candidate", id),
        };
        json!({"noteId": n.id, "on": kind, "record_id": id, "type": n.kind, "text": n.text, "reference": n.reference,
               "created_by": n.created_by, "created_ms": n.created_ms, "updated_ms": n.updated_ms})
    }).collect();
    let contacts: Vec<Value> = world
        .aircall
        .contacts
        .values()
        .map(|c| world.aircall.contact_json(c))
        .collect();
    let calls: Vec<Value> = world
        .aircall
        .calls
        .values()
        .filter(|_| with_calls)
        .map(|c| world.aircall.call_json(c, now, false))
        .collect();
    json_status(
        StatusCode::OK,
        json!({
            "jobadder": {"candidates": dump(&world.jobadder.candidates), "contacts": dump(&world.jobadder.contacts),
                         "companies": dump(&world.jobadder.companies), "notes": notes},
            "sellsy": {"account_id": world.sellsy.account_id, "contacts": dump(&world.sellsy.contacts),
                       "companies": dump(&world.sellsy.companies), "individuals": dump(&world.sellsy.individuals),
                       "opportunities": dump(&world.sellsy.opportunities), "phone_calls": dump(&world.sellsy.phone_calls),
                       "links": world.sellsy.links},
            "aircall": {"contacts": contacts, "insight_cards": world.aircall.insight_cards, "dials": world.aircall.dials,
                        "calls": calls, "users": world.aircall.users.iter().map(|u| json!({"id": u.id, "email": u.email, "numbers": u.numbers})).collect::<Vec<_>>()},
        }),
    )
}

async fn reset(State(s): State<AppState>) -> Response {
    Shared::reset(&s);
    StatusCode::NO_CONTENT.into_response()
}

async fn clock(State(s): State<AppState>) -> Response {
    json_status(
        StatusCode::OK,
        json!({"now_ms": s.clock.now_ms(), "offset_ms": s.clock.offset_ms()}),
    )
}

async fn move_clock(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let Some(ms) = body["advance_ms"].as_i64().filter(|ms| *ms >= 0) else {
        return error(
            StatusCode::BAD_REQUEST,
            "advance_ms must be a positive integer: the clock only moves forward",
        );
    };
    s.clock.advance_ms(ms);
    clock(State(s)).await
}

async fn get_limits(State(s): State<AppState>) -> Response {
    json_status(StatusCode::OK, json!(s.world().limits.config))
}

async fn set_limits(State(s): State<AppState>, Json(patch): Json<Value>) -> Response {
    let mut world = s.world();
    let mut current = json!(world.limits.config);
    if let (Some(current), Some(patch)) = (current.as_object_mut(), patch.as_object()) {
        for (k, v) in patch {
            current.insert(k.clone(), v.clone());
        }
    }
    match serde_json::from_value::<LimitsConfig>(current) {
        Ok(config) => {
            world.limits.set(config.clone());
            json_status(StatusCode::OK, json!(config))
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn oauth_action(State(s): State<AppState>, Path((crm, action)): Path<(String, String)>) -> Response {
    let Some(provider) = Provider::parse(&crm) else {
        return error(StatusCode::NOT_FOUND, format!("no OAuth for {crm}"));
    };
    let mut world = s.world();
    let n = match action.as_str() {
        "revoke" => world.oauth.revoke_refresh_tokens(provider),
        "expire" => world.oauth.expire_access_tokens(provider),
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!("unknown action {other:?}: use revoke or expire"),
            )
        }
    };
    json_status(StatusCode::OK, json!({ "affected": n }))
}

/// Renames the JobAdder account (`{"name": …}`): the next sign-in stands for
/// another company's account.
async fn rename_jobadder_account(State(s): State<AppState>, Json(body): Json<Value>) -> Response {
    let Some(name) = body["name"].as_str().map(str::trim).filter(|n| !n.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "name must be a non-empty string");
    };
    s.world().jobadder.account_name = name.to_owned();
    json_status(StatusCode::OK, json!({ "name": name }))
}

async fn update_user(State(s): State<AppState>, Path(id): Path<i64>, Json(body): Json<Value>) -> Response {
    let mut world = s.world();
    let Some(user) = world.aircall.users.iter_mut().find(|u| u.id == id) else {
        return error(StatusCode::NOT_FOUND, format!("no Aircall user {id}"));
    };
    if let Some(v) = body["available"].as_bool() {
        user.available = v;
    }
    if let Some(v) = body["workspace_open"].as_bool() {
        user.workspace_open = v;
    }
    json_status(
        StatusCode::OK,
        json!({"id": id, "available": user.available, "workspace_open": user.workspace_open}),
    )
}
