//! Polling figures against the sandbox (`cargo bench -p callcard-aircall`):
//! 1. one instance with a 30/min budget (half a 60/min company limit), 100 calls: the delay between a call
//!    appearing in the API and its ringing event (p50, p95; target p95 ≤ poll
//!    interval + 150 ms), and the requests per minute used;
//! 2. five instances sharing a 60/min company limit, each started with a
//!    budget too big (30/min): requests per minute after convergence, the
//!    429s, and whether any call was missed.

use callcard_aircall::{Poller, PollerConfig};
use callcard_core::clock::{Clock, SystemClock};
use callcard_core::tracker::CallEvent;
use callcard_core::Store;
use callcard_sandbox::scenario::{CallAction, NewCall};
use callcard_sandbox::{LimitsConfig, Sandbox, SandboxConfig};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn config(budget: u32, user_id: i64) -> PollerConfig {
    PollerConfig {
        budget_per_minute: budget,
        user_id,
        connected_numbers: vec![1001],
        settle_ms: 1_000,
        ai_wait_ms: 0,
        ai_retry_ms: 60_000,
        look_back_ms: 3_600_000,
        max_interval: Duration::from_secs(60),
    }
}

struct Instance {
    poller: Poller,
    _dir: tempfile::TempDir,
}

fn instance(sandbox: &Sandbox, budget: u32, user_id: i64) -> Instance {
    let client = Arc::new(callcard_test_support::aircall(sandbox));
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(Mutex::new(
        Store::open(&dir.path().join("db.sqlite3")).expect("store"),
    ));
    Instance {
        poller: Poller::new(client, store, Arc::new(SystemClock), config(budget, user_id)),
        _dir: dir,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn stats(sandbox: &Sandbox) -> serde_json::Value {
    reqwest::get(format!("{}/_sandbox/stats", sandbox.url()))
        .await
        .expect("stats")
        .json()
        .await
        .expect("json")
}

async fn single_instance() {
    let limits = LimitsConfig {
        aircall_per_minute: 60,
        ..Default::default()
    };
    let sandbox = Sandbox::start(SandboxConfig {
        limits,
        records_per_kind: 10,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let mut inst = instance(&sandbox, 30, 2001);
    let interval = inst.poller.pacer().interval();
    let appeared: Arc<Mutex<HashMap<i64, i64>>> = Arc::default();
    let driver = sandbox.driver();
    let made = appeared.clone();
    let ringer = tokio::spawn(async move {
        let mut x: u64 = 7;
        for i in 0..100 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            tokio::time::sleep(Duration::from_millis(200 + (x >> 33) % 2_000)).await;
            let id = driver
                .ring(NewCall {
                    direction: "inbound".into(),
                    external_number: format!("+33 6 12 34 {:02} {:02}", i / 100, i % 100),
                    number_id: 1001,
                    user_id: None,
                })
                .expect("ring");
            made.lock().unwrap().insert(id, SystemClock.now_ms());
            // Answered and ended later, so calls stay visible to later polls.
            let d = driver.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let _ = d.act(id, CallAction::Hangup { reason: None });
            });
        }
    });
    let start = Instant::now();
    let mut delays = Vec::new();
    let mut rung = HashSet::new();
    let mut requests = 0;
    while rung.len() < 100 && start.elapsed() < Duration::from_secs(600) {
        let tick = inst.poller.tick().await.expect("tick");
        requests += tick.requests;
        let now = SystemClock.now_ms();
        for event in tick.events {
            if let CallEvent::CallRinging { call_id } = event {
                if let Some(t) = appeared.lock().unwrap().get(&call_id) {
                    delays.push((now - t) as f64);
                    rung.insert(call_id);
                }
            }
        }
    }
    ringer.await.expect("ringer");
    let minutes = start.elapsed().as_secs_f64() / 60.0;
    delays.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let throttled = stats(&sandbox).await["apis"]["aircall"]["throttled"]
        .as_u64()
        .unwrap_or(0);
    println!(
        "one instance, budget 30/min of a 60/min company (poll interval {} ms), 100 calls: {} rang; call→ringing delay p50 {:.0} ms, p95 {:.0} ms \
         (target ≤ {} ms); {:.1} requests/min; {throttled} × 429",
        interval.as_millis(),
        rung.len(),
        percentile(&delays, 0.5),
        percentile(&delays, 0.95),
        interval.as_millis() + 150,
        f64::from(requests) / minutes
    );
    sandbox.stop().await;
}

async fn five_instances() {
    let limits = LimitsConfig {
        aircall_per_minute: 60,
        ..Default::default()
    };
    let sandbox = Sandbox::start(SandboxConfig {
        limits,
        records_per_kind: 10,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let seen: Arc<Mutex<Vec<HashSet<i64>>>> = Arc::new(Mutex::new(vec![HashSet::new(); 5]));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut handles = Vec::new();
    for n in 0..5 {
        let mut inst = instance(&sandbox, 30, 2001 + n as i64 % 4);
        let seen = seen.clone();
        let stop = stop.clone();
        handles.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(tick) = inst.poller.tick().await {
                    for event in tick.events {
                        seen.lock().unwrap()[n].insert(event.call_id());
                    }
                }
            }
            inst.poller.pacer().interval()
        }));
    }
    let driver = sandbox.driver();
    let mut calls = Vec::new();
    let run = Duration::from_secs(240);
    let start = Instant::now();
    let mut minute_marks = Vec::new();
    while start.elapsed() < run {
        let id = driver
            .ring(NewCall {
                direction: "inbound".into(),
                external_number: format!("+33 6 98 76 54 {:02}", calls.len() % 100),
                number_id: 1001,
                user_id: None,
            })
            .expect("ring");
        calls.push(id);
        let d = driver.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(20)).await;
            let _ = d.act(id, CallAction::Hangup { reason: None });
        });
        tokio::time::sleep(Duration::from_secs(6)).await;
        let elapsed = start.elapsed().as_secs();
        if minute_marks.len() < (elapsed / 60) as usize {
            minute_marks.push(stats(&sandbox).await);
        }
    }
    // Let the last calls be seen.
    tokio::time::sleep(Duration::from_secs(40)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut intervals = Vec::new();
    for h in handles {
        intervals.push(h.await.expect("instance").as_secs_f64());
    }
    let end = stats(&sandbox).await;
    let count = |v: &serde_json::Value, k: &str| v["apis"]["aircall"][k].as_u64().unwrap_or(0);
    let zero = serde_json::json!({});
    let marks: Vec<&serde_json::Value> = std::iter::once(&zero)
        .chain(minute_marks.iter())
        .chain(std::iter::once(&end))
        .collect();
    let per_minute: Vec<(u64, u64)> = marks
        .windows(2)
        .map(|w| {
            (
                count(w[1], "requests") - count(w[0], "requests"),
                count(w[1], "throttled") - count(w[0], "throttled"),
            )
        })
        .collect();
    let missed: usize = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| calls.iter().filter(|c| !s.contains(c)).count())
        .sum();
    println!(
        "five instances sharing a 60/min company limit, each started at 30/min, {} s, {} calls: \
         (requests, of which 429) per minute, all instances together: {:?}; {} × 429 in all; \
         final poll intervals {:?} s; calls missed by any instance: {missed}",
        run.as_secs(),
        calls.len(),
        per_minute,
        count(&end, "throttled"),
        intervals
            .iter()
            .map(|i| (i * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    sandbox.stop().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(single_instance());
    runtime.block_on(five_instances());
}
