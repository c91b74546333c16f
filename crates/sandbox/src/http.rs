//! The router, and the gate every API request passes: request log, injected
//! faults, rate limits — in that order, as a real service behind a flaky
//! network would behave.

use crate::faults::{Fault, FaultKind};
use crate::limits::Decision;
use crate::server::ConnectionKiller;
use crate::state::{LoggedRequest, Shared};
use crate::{aircall, control, jobadder, sellsy};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub type AppState = Arc<Shared>;

pub fn router(shared: AppState) -> Router {
    Router::new()
        .nest("/aircall", aircall::routes())
        .nest("/jobadder", jobadder::routes())
        .nest("/sellsy", sellsy::routes())
        .nest("/_sandbox", control::routes())
        .layer(from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Which simulated service a path belongs to.
pub fn api_of(path: &str) -> Option<&'static str> {
    ["aircall", "jobadder", "sellsy"]
        .into_iter()
        .find(|api| path.strip_prefix('/').is_some_and(|rest| rest.starts_with(api)))
}

/// OAuth endpoints live on the vendors' identity hosts, outside the API quotas.
fn is_oauth(api: &str, endpoint: &str) -> bool {
    match api {
        "jobadder" => endpoint.starts_with("/id/"),
        "sellsy" => endpoint.starts_with("/login/"),
        _ => false,
    }
}

const BODY_LIMIT: usize = 8 * 1024 * 1024;
/// How long a "timeout" fault holds a request before giving up on it.
const HOLD: Duration = Duration::from_secs(600);

async fn gate(State(shared): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let Some(api) = api_of(&path) else {
        return next.run(request).await;
    };
    let endpoint = path[api.len() + 1..].to_owned();
    let method = request.method().as_str().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let killer = request.extensions().get::<ConnectionKiller>().cloned();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response(),
    };
    let t_ms = shared.clock.now_ms();
    let fault = shared.world().faults.pick(api, &method, &endpoint);
    let log = |shared: &Shared, status: u16| {
        let mut world = shared.world();
        world.stats.entry(api).or_default().requests += 1;
        if status == 429 {
            world.stats.entry(api).or_default().throttled += 1;
        }
        world.requests.push(LoggedRequest {
            t_ms,
            api,
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
            status,
        });
    };

    // Faults that act before the service sees the request.
    match fault.as_ref().map(|f| &f.kind) {
        Some(FaultKind::Delay { ms }) => tokio::time::sleep(Duration::from_millis(*ms)).await,
        Some(FaultKind::ResetBefore) => {
            log(&shared, 0);
            return reset(killer).await;
        }
        Some(FaultKind::Status { status, retry_after }) => {
            let response = vendor_error(api, *status, *retry_after);
            log(&shared, *status);
            return response;
        }
        _ => {}
    }

    let decision = if is_oauth(api, &endpoint) {
        Decision {
            allowed: true,
            ..Decision::default()
        }
    } else {
        shared.world().limits.check(api, shared.clock.now_ms())
    };
    let mut response = if decision.allowed {
        next.run(Request::from_parts(parts, Body::from(body.clone())))
            .await
    } else {
        vendor_error(api, 429, decision.retry_after_secs)
    };
    for (name, value) in &decision.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(*name), HeaderValue::try_from(value.as_str())) {
            response.headers_mut().insert(name, value);
        }
    }
    let status = response.status().as_u16();

    // Faults that act after the service has done its work: the ambiguous ones.
    match fault.map(|f: Fault| f.kind) {
        Some(FaultKind::Reset) => {
            log(&shared, 0);
            reset(killer).await
        }
        Some(FaultKind::Timeout) => {
            log(&shared, 0);
            tokio::time::sleep(HOLD).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(FaultKind::Malformed) => {
            log(&shared, status);
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.unwrap_or_default();
            let cut = if bytes.is_empty() {
                Bytes::from_static(b"{\"")
            } else {
                bytes.slice(..bytes.len() / 2)
            };
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            parts.headers.insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Response::from_parts(parts, Body::from(cut))
        }
        Some(FaultKind::Garbage) => {
            log(&shared, status);
            let mut response = Response::new(Body::from("{\"items\": [1, 2,, oops}"));
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Some(FaultKind::Oversized) => {
            log(&shared, status);
            // 16 MiB: above what any client of ours reads.
            let mut body = Vec::with_capacity(OVERSIZED + 16);
            body.extend_from_slice(b"{\"padding\": \"");
            body.resize(OVERSIZED, b'x');
            body.extend_from_slice(b"\"}");
            let mut response = Response::new(Body::from(body));
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        _ => {
            log(&shared, status);
            response
        }
    }
}

/// The size of an `oversized` fault's answer.
const OVERSIZED: usize = 16 * 1024 * 1024;

async fn reset(killer: Option<ConnectionKiller>) -> Response {
    if let Some(killer) = killer {
        killer.0.notify_one();
        // The connection task drops this future with the connection.
        tokio::time::sleep(HOLD).await;
    }
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// An error in the vendor's own shape.
pub fn vendor_error(api: &str, status: u16, retry_after_secs: Option<u64>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = code.canonical_reason().unwrap_or("Error");
    let body = match api {
        "aircall" => json!({ "error": reason, "troubleshoot": format!("Sandbox answered {status}") }),
        "sellsy" => json!({ "error": { "code": status, "message": reason, "details": [], "context": "" } }),
        _ => json!({ "message": reason }),
    };
    let mut response = (code, Json(body)).into_response();
    if let Some(secs) = retry_after_secs {
        if let Ok(value) = HeaderValue::try_from(secs.to_string()) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
    }
    response
}

/// `(status, json)` as a response.
pub fn json_status(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

pub fn not_found(api: &str) -> Response {
    vendor_error(api, 404, None)
}

/// A 400 with the vendor's error shape and a message saying what was wrong.
pub fn bad_request(api: &str, message: impl Into<String>) -> Response {
    let message = message.into();
    let body = match api {
        "aircall" => json!({ "error": "Bad Request", "troubleshoot": message }),
        "sellsy" => json!({ "error": { "code": 400, "message": message, "details": [], "context": "" } }),
        _ => json!({ "message": message, "errors": [] }),
    };
    json_status(StatusCode::BAD_REQUEST, body)
}
