//! The sandbox behaves like the real services where the app's robustness is
//! at stake: authentication, rate limits with their headers, every fault
//! kind, OAuth rotation and revocation, paging limits, dial states, and the
//! scenario driver.

mod common;

use callcard_sandbox::{LimitsConfig, SandboxConfig};
use common::{relaxed, Harness};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[tokio::test]
async fn aircall_basic_auth_answers_401_without_and_403_with_wrong_credentials() {
    let h = Harness::with(relaxed()).await;
    let none = h
        .http
        .get(format!("{}/aircall/v1/ping", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let wrong = h
        .http
        .get(format!("{}/aircall/v1/ping", h.url))
        .basic_auth("id", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let ok = h.aircall(Method::GET, "/v1/ping").send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn aircall_rate_limit_is_per_company_with_its_headers_then_429() {
    let config = SandboxConfig {
        limits: LimitsConfig {
            aircall_per_minute: 5,
            ..Default::default()
        },
        ..SandboxConfig::default()
    };
    let h = Harness::with(config).await;
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let r = h.aircall(Method::GET, "/v1/ping").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-aircallapi-limit"], "5");
        remaining.push(r.headers()["x-aircallapi-remaining"].to_str().unwrap().to_owned());
    }
    assert_eq!(remaining, ["4", "3", "2", "1", "0"]);
    let refused = h.aircall(Method::GET, "/v1/calls").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let reset: i64 = refused.headers()["x-aircallapi-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        reset > now && reset <= now + 60,
        "reset is a time in the coming minute, in seconds: {reset}"
    );
    let stats = h.control(Method::GET, "/stats", None).await;
    assert_eq!(stats["apis"]["aircall"]["throttled"], 1);
    assert_eq!(stats["apis"]["aircall"]["requests"], 6);
}

#[tokio::test]
async fn sellsy_quota_headers_count_down_and_a_spent_quota_answers_429() {
    let config = SandboxConfig {
        limits: LimitsConfig {
            sellsy_per_second: 3,
            ..Default::default()
        },
        ..SandboxConfig::default()
    };
    let h = Harness::with(config).await;
    let token = h.sellsy_token().await;
    // Stay inside one second of the sandbox clock.
    let start_of_next_second = 1000
        - (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            % 1000) as u64;
    tokio::time::sleep(Duration::from_millis(start_of_next_second + 5)).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = h
            .bearer(Method::GET, &format!("{}/sellsy/v2/staffs", h.url), &token)
            .send()
            .await
            .unwrap();
        for header in [
            "x-quota-remaining-by-second",
            "x-quota-remaining-by-minute",
            "x-quota-remaining-by-day",
            "x-quota-remaining-by-month",
        ] {
            assert!(r.headers().contains_key(header), "{header} on every answer");
        }
        statuses.push((
            r.status().as_u16(),
            r.headers()["x-quota-remaining-by-second"]
                .to_str()
                .unwrap()
                .to_owned(),
        ));
    }
    assert_eq!(
        statuses,
        [
            (200, "2".into()),
            (200, "1".into()),
            (200, "0".into()),
            (429, "0".into())
        ]
    );
}

#[tokio::test]
async fn jobadder_throttling_answers_429_with_retry_after() {
    let config = SandboxConfig {
        limits: LimitsConfig {
            jobadder_per_minute: 2,
            ..Default::default()
        },
        ..SandboxConfig::default()
    };
    let h = Harness::with(config).await;
    let token = h.jobadder_token().await;
    let url = format!("{}/jobadder/v2/users", h.url);
    for _ in 0..2 {
        assert_eq!(
            h.bearer(Method::GET, &url, &token).send().await.unwrap().status(),
            200
        );
    }
    let refused = h.bearer(Method::GET, &url, &token).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

async fn fault(h: &Harness, spec: Value) {
    h.control(Method::POST, "/faults", Some(spec)).await;
}

#[tokio::test]
async fn injected_status_faults_apply_to_the_next_n_requests_of_that_endpoint_only() {
    let h = Harness::with(relaxed()).await;
    fault(
        &h,
        json!({"api": "aircall", "endpoint": "/v1/calls", "kind": "429", "retry_after": 7, "next": 2}),
    )
    .await;
    fault(
        &h,
        json!({"api": "aircall", "endpoint": "/v1/numbers", "kind": "503", "next": 1}),
    )
    .await;
    let other = h.aircall(Method::GET, "/v1/ping").send().await.unwrap();
    assert_eq!(other.status(), 200, "other endpoints are untouched");
    for _ in 0..2 {
        let r = h.aircall(Method::GET, "/v1/calls").send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
    }
    assert_eq!(
        h.aircall(Method::GET, "/v1/calls").send().await.unwrap().status(),
        200
    );
    assert_eq!(
        h.aircall(Method::GET, "/v1/numbers")
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        h.aircall(Method::GET, "/v1/numbers")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_fraction_fault_hits_about_that_share_until_deleted() {
    let h = Harness::with(relaxed()).await;
    fault(&h, json!({"api": "aircall", "kind": "500", "fraction": 0.5})).await;
    let mut failed = 0;
    for _ in 0..200 {
        if h.aircall(Method::GET, "/v1/ping").send().await.unwrap().status() == 500 {
            failed += 1;
        }
    }
    assert!((60..140).contains(&failed), "{failed} of 200");
    h.http
        .delete(format!("{}/_sandbox/faults", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.aircall(Method::GET, "/v1/ping").send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn a_delay_fault_slows_the_answer() {
    let h = Harness::with(relaxed()).await;
    fault(
        &h,
        json!({"api": "aircall", "kind": "delay", "delay_ms": 400, "next": 1}),
    )
    .await;
    let start = Instant::now();
    assert_eq!(
        h.aircall(Method::GET, "/v1/ping").send().await.unwrap().status(),
        200
    );
    assert!(start.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn a_timeout_fault_never_answers_but_the_write_happened() {
    let h = Harness::with(relaxed()).await;
    let token = h.jobadder_token().await;
    let state = h.control(Method::GET, "/state", None).await;
    let contact = state["jobadder"]["contacts"][0]["id"].as_i64().unwrap();
    fault(&h, json!({"api": "jobadder", "endpoint": "/v2/contacts", "method": "POST", "kind": "timeout", "next": 1})).await;
    let result = h
        .bearer(
            Method::POST,
            &format!("{}/jobadder/v2/contacts/{contact}/notes", h.url),
            &token,
        )
        .timeout(Duration::from_millis(800))
        .json(&json!({"text": "call log", "reference": "call:1"}))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    let notes = h.control(Method::GET, "/state", None).await["jobadder"]["notes"].clone();
    assert_eq!(
        notes.as_array().unwrap().len(),
        1,
        "the note was written although no answer came"
    );
}

#[tokio::test]
async fn a_reset_fault_drops_the_connection_after_processing_and_reset_before_does_not_process() {
    let h = Harness::with(relaxed()).await;
    let token = h.sellsy_token().await;
    let state = h.control(Method::GET, "/state", None).await;
    let contact = state["sellsy"]["contacts"][0]["id"].as_i64().unwrap();
    let owner = state["sellsy"]["contacts"][0]["owner"]["id"].as_i64().unwrap();
    let body = json!({"owner_id": owner, "date": "2026-11-21T10:00:00Z", "result": "connected", "source": "incoming",
                      "related": [{"type": "contact", "id": contact}]});
    let url = format!("{}/sellsy/v2/phone-calls", h.url);
    fault(
        &h,
        json!({"api": "sellsy", "endpoint": "/v2/phone-calls", "kind": "reset", "next": 1}),
    )
    .await;
    let err = h
        .bearer(Method::POST, &url, &token)
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.is_request() || err.is_connect() || err.to_string().contains("connection"),
        "{err:?}"
    );
    fault(
        &h,
        json!({"api": "sellsy", "endpoint": "/v2/phone-calls", "kind": "reset_before", "next": 1}),
    )
    .await;
    assert!(h
        .bearer(Method::POST, &url, &token)
        .json(&body)
        .send()
        .await
        .is_err());
    let calls = h.control(Method::GET, "/state", None).await["sellsy"]["phone_calls"].clone();
    assert_eq!(
        calls.as_array().unwrap().len(),
        1,
        "reset wrote once; reset_before wrote nothing"
    );
    let log = h.control(Method::GET, "/requests?api=sellsy", None).await;
    assert!(
        log["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == 0),
        "dropped answers are logged with status 0"
    );
}

#[tokio::test]
async fn a_malformed_fault_cuts_the_body_in_half() {
    let h = Harness::with(relaxed()).await;
    fault(
        &h,
        json!({"api": "aircall", "endpoint": "/v1/numbers", "kind": "malformed", "next": 1}),
    )
    .await;
    let r = h.aircall(Method::GET, "/v1/numbers").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "not valid JSON: {text}"
    );
    assert!(text.starts_with("{\""), "the start of the real answer: {text}");
}

#[tokio::test]
async fn oauth_refresh_tokens_rotate_and_revocation_and_expiry_are_enforced() {
    let h = Harness::with(relaxed()).await;
    let c = h.sandbox.credentials();
    let first = h.jobadder_token().await;
    let refresh = |rt: String| {
        let c = c.clone();
        let http = h.http.clone();
        let url = format!("{}/jobadder/id/connect/token", h.url);
        async move {
            http.post(url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &rt),
                    ("client_id", &c.jobadder_client_id),
                    ("client_secret", &c.jobadder_client_secret),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let second = refresh(first["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_ne!(
        second["refresh_token"], first["refresh_token"],
        "a new refresh token each time"
    );
    let reused = refresh(first["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(reused.status(), 400, "the old refresh token is dead");
    assert_eq!(reused.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let users = format!("{}/jobadder/v2/users", h.url);
    assert_eq!(
        h.bearer(Method::GET, &users, &second)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    h.control(Method::POST, "/oauth/jobadder/expire", None).await;
    assert_eq!(
        h.bearer(Method::GET, &users, &second)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "expired access token"
    );
    h.control(Method::POST, "/oauth/jobadder/revoke", None).await;
    let revoked = refresh(second["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(revoked.status(), 400, "revoked refresh token");
}

#[tokio::test]
async fn sellsy_refuses_a_wrong_pkce_verifier() {
    let h = Harness::with(relaxed()).await;
    let c = h.sandbox.credentials();
    let authorize = h
        .http
        .get(format!("{}/sellsy/login/oauth2/authorization", h.url))
        .query(&[
            ("response_type", "code"),
            ("client_id", &c.sellsy_client_id),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_challenge", "abc"),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(authorize.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let token = h
        .http
        .post(format!("{}/sellsy/login/oauth2/access-tokens", h.url))
        .json(
            &json!({"grant_type": "authorization_code", "client_id": c.sellsy_client_id, "code": code,
                      "redirect_uri": "http://127.0.0.1:9/cb", "code_verifier": "wrong"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 400);
    let no_pkce = h
        .http
        .get(format!("{}/sellsy/login/oauth2/authorization", h.url))
        .query(&[
            ("response_type", "code"),
            ("client_id", &c.sellsy_client_id),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(no_pkce.status(), 400, "PKCE is required");
}

#[tokio::test]
async fn calls_page_with_next_links_and_refuse_paging_past_10000_results() {
    let h = Harness::with(relaxed()).await;
    for i in 0..7 {
        h.control(Method::POST, "/calls", Some(json!({"direction": "inbound", "external_number": format!("+33 6 12 34 56 0{i}"), "number_id": 1001}))).await;
    }
    let first: Value = h.aircall_json("/v1/calls?per_page=3&order=asc").await;
    assert_eq!(first["meta"]["total"], 7);
    assert_eq!(first["calls"].as_array().unwrap().len(), 3);
    let next = first["meta"]["next_page_link"].as_str().unwrap().to_owned();
    let c = h.sandbox.credentials();
    let second: Value = h
        .http
        .get(&next)
        .basic_auth(&c.aircall_api_id, Some(&c.aircall_api_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["meta"]["current_page"], 2);
    assert_ne!(second["calls"][0]["id"], first["calls"][0]["id"]);
    let capped = h
        .aircall(Method::GET, "/v1/calls?per_page=50&page=201")
        .send()
        .await
        .unwrap();
    assert_eq!(capped.status(), 400);
    let big = h
        .aircall(Method::GET, "/v1/calls?per_page=500")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(big["meta"]["per_page"], 50, "per_page is capped at 50");
}

#[tokio::test]
async fn a_scripted_call_moves_through_ringing_answered_done_with_tags_comments_and_ai_later() {
    let h = Harness::with(relaxed()).await;
    let id = h
        .control(
            Method::POST,
            "/calls",
            Some(json!({"direction": "inbound", "external_number": "+44 7400 123456", "number_id": 1001})),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let get = || async {
        h.aircall(Method::GET, &format!("/v1/calls/{id}"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["call"]
            .clone()
    };
    let ringing = get().await;
    assert_eq!(
        (ringing["status"].as_str(), ringing["user"].is_null()),
        (Some("initial"), true),
        "no user before answer"
    );
    h.control(
        Method::POST,
        &format!("/calls/{id}/answer"),
        Some(json!({"user_id": 2002})),
    )
    .await;
    assert_eq!(get().await["status"], "answered");
    let dial = h
        .aircall(Method::POST, "/v1/users/2002/dial")
        .json(&json!({"to": "+33612345678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dial.status(), 405, "a user in a call cannot dial");
    h.control(Method::POST, &format!("/calls/{id}/hangup"), None)
        .await;
    h.control(
        Method::POST,
        &format!("/calls/{id}/tags"),
        Some(json!({"names": ["Hot lead", "Brand new tag"]})),
    )
    .await;
    h.control(
        Method::POST,
        &format!("/calls/{id}/comments"),
        Some(json!({"content": "Wants a demo"})),
    )
    .await;
    let done = get().await;
    assert_eq!(done["status"], "done");
    assert_eq!(done["tags"].as_array().unwrap().len(), 2);
    assert_eq!(done["comments"][0]["content"], "Wants a demo");
    assert_eq!(done["teams"][0]["name"], "Recruitment");
    let summary = h
        .aircall(Method::GET, &format!("/v1/calls/{id}/summary"))
        .send()
        .await
        .unwrap();
    assert_eq!(summary.status(), 404, "no AI data yet");
    h.control(
        Method::POST,
        &format!("/calls/{id}/ai"),
        Some(json!({"summary": "Discussed the role", "topics": ["salary"], "sentiment": "NEUTRAL"})),
    )
    .await;
    let summary: Value = h.aircall_json(&format!("/v1/calls/{id}/summary")).await;
    assert_eq!(summary["summary"]["content"], "Discussed the role");
    let topics: Value = h.aircall_json(&format!("/v1/calls/{id}/topics")).await;
    assert_eq!(topics["topic"]["content"][0], "salary");
    let dial = h
        .aircall(Method::POST, "/v1/users/2002/dial")
        .json(&json!({"to": "+33612345678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dial.status(), 204, "free again");
    h.http
        .put(format!("{}/_sandbox/users/2002", h.url))
        .json(&json!({"workspace_open": false}))
        .send()
        .await
        .unwrap();
    let closed = h
        .aircall(Method::POST, "/v1/users/2002/calls")
        .json(&json!({"to": "+33612345678", "number_id": 1001}))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 405, "Workspace closed");
    let state = h.control(Method::GET, "/state", None).await;
    assert_eq!(state["aircall"]["dials"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn insight_cards_are_recorded_with_whether_the_call_was_live() {
    let h = Harness::with(relaxed()).await;
    let id = h
        .control(
            Method::POST,
            "/calls",
            Some(json!({"direction": "inbound", "external_number": "+33612345678", "number_id": 1001})),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let card = json!({"contents": [{"type": "title", "text": "Léa Bernard", "link": "https://app.jobadder.com/candidates/1"},
                                   {"type": "shortText", "label": "Company", "text": "Acme"}]});
    let r = h
        .aircall(Method::POST, &format!("/v1/calls/{id}/insight_cards"))
        .json(&card)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let bad = h
        .aircall(Method::POST, &format!("/v1/calls/{id}/insight_cards"))
        .json(&json!({"contents": [{"type": "shortText", "text": "no label"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let state = h.control(Method::GET, "/state", None).await;
    assert_eq!(state["aircall"]["insight_cards"][0]["live"], true);
}

#[tokio::test]
async fn records_made_by_the_control_api_keep_hostile_text_verbatim_and_move_updated_time() {
    let h = Harness::with(relaxed()).await;
    let hostile = "<script>alert('x')</script>\"; DROP TABLE";
    let created = h
        .control(
            Method::POST,
            "/records",
            Some(json!({"crm": "sellsy", "type": "contact",
        "fields": {"first_name": hostile, "last_name": "O'Brien", "phone_number": "+33 6 11 22 33 44"}})),
        )
        .await;
    let id = created["id"].as_i64().unwrap();
    let before = h.control(Method::GET, "/state", None).await["sellsy"]["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()["updated_ms"]
        .as_i64()
        .unwrap();
    let updated = h
        .control(
            Method::PUT,
            &format!("/records/sellsy/contact/{id}"),
            Some(json!({"fields": {"position": "CEO"}})),
        )
        .await;
    assert!(updated["updated_ms"].as_i64().unwrap() > before);
    let token = h.sellsy_token().await;
    let contact: Value = h
        .bearer(Method::GET, &format!("{}/sellsy/v2/contacts/{id}", h.url), &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(contact["first_name"], hostile);
    assert_eq!(contact["position"], "CEO");
    let deleted = h
        .http
        .delete(format!("{}/_sandbox/records/sellsy/contact/{id}", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
}

#[tokio::test]
async fn the_request_log_and_the_clock_share_unix_milliseconds() {
    let h = Harness::with(relaxed()).await;
    let before = h.control(Method::GET, "/clock", None).await["now_ms"]
        .as_i64()
        .unwrap();
    h.aircall(Method::GET, "/v1/ping").send().await.unwrap();
    let log = h.control(Method::GET, "/requests?api=aircall", None).await;
    let t = log["requests"][0]["t_ms"].as_i64().unwrap();
    assert!(t >= before && t - before < 5_000);
    let moved = h
        .control(Method::POST, "/clock", Some(json!({"advance_ms": 7_200_000})))
        .await;
    assert!(
        moved["now_ms"].as_i64().unwrap() - before >= 7_200_000,
        "two hours later"
    );
}

#[tokio::test]
async fn the_scenario_driver_plays_scripted_calls_and_delivers_their_webhooks() {
    use callcard_sandbox::scenario::{demo_script, Outcome};
    let h = Harness::with(relaxed()).await;
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", receiver.local_addr().unwrap());
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = events.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut stream, _)) = receiver.accept().await else {
                break;
            };
            let mut data = vec![0u8; 65536];
            let n = stream.read(&mut data).await.unwrap_or(0);
            let text = String::from_utf8_lossy(&data[..n]).into_owned();
            if let Some(event) = text
                .split("\"event\":\"")
                .nth(1)
                .and_then(|t| t.split('"').next())
            {
                seen.lock().unwrap().push(event.to_owned());
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    h.control(Method::POST, "/webhooks", Some(json!({"url": url, "token": "t"})))
        .await;

    let driver = h.sandbox.driver();
    let numbers = driver.known_numbers("jobadder", 5);
    assert_eq!(numbers.len(), 5, "seeded callers with valid numbers");
    let script = demo_script(&numbers, 2001);
    let mut ids = Vec::new();
    for call in &script {
        ids.push(driver.play(call, 1000.0).await.unwrap());
    }
    let c = h.sandbox.credentials();
    for (id, call) in ids.iter().zip(&script) {
        let got: Value = h
            .http
            .get(format!("{}/aircall/v1/calls/{id}", h.url))
            .basic_auth(&c.aircall_api_id, Some(&c.aircall_api_token))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let got = &got["call"];
        assert_eq!(got["status"], "done");
        match call.outcome {
            Outcome::Answered { .. } => assert!(got["answered_at"].is_i64()),
            Outcome::Missed => assert!(got["missed_call_reason"].is_string() && got["voicemail"].is_null()),
            Outcome::Voicemail => assert!(got["voicemail"].is_string()),
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = events.lock().unwrap().clone();
    for expected in [
        "call.created",
        "call.answered",
        "call.hungup",
        "call.ended",
        "call.voicemail_left",
        "call.tagged",
        "call.ringing_on_agent",
        "summary.created",
        "topics.created",
        "sentiment.created",
    ] {
        assert!(events.iter().any(|e| e == expected), "{expected} in {events:?}");
    }
}
