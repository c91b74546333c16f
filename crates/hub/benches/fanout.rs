//! Fan-out: the `callcard-hub` binary (release build, its own process) with
//! 50 desktops following their streams over loopback while webhook events
//! arrive at 1,000 a minute for a minute. Prints a table: webhook answer
//! time (a durable commit each), webhook→desktop delivery p50/p95/p99, the
//! deliveries, the hub's memory. Each event is a call ringing on one of ten
//! shared numbers (five desktops each), or answered by one desktop's user.
//!
//! Beside them, a real desktop engine (call watching, the JobAdder card and
//! log, as the app runs them) follows the same hub for the sandbox's Aircall
//! user: calls ring on its numbers every 1.5 s through the sandbox, whose
//! webhooks go to the hub; the table gives ringing webhook → card ready, and
//! the Aircall requests that engine made to watch calls (none: no polling).
//!
//!     cargo bench -p callcard-hub --bench fanout     (DESKTOPS, EVENTS_PER_MINUTE, SECONDS)

use callcard_core::settings::CrmSelection;
use callcard_core::tracker::CallEvent;
use callcard_core::{CallSource, Paths, Service, ServiceEvent, Settings};
use callcard_engine::aircall_account::AircallConnection;
use callcard_engine::hub_account::HubConnection;
use callcard_engine::watch::{self, Slots, Watch, WatchCrms, WatchSource};
use callcard_engine::{crms, Environment};
use callcard_hub::Desktops;
use callcard_sandbox::scenario::{CallAction, NewCall};
use callcard_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

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

/// The real desktop: its accounts are the sandbox's (the CRM signed in in
/// memory), its calls come from the hub.
struct RealDesktop {
    connection: AircallConnection,
    crm: Arc<dyn callcard_core::crm::Crm>,
    hub: HubConnection,
}

impl WatchSource for RealDesktop {
    fn watch_for<'a>(
        &'a self,
        _service: &'a Arc<Service>,
        _settings: &'a Settings,
        stop: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Option<Watch>> + Send + 'a>> {
        Box::pin(async move {
            Some(Watch {
                connection: self.connection.clone(),
                crms: WatchCrms::ready_now(vec![self.crm.clone()]),
                settle_ms_override: None,
                budget_override: None,
                ai_retry: Duration::from_secs(60),
                hub: Some(self.hub.clone()),
                hub_fallback: Duration::from_secs(60),
                call_give_up: None,
                stagger_step: None,
                stop,
            })
        })
    }
}

async fn start_real_desktop(sandbox: &Sandbox, home: &std::path::Path, hub: HubConnection) -> Arc<Service> {
    let service = Service::start(&Paths::under(home)).unwrap();
    let settings = Settings {
        crms: CrmSelection::only(["jobadder"]),
        settle_delay_secs: 0,
        ..Settings::default()
    };
    service.save_settings(&settings).unwrap();
    let env = Environment::from_pairs(sandbox.env());
    let var = |key: &str| env.var(key).unwrap_or_default();
    let config = crms::crm_env(crms::find("jobadder").unwrap(), env.lookup()).unwrap();
    let session = crms::memory_session(&config);
    crms::sign_in(&config, &session, callcard_sandbox::browser())
        .await
        .unwrap();
    let crm = crms::connector(&config, session, settings.region(), &service.shared_store())
        .await
        .unwrap();
    let desktop = Arc::new(RealDesktop {
        connection: AircallConnection {
            api_url: var("CALLCARD_AIRCALL_API_URL"),
            api_id: var("CALLCARD_AIRCALL_API_ID"),
            api_token: var("CALLCARD_AIRCALL_API_TOKEN"),
            user_email: var("CALLCARD_AIRCALL_USER_EMAIL"),
        },
        crm,
        hub,
    });
    tokio::spawn(watch::supervise(
        service.clone(),
        desktop,
        Slots::default(),
        service.shutdown_token(),
    ));
    service
}

