//! The hub over loopback: Aircall's deliveries (played by the sandbox, which
//! follows Aircall's envelope) are stored in order and once; a wrong token,
//! a body that is not an event and an oversized one are refused and store
//! nothing; what was answered 200 is in the log file. Desktops get only the
//! events of their user — by page, or as a stream that resumes after the
//! last event it saw — and a revoked token gets nothing.

use callcard_hub::{Desktops, EventLog, Hub, SqliteEventLog, WebhookToken, MAX_WEBHOOK_BYTES};
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
    desktops: Arc<Desktops>,
    _dir: tempfile::TempDir,
}

async fn hub() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite3");
    let log: Arc<dyn EventLog> = Arc::new(SqliteEventLog::open(&path).unwrap());
    let desktops = Arc::new(Desktops::open(&path).unwrap());
    let hub = Hub::new(log.clone(), desktops.clone(), WebhookToken::new(TOKEN));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hub.router()).await });
    Running {
        url,
        path,
        log,
        desktops,
        _dir: dir,
    }
}

fn envelope(event: &str, id: i64, token: &str) -> Value {
    json!({"resource": "call", "event": event, "timestamp": 1_790_000_000, "token": token,
           "data": {"id": id, "direction": "inbound", "raw_digits": "+33 6 12 34 56 78"}})
}

/// A request's status and JSON answer.
async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

