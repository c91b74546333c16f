//! The hub's webhook receiver over loopback: Aircall's deliveries (played by
//! the sandbox, which follows Aircall's envelope) are stored in order and
//! once; a wrong token, a body that is not an event and an oversized one are
//! refused and store nothing; what was answered 200 is in the log file.

use callcard_hub::{EventLog, Hub, SqliteEventLog, WebhookToken, MAX_WEBHOOK_BYTES};
use callcard_sandbox::scenario::{CallAction, NewCall};
use callcard_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "aircall-webhook-token-1";

struct Running {
    url: String,
    path: std::path::PathBuf,
    log: Arc<dyn EventLog>,
    _dir: tempfile::TempDir,
}

async fn hub() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite3");
    let log: Arc<dyn EventLog> = Arc::new(SqliteEventLog::open(&path).unwrap());
    let hub = Hub::new(log.clone(), WebhookToken::new(TOKEN));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hub.router()).await });
    Running {
        url,
        path,
        log,
        _dir: dir,
    }
}

fn envelope(event: &str, id: i64, token: &str) -> Value {
    json!({"resource": "call", "event": event, "timestamp": 1_790_000_000, "token": token,
           "data": {"id": id, "direction": "inbound", "raw_digits": "+33 6 12 34 56 78"}})
}

async fn post(url: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{url}/webhooks/aircall"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_stored_once_in_order_and_bad_deliveries_store_nothing() {
    let hub = hub().await;
    let (status, _) = post(&hub.url, envelope("call.created", 1, "wrong").to_string()).await;
    assert_eq!(status, 401);
    let (status, _) = post(&hub.url, "<html>not an event</html>").await;
    assert_eq!(status, 400);
    let huge = json!({"resource": "call", "event": "call.commented", "timestamp": 1, "token": TOKEN,
                      "data": {"id": 1, "content": "x".repeat(MAX_WEBHOOK_BYTES)}});
    let (status, _) = post(&hub.url, huge.to_string()).await;
    assert_eq!(status, 413);
    assert_eq!(hub.log.len().unwrap(), 0, "nothing refused is stored");

    let (status, first) = post(&hub.url, envelope("call.created", 1, TOKEN).to_string()).await;
    assert_eq!(
        (status, &first["seq"], &first["duplicate"]),
        (200, &json!(1), &json!(false))
    );
    let (_, again) = post(&hub.url, envelope("call.created", 1, TOKEN).to_string()).await;
    assert_eq!(
        (&again["seq"], &again["duplicate"]),
        (&json!(1), &json!(true)),
        "a retried delivery"
    );
    let (_, second) = post(&hub.url, envelope("call.ended", 1, TOKEN).to_string()).await;
    assert_eq!(second["seq"], json!(2));

    // Answered 200 means committed: another reader of the file sees both.
    let reopened = SqliteEventLog::open(&hub.path).unwrap();
    let events: Vec<String> = reopened
        .after(0, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, vec!["call.created", "call.ended"]);

    let health = reqwest::get(format!("{}/healthz", hub.url)).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let metrics = reqwest::get(format!("{}/metrics", hub.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "callcard_hub_events_in_total 2",
        "callcard_hub_duplicate_events_total 1",
        "callcard_hub_refused_webhooks_total 2",
        "callcard_hub_stored_events 2",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandboxs_aircall_delivers_a_calls_events_to_the_hub() {
    let hub = hub().await;
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    sandbox
        .control()
        .post(
            "/webhooks",
            json!({"url": format!("{}/webhooks/aircall", hub.url), "token": TOKEN}),
        )
        .await
        .unwrap();
    let driver = sandbox.driver();
    let call = driver
        .ring(NewCall {
            direction: "inbound".into(),
            external_number: "+44 7400 123456".into(),
            number_id: 1001,
            user_id: None,
        })
        .unwrap();
    driver
        .act(call, CallAction::Answer { user_id: Some(2001) })
        .unwrap();
    driver.act(call, CallAction::Hangup { reason: None }).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events: Vec<(String, i64)> = hub
            .log
            .after(0, 100)
            .unwrap()
            .into_iter()
            .filter(|e| e.data["id"] == json!(call))
            .map(|e| (e.event, e.seq))
            .collect();
        let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
        if ["call.created", "call.answered", "call.hungup", "call.ended"]
            .iter()
            .all(|wanted| names.contains(wanted))
        {
            let position = |name: &str| names.iter().position(|n| *n == name).unwrap();
            assert!(position("call.created") < position("call.answered"));
            assert!(position("call.answered") < position("call.hungup"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the call's events reach the hub: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
