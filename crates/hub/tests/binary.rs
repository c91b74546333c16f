//! The `callcard-hub` binary as an operator runs it: `user add` looks the
//! user up in Aircall (the sandbox) and prints a token once; `serve` takes
//! webhooks and streams them to that desktop; SIGTERM stops it promptly
//! even while a desktop's stream is open. `webhook create` registers the
//! hub with Aircall and keeps the token it returns in the token file; a
//! `webhook rotate` while serving takes effect without a restart.

use callcard_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn hub_command(sandbox: &Sandbox, dir: &std::path::Path, addr: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callcard-hub"));
    let token_file = dir.join("webhook-token");
    if !token_file.exists() {
        std::fs::write(&token_file, "hub-webhook-token\n").unwrap();
    }
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CALLCARD_HUB_ADDR", addr)
        .env("CALLCARD_HUB_DATABASE", dir.join("hub.sqlite3"))
        .env("CALLCARD_HUB_WEBHOOK_TOKEN_FILE", &token_file)
        .env(
            "CALLCARD_HUB_AIRCALL_API_URL",
            sandbox.var("CALLCARD_AIRCALL_API_URL"),
        )
        .env(
            "CALLCARD_HUB_AIRCALL_API_ID",
            sandbox.var("CALLCARD_AIRCALL_API_ID"),
        )
        .env(
            "CALLCARD_HUB_AIRCALL_API_TOKEN",
            sandbox.var("CALLCARD_AIRCALL_API_TOKEN"),
        );
    command
}

fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_adds_a_user_serves_and_stops_the_hub_with_a_stream_open() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let added = hub_command(&sandbox, dir.path(), &addr)
        .args(["user", "add", "alex.martin@callcard.test"])
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let token = String::from_utf8(added.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("cch_"), "the token alone on stdout: {token:?}");
    assert!(String::from_utf8_lossy(&added.stderr).contains("Aircall user 2001"));

    let mut server = hub_command(&sandbox, dir.path(), &addr)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the hub starts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut stream = client
        .get(format!("{base}/v1/stream"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let delivered = client
        .post(format!("{base}/webhooks/aircall"))
        .json(
            &json!({"resource": "call", "event": "call.created", "timestamp": 1, "token": "hub-webhook-token",
                      "data": {"id": 7, "user": null, "number": {"id": 1001}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status().as_u16(), 200);
    let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
        .await
        .expect("the event is pushed")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains("event: call.created"));

    // SIGTERM to the process this test started, by its id.
    let stopped = Instant::now();
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "a clean stop");
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "the hub stops within 5 s with a stream open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut log = String::new();
    std::io::Read::read_to_string(server.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(
        !log.contains("hub-webhook-token") && !log.contains(&token),
        "no secret in the log"
    );
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_registers_itself_with_aircall_and_a_rotation_needs_no_restart() {
    use callcard_sandbox::scenario::NewCall;
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("webhook-token");
    let addr = free_addr();
    let url = format!("http://{addr}/webhooks/aircall");
    let hub = |args: &[&str]| {
        let mut command = hub_command(&sandbox, dir.path(), &addr);
        command.args(args);
        command
    };
    // Where the token cannot be kept (run as a user who cannot write
    // there, a folder that is not there): no webhook is left behind.
    let unsaved = hub(&["webhook", "create", &url])
        .env(
            "CALLCARD_HUB_WEBHOOK_TOKEN_FILE",
            dir.path().join("no-such-folder/webhook-token"),
        )
        .output()
        .unwrap();
    assert!(!unsaved.status.success());
    assert!(
        String::from_utf8_lossy(&unsaved.stderr).contains("cannot write the token file"),
        "{}",
        String::from_utf8_lossy(&unsaved.stderr)
    );
    let target = sandbox.control().get("/webhooks").await.unwrap();
    assert!(
        target["target"].is_null(),
        "the webhook just made was removed: {target}"
    );
    // `webhook create` replaces whatever token the file held with Aircall's.
    let created = run(&mut hub(&["webhook", "create", &url]));
    assert!(created.contains("created"), "{created}");
    let first_token = std::fs::read_to_string(&token_file).unwrap();
    assert!(
        !first_token.is_empty() && !created.contains(&first_token),
        "the token is kept, not printed"
    );
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let shown = run(&mut hub(&["webhook", "show"]));
    assert!(
        shown.contains(&url) && shown.contains("call.created") && !shown.contains(&first_token),
        "{shown}"
    );
    let again = hub(&["webhook", "create", &url]).output().unwrap();
    assert!(!again.status.success(), "one webhook per hub");
    assert!(String::from_utf8_lossy(&again.stderr).contains("registered already"));

    let mut server = hub(&["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "the hub starts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored = || async {
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("callcard_hub_events_in_total "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ring = || {
        sandbox
            .driver()
            .ring(NewCall {
                direction: "inbound".into(),
                external_number: "+44 7400 123456".into(),
                number_id: 1001,
                user_id: None,
            })
            .unwrap()
    };
    let wait_for = |at_least: u64| {
        let stored = &stored;
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while stored().await < at_least {
                assert!(Instant::now() < deadline, "Aircall's events reach the hub");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    ring();
    wait_for(1).await;

    let rotated = run(&mut hub(&["webhook", "rotate"]));
    assert!(rotated.contains("rotated"), "{rotated}");
    assert_ne!(std::fs::read_to_string(&token_file).unwrap(), first_token);
    // The next call's events carry the new token: the running hub takes them.
    let second = ring();
    let log = callcard_hub::SqliteEventLog::open(&dir.path().join("hub.sqlite3")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        use callcard_hub::EventLog;
        let events = log.after(0, 1000).unwrap();
        if events.iter().any(|e| e.data["id"] == json!(second)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the call after the rotation reaches the hub"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Aircall retries a failed delivery for up to 12 hours, signed with the
    // token of its time: the token before the rotation is still taken.
    let previous = callcard_hub::server::previous_token_file(&token_file);
    assert_eq!(
        std::fs::read_to_string(&previous).unwrap().trim(),
        first_token.trim()
    );
    assert_eq!(
        std::fs::metadata(&previous).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let deliver = |token: String| {
        let base = base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/webhooks/aircall"))
                .json(
                    &json!({"resource": "call", "event": "call.tagged", "timestamp": 1_790_000_000,
                              "token": token, "data": {"id": 424242}}),
                )
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        deliver(first_token.trim().to_owned()).await,
        200,
        "a retry signed before the rotation"
    );
    assert_eq!(deliver("never-a-token".into()).await, 401);

    let removed = run(&mut hub(&["webhook", "remove"]));
    assert!(removed.contains("removed"), "{removed}");
    assert!(!previous.exists(), "a removed webhook's tokens are all gone");
    let target = sandbox.control().get("/webhooks").await.unwrap();
    assert!(
        target["target"].is_null(),
        "Aircall has no webhook left: {target}"
    );
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
}

/// SIGKILL in the middle of deliveries, again and again: every event the
/// hub answered 200 is in its log when it starts again (committed before
/// the answer); what it did not answer, Aircall delivers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_hub_between_deliveries_loses_no_event_it_answered() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let mut next_id = 1_i64;
    let mut kills = 0;
    for round in 0..8 {
        let mut server = hub_command(&sandbox, dir.path(), &addr)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the hub starts");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Four senders deliver as fast as they can…
        let mut senders = Vec::new();
        for _ in 0..4 {
            let (client, base, answered) = (client.clone(), base.clone(), answered.clone());
            let first = next_id;
            next_id += 10_000;
            senders.push(tokio::spawn(async move {
                for id in first..first + 10_000 {
                    let body = json!({"resource": "call", "event": "call.created", "timestamp": 1_790_000_000 + id,
                        "token": "hub-webhook-token", "data": {"id": id, "user": null, "number": {"id": 1001}}});
                    match client.post(format!("{base}/webhooks/aircall")).json(&body).send().await {
                        Ok(answer) if answer.status().as_u16() == 200 => answered.lock().unwrap().push(id),
                        _ => return,
                    }
                }
            }));
        }
        // …and the hub is killed (SIGKILL, by the id of the process this test started).
        tokio::time::sleep(Duration::from_millis(150 + 40 * round)).await;
        server.kill().unwrap();
        server.wait().unwrap();
        kills += 1;
        for sender in senders {
            sender.await.unwrap();
        }
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() > 8 * 20,
        "deliveries were under way at each kill: {}",
        answered.len()
    );
    let log = callcard_hub::SqliteEventLog::open(&dir.path().join("hub.sqlite3")).unwrap();
    let stored: std::collections::HashSet<i64> = callcard_hub::EventLog::after(&log, 0, 1_000_000)
        .unwrap()
        .iter()
        .filter_map(|e| e.data["id"].as_i64())
        .collect();
    let lost: Vec<&i64> = answered.iter().filter(|id| !stored.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "{} answered 200 and lost after {kills} kills: {lost:?}",
        lost.len()
    );
    println!(
        "{kills} SIGKILLs, {} deliveries answered 200, all in the log",
        answered.len()
    );
}