async fn post(url: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let request = reqwest::Client::new()
        .post(format!("{url}/webhooks/aircall"))
        .header("content-type", "application/json")
        .body(body);
    send(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_in_an_unexpected_shape_is_kept_not_refused() {
    let hub = hub().await;
    // Where Aircall's shape may vary, the event is kept (a 400 would get the
    // webhook disabled): a float or text timestamp, no data at all.
    for (n, odd) in [
        json!({"resource": "call", "event": "call.tagged", "timestamp": 1_790_000_000.5, "token": TOKEN, "data": {"id": 7}}),
        json!({"resource": "call", "event": "call.untagged", "timestamp": "1790000001", "token": TOKEN, "data": {"id": 7}}),
        json!({"resource": "call", "event": "call.archived", "token": TOKEN}),
    ]
    .iter()
    .enumerate()
    {
        let (status, kept) = post(&hub.url, odd.to_string()).await;
        assert_eq!((status, &kept["seq"]), (200, &json!(n + 1)), "{odd}");
    }
    let kept = hub.log.after(0, 10).unwrap();
    assert_eq!(
        kept.iter().map(|e| e.timestamp).take(2).collect::<Vec<_>>(),
        vec![1_790_000_000, 1_790_000_001]
    );
    assert!(
        kept[2].timestamp > 1_790_000_000,
        "no timestamp: when the hub received it"
    );
    assert_eq!(kept[2].data, Value::Null);
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
    for (resource, event) in [
        ("call", "call.created\nINFO forged"),
        ("Call", "call.created"),
        ("call", "<b>x</b>"),
    ] {
        let odd =
            json!({"resource": resource, "event": event, "timestamp": 1, "token": TOKEN, "data": {"id": 1}});
        let (status, refusal) = post(&hub.url, odd.to_string()).await;
        assert_eq!(status, 400, "{resource} {event}");
        assert!(
            refusal["error"]
                .as_str()
                .unwrap_or("")
                .contains("plain lowercase name"),
            "{refusal}"
        );
    }
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
    let metrics = metrics(&hub).await;
    for line in [
        "callcard_hub_events_in_total 2",
        "callcard_hub_duplicate_events_total 1",
        "callcard_hub_refused_webhooks_total 5",
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
            // Aircall (and the sandbox) may deliver out of order: each is stored once, as it came.
            for wanted in ["call.created", "call.answered", "call.hungup", "call.ended"] {
                assert_eq!(names.iter().filter(|n| **n == wanted).count(), 1, "{names:?}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the call's events reach the hub: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Delivers a call event as Aircall would; it must be stored.
async fn deliver(hub: &Running, name: &str, data: Value) {
    let body =
        json!({"resource": "call", "event": name, "timestamp": 1_790_000_000, "token": TOKEN, "data": data});
    assert_eq!(post(&hub.url, body.to_string()).await.0, 200);
}

async fn page(url: &str, token: &str, after: i64) -> (u16, Value) {
    send(
        reqwest::Client::new()
            .get(format!("{url}/v1/events?after={after}"))
            .bearer_auth(token),
    )
    .await
}

async fn metrics(hub: &Running) -> String {
    let answer = reqwest::get(format!("{}/metrics", hub.url)).await.unwrap();
    answer.text().await.unwrap()
}

/// A desktop's stream, resuming after `last_event_id` as a reconnecting
/// EventSource does.
async fn open_stream(hub: &Running, token: &str, last_event_id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/v1/stream", hub.url))
        .bearer_auth(token)
        .header("Last-Event-ID", last_event_id)
        .send()
        .await
        .unwrap()
}

/// Reads Server-Sent Events until `count` arrive (id, event name).
async fn read_stream(response: &mut reqwest::Response, count: usize) -> Vec<(i64, String)> {
    let mut text = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < count {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("the stream delivers in time")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_owned()))
            };
            if let (Some(id), Some(name)) = (field("id"), field("event")) {
                events.push((id.parse().unwrap(), name));
            }
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_gets_its_users_events_by_page_and_by_stream_and_resumes_after_the_last_one() {
    let hub = hub().await;
    let (_, alex) = hub.desktops.add("alex@example.com", 2001, &[1001], 1).unwrap();
    let (_, sam) = hub.desktops.add("sam@example.com", 2002, &[1002], 1).unwrap();
    // Alex answers call 1; call 2 rings on Sam's number; an SMS on Alex's number.
    deliver(
        &hub,
        "call.answered",
        json!({"id": 1, "user": {"id": 2001}, "number": {"id": 1009}}),
    )
    .await;
    deliver(
        &hub,
        "call.created",
        json!({"id": 2, "user": null, "number": {"id": 1002}}),
    )
    .await;
    post(
        &hub.url,
        json!({"resource": "message", "event": "message.received", "timestamp": 1_790_000_001,
        "token": TOKEN, "data": {"id": "m1", "number": {"id": 1001}, "body": "<b>hi</b>"}})
        .to_string(),
    )
    .await;

    let (status, missed) = page(&hub.url, &alex, 0).await;
    assert_eq!(status, 200);
    let seqs: Vec<i64> = missed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 3], "{missed}");
    assert_eq!(missed["next_after"], json!(3));
    let (_, sams) = page(&hub.url, &sam, 0).await;
    assert_eq!(sams["events"][0]["data"]["id"], json!(2));
    assert_eq!(page(&hub.url, "cch_forged", 0).await.0, 401);

    // The stream: what was missed first, then what arrives.
    let mut stream = open_stream(&hub, &alex, "0").await;
    assert_eq!(stream.status().as_u16(), 200);
    assert_eq!(
        read_stream(&mut stream, 2).await,
        vec![
            (1, "call.answered".to_owned()),
            (3, "message.received".to_owned())
        ]
    );
    deliver(
        &hub,
        "call.created",
        json!({"id": 4, "user": null, "number": {"id": 1002}}),
    )
    .await;
    deliver(&hub, "call.ended", json!({"id": 1, "user": {"id": 2001}})).await;
    assert_eq!(
        read_stream(&mut stream, 1).await,
        vec![(5, "call.ended".to_owned())]
    );
    let metrics = metrics(&hub).await;
    assert!(
        metrics.lines().any(|l| l == "callcard_hub_desktops_connected 1"),
        "{metrics}"
    );
    let delivered = metrics
        .lines()
        .find_map(|l| l.strip_prefix("callcard_hub_delivery_lag_seconds_count "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        delivered.is_some_and(|n| n >= 1),
        "the delivery lag is counted: {metrics}"
    );
    drop(stream);

    // After a sleep: resumes after the last event seen (Last-Event-ID).
    deliver(&hub, "call.created", json!({"id": 6, "user": {"id": 2001}})).await;
    let mut resumed = open_stream(&hub, &alex, "5").await;
    assert_eq!(
        read_stream(&mut resumed, 1).await,
        vec![(6, "call.created".to_owned())]
    );

    hub.desktops.revoke("alex@example.com", 2).unwrap();
    assert_eq!(page(&hub.url, &alex, 0).await.0, 401);
    assert_eq!(open_stream(&hub, &alex, "0").await.status().as_u16(), 401);
}

/// A log that reads but cannot write (a full disk, a database turned
/// read-only): what the hub says about it.
struct Unwritable(SqliteEventLog);

impl EventLog for Unwritable {
    fn append(
        &self,
        _: &callcard_hub::WebhookEvent,
        _: i64,
    ) -> Result<callcard_hub::Appended, callcard_hub::LogError> {
        Err(callcard_hub::LogError::Sql {
            what: "appending an event",
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                Some("database or disk is full".into()),
            ),
        })
    }
    fn after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<callcard_hub::StoredEvent>, callcard_hub::LogError> {
        self.0.after(after, limit)
    }
    fn prune(&self, before_ms: i64) -> Result<usize, callcard_hub::LogError> {
        self.0.prune(before_ms)
    }
    fn len(&self) -> Result<u64, callcard_hub::LogError> {
        self.0.len()
    }
    fn parties_of_call(&self, call_id: i64) -> Result<Option<Value>, callcard_hub::LogError> {
        self.0.parties_of_call(call_id)
    }
    fn identity(&self) -> Result<callcard_hub::LogIdentity, callcard_hub::LogError> {
        self.0.identity()
    }
    fn check_writable(&self, _: i64) -> Result<(), callcard_hub::LogError> {
        self.append(
            &callcard_hub::WebhookEvent {
                resource: "call".into(),
                event: "call.created".into(),
                timestamp: 0,
                data: Value::Null,
            },
            0,
        )
        .map(|_| ())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_that_cannot_write_its_log_is_unhealthy_and_says_so_on_its_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite3");
    let log: Arc<dyn EventLog> = Arc::new(Unwritable(SqliteEventLog::open(&path).unwrap()));
    let desktops = Arc::new(Desktops::open(&path).unwrap());
    let hub = Hub::new(log, desktops, WebhookToken::new(TOKEN));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hub.router()).await });

    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 503, "readable is not enough");
    assert!(health.text().await.unwrap().contains("cannot be written"));
    let (status, _) = post(&url, envelope("call.created", 1, TOKEN).to_string()).await;
    assert_eq!(status, 503, "not stored: Aircall delivers it again");
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "callcard_hub_store_failures_total 2"),
        "{metrics}"
    );
}
