//! Fan-out: the `callcard-hub` binary (release build, its own process) with
//! 50 desktops following their streams over loopback while webhook events
//! arrive at 1,000 a minute for a minute. Prints a table: webhook answer
//! time (a durable commit each), webhook→desktop delivery p50/p95/p99, the
//! deliveries, the hub's memory. Each event is a call ringing on one of ten
//! shared numbers (five desktops each), or answered by one desktop's user.
//!
//!     cargo bench -p callcard-hub --bench fanout     (DESKTOPS, EVENTS_PER_MINUTE, SECONDS)

use callcard_hub::Desktops;
use serde_json::json;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let desktops_n = var("DESKTOPS", 50);
    let per_minute = var("EVENTS_PER_MINUTE", 1000);
    let seconds = var("SECONDS", 60);
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("hub.sqlite3");
    let token_file = dir.path().join("webhook-token");
    std::fs::write(&token_file, "bench-token").unwrap();
    // Desktop i is Aircall user 3000+i on shared number 4000 + i/5.
    let desktops = Desktops::open(&database).unwrap();
    let mut tokens = Vec::new();
    for i in 0..desktops_n as i64 {
        let (_, token) = desktops
            .add(&format!("agent{i}@example.com"), 3000 + i, &[4000 + i / 5], 0)
            .unwrap();
        tokens.push(token);
    }
    drop(desktops);
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut hub = Command::new(env!("CARGO_BIN_EXE_callcard-hub"))
        .arg("serve")
        .env("CALLCARD_HUB_ADDR", addr.to_string())
        .env("CALLCARD_HUB_DATABASE", &database)
        .env("CALLCARD_HUB_WEBHOOK_TOKEN_FILE", &token_file)
        .env("CALLCARD_HUB_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let idle_rss = rss_kib(hub.id());

    // When each event was sent, and when each desktop got it.
    let sent: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let delivered: Arc<Mutex<Vec<Duration>>> = Arc::default();
    for token in &tokens {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        let (sent, delivered) = (sent.clone(), delivered.clone());
        tokio::spawn(async move {
            let mut stream = client
                .get(format!("{base}/v1/stream?after=0"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let mut text = String::new();
            while let Ok(Some(chunk)) = stream.chunk().await {
                let now = Instant::now();
                text.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = text.find("\n\n") {
                    let block: String = text.drain(..end + 2).collect();
                    // The call id rides in the data; the event's sequence number is the id.
                    if let Some(id) = block
                        .lines()
                        .find_map(|l| l.strip_prefix("data:"))
                        .and_then(|d| serde_json::from_str::<serde_json::Value>(d.trim()).ok())
                        .and_then(|v| v["data"]["id"].as_i64())
                    {
                        if let Some(at) = sent.lock().unwrap().get(&id) {
                            delivered.lock().unwrap().push(now - *at);
                        }
                    }
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let total = per_minute * seconds / 60;
    let interval = Duration::from_secs_f64(60.0 / per_minute as f64);
    let mut answers = Vec::new();
    let mut expected = 0usize;
    let started = Instant::now();
    for n in 0..total as i64 {
        let due = started + interval * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let (event, data, reach) = if n % 2 == 0 {
            let number = 4000 + (n / 2) % (desktops_n as i64 / 5).max(1);
            let reach = (0..desktops_n as i64).filter(|i| 4000 + i / 5 == number).count();
            (
                "call.created",
                json!({"id": n, "user": null, "number": {"id": number}}),
                reach,
            )
        } else {
            let user = 3000 + n % desktops_n as i64;
            (
                "call.answered",
                json!({"id": n, "user": {"id": user}, "number": {"id": 9999}}),
                1,
            )
        };
        expected += reach;
        sent.lock().unwrap().insert(n, Instant::now());
        let body =
            json!({"resource": "call", "event": event, "timestamp": n, "token": "bench-token", "data": data});
        let asked = Instant::now();
        let answer = client
            .post(format!("{base}/webhooks/aircall"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        answers.push(asked.elapsed());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let busy_rss = rss_kib(hub.id());
    Command::new("kill")
        .args(["-TERM", &hub.id().to_string()])
        .status()
        .unwrap();
    let _ = hub.wait();

    answers.sort();
    let mut delivery = delivered.lock().unwrap().clone();
    delivery.sort();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("The team hub: {desktops_n} desktops streaming over loopback, {per_minute} webhook events a minute for {seconds} s (half ring on a number shared by 5 desktops, half answered by one).");
    println!("| desktops | events | webhook 200 p50 | p95 | delivery p50 | p95 | p99 | delivered / expected | hub RSS idle → busy |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {desktops_n} | {total} | {} | {} | {} | {} | {} | {} / {expected} | {:.1} → {:.1} MiB |",
        ms(percentile(&answers, 0.5)),
        ms(percentile(&answers, 0.95)),
        ms(percentile(&delivery, 0.5)),
        ms(percentile(&delivery, 0.95)),
        ms(percentile(&delivery, 0.99)),
        delivery.len(),
        idle_rss as f64 / 1024.0,
        busy_rss as f64 / 1024.0,
    );
}