#[tokio::main]
async fn main() {
    // `RUST_LOG=info` shows the real desktop's log.
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
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
    // The real desktop's user: the sandbox's Alex, on the Paris office and the London desk.
    let (_, real_token) = desktops
        .add("alex.martin@callcard.test", 2001, &[1001, 1002], 0)
        .unwrap();
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

    // The real desktop engine, following the hub for the sandbox's Aircall.
    let sandbox = Sandbox::start(SandboxConfig {
        records_per_kind: 100,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    sandbox.deliver_webhooks_to(callcard_sandbox::webhooks::Target::any_event(
        format!("{base}/webhooks/aircall"),
        "bench-token",
    ));
    let home = tempfile::tempdir().unwrap();
    let service = start_real_desktop(
        &sandbox,
        home.path(),
        HubConnection::new(base.clone(), real_token),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while service.call_source() != CallSource::Hub {
        assert!(Instant::now() < deadline, "the real desktop follows the hub");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its phone index filled (the card is read from it first).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let watching_since_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let cards: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    {
        let (cards, mut events) = (cards.clone(), service.subscribe());
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let ServiceEvent::Call {
                    event: CallEvent::CardReady { call_id },
                    ..
                } = event
                {
                    cards.lock().unwrap().entry(call_id).or_insert_with(Instant::now);
                }
            }
        });
    }
    let driver = sandbox.driver();
    let callers = driver.known_numbers("jobadder", 40);
    let rings = tokio::spawn(async move {
        let mut rung = Vec::new();
        for (i, caller) in callers.iter().enumerate() {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let at = Instant::now();
            let call = driver
                .ring(NewCall {
                    direction: "inbound".into(),
                    external_number: caller.clone(),
                    number_id: if i % 2 == 0 { 1001 } else { 1002 },
                    user_id: None,
                })
                .unwrap();
            rung.push((call, at));
            tokio::time::sleep(Duration::from_millis(500)).await;
            driver
                .act(call, CallAction::Answer { user_id: Some(2001) })
                .unwrap();
            driver.act(call, CallAction::Hangup { reason: None }).unwrap();
        }
        rung
    });

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
    let rung = rings.await.unwrap();

    // SMS through the same hub into JobAdder notes (conversation mode, the
    // default): from the webhook to the note holding the SMS's line.
    let sms_driver = sandbox.driver();
    let sms_callers = sms_driver.known_numbers("jobadder", 10);
    let mut sms_times = Vec::new();
    for n in 0..30 {
        let body = format!("bench SMS {n}");
        let at = Instant::now();
        sms_driver
            .sms(callcard_sandbox::scenario::NewSms {
                direction: "inbound".into(),
                external_number: sms_callers[n % sms_callers.len()].clone(),
                number_id: 1001,
                body: body.clone(),
                later_ms: 0,
            })
            .unwrap();
        let deadline = at + Duration::from_secs(30);
        loop {
            let state = sandbox.control().get("/state?calls=false").await.unwrap();
            let landed = state["jobadder"]["notes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|note| {
                    note["text"]
                        .as_str()
                        .is_some_and(|t| t.lines().any(|l| l.ends_with(&body)))
                });
            if landed {
                sms_times.push(at.elapsed());
                break;
            }
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    sms_times.sort();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let busy_rss = rss_kib(hub.id());
    let mut card_times: Vec<Duration> = {
        let cards = cards.lock().unwrap();
        rung.iter()
            .filter_map(|(call, at)| cards.get(call).map(|ready| *ready - *at))
            .collect()
    };
    card_times.sort();
    let aircall = sandbox
        .control()
        .get(&format!("/requests?api=aircall&since_ms={watching_since_ms}"))
        .await
        .unwrap();
    let requests = aircall["requests"].as_array().cloned().unwrap_or_default();
    let watching_requests = requests
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"].as_str().unwrap_or("").starts_with("/aircall/v1/calls"))
        .count();
    service.shutdown_token().cancel();
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
    println!();
    println!("A real desktop engine on the same hub (the sandbox's Aircall delivering to it), calls ringing on its numbers every 1.5 s, each answered and logged to JobAdder:");
    println!("| calls | ringing webhook → card ready p50 | p95 | max | cards | Aircall requests to watch calls | other Aircall requests (contact sync, insight cards: at most the desktop's 10 a minute) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {} | {} | {} / {} | {watching_requests} | {} |",
        rung.len(),
        ms(percentile(&card_times, 0.5)),
        ms(percentile(&card_times, 0.95)),
        ms(card_times.last().copied().unwrap_or_default()),
        card_times.len(),
        rung.len(),
        requests.len() - watching_requests,
    );
    println!();
    println!(
        "SMS through the hub into JobAdder (conversation mode), one every ~0.3 s over 10 conversations:"
    );
    println!("| SMS | webhook → line in the note p50 | p95 | max | landed |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| 30 | {} | {} | {} | {} / 30 |",
        ms(percentile(&sms_times, 0.5)),
        ms(percentile(&sms_times, 0.95)),
        ms(sms_times.last().copied().unwrap_or_default()),
        sms_times.len(),
    );
}
