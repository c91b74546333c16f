//! A simulated company (`cargo bench -p callcard-aircall --bench company`):
//! 2,000 calls a day on three ring groups (at a busy hour's pace: one call
//! every 8 s), and N desktops (1, 5, 10, 20) polling one sandboxed Aircall
//! with a 60/min company limit, each at the default budget (10/min). Each
//! N runs in its own sandbox, all at once, for four minutes of calls and
//! two and a half minutes to drain. Prints, per N: the delay between a call starting to
//! ring and a desktop on its number seeing `call_ringing` (p50, p95, share
//! within 2 s), rings never seen while ringing, Aircall requests per minute
//! in all and per desktop, 429s, and the final calls a desktop should have
//! logged and had not seen two and a half minutes after the last call.
//!
//! Where polling cannot give a team a card within 2 s, the table shows it:
//! that is what the team hub (webhooks pushed to desktops) is for.

use callcard_aircall::{Poller, PollerConfig};
use callcard_core::clock::{Clock, SystemClock};
use callcard_core::tracker::CallEvent;
use callcard_core::Store;
use callcard_sandbox::company::CompanyHistory;
use callcard_sandbox::scenario::{CallAction, NewCall};
use callcard_sandbox::{LimitsConfig, Sandbox, SandboxConfig};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BUDGET: u32 = 10;
const RING_GROUPS: [i64; 3] = [1001, 1002, 1003];
const CALL_EVERY: Duration = Duration::from_secs(8);
const RUN: Duration = Duration::from_secs(240);
const DRAIN: Duration = Duration::from_secs(150);

/// The sandbox's users and their numbers (see the sandbox's seed).
fn numbers_of(user: i64) -> Vec<i64> {
    vec![1001, 1002 + (user - 2001) % 2]
}

#[derive(Default)]
struct Seen {
    /// (desktop, call) → when `call_ringing` came (Unix ms).
    ringing: HashMap<(usize, i64), i64>,
    /// (desktop, call) with `call_final`.
    finals: HashSet<(usize, i64)>,
}

struct Outcome {
    desktops: usize,
    calls: usize,
    delays_ms: Vec<i64>,
    rings_missed: usize,
    requests: u64,
    throttled: u64,
    finals_missed: usize,
    finals_expected: usize,
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn company(desktops: usize) -> Outcome {
    let sandbox = Sandbox::start(SandboxConfig {
        limits: LimitsConfig {
            aircall_per_minute: 60,
            ..Default::default()
        },
        records_per_kind: 5,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    // The day so far: a busy company's history (not read: desktops start now).
    let now_s = SystemClock.now_ms() / 1000;
    let day: CompanyHistory = serde_json::from_value(serde_json::json!({
        "from": now_s - 8 * 3600, "to": now_s - 120, "calls": 1_300, "seed": desktops,
        "number_ids": RING_GROUPS}))
    .expect("plan");
    sandbox.driver().company_history(&day).expect("history");
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    let mut dirs = Vec::new();
    for desktop in 0..desktops {
        let user = 2001 + (desktop % 4) as i64;
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(Mutex::new(
            Store::open(&dir.path().join("db.sqlite3")).expect("store"),
        ));
        dirs.push(dir);
        let config = PollerConfig {
            budget_per_minute: BUDGET,
            user_id: user,
            connected_numbers: numbers_of(user),
            settle_ms: 5_000,
            ai_wait_ms: 0,
            ai_retry_ms: 60_000,
            look_back_ms: 7 * 86_400_000,
            max_interval: Duration::from_secs(300),
        };
        let client = Arc::new(callcard_test_support::aircall(&sandbox));
        let mut poller = Poller::new(client, store, Arc::new(SystemClock), config);
        let (seen, stop) = (seen.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let Ok(tick) = poller.tick().await else {
                    tokio::time::sleep(poller.pacer().interval()).await;
                    continue;
                };
                let now = SystemClock.now_ms();
                let mut seen = seen.lock().expect("seen");
                for event in tick.events {
                    match event {
                        CallEvent::CallRinging { call_id } => {
                            seen.ringing.entry((desktop, call_id)).or_insert(now);
                        }
                        CallEvent::CallFinal { call_id } => {
                            seen.finals.insert((desktop, call_id));
                        }
                        _ => {}
                    }
                }
            }
        }));
    }
    // The calls: inbound on a ring group, ringing 10–25 s; 60 % answered by
    // someone on the number (talk 20–60 s), the rest missed.
    let driver = sandbox.driver();
    let mut rung: Vec<(i64, i64, i64, Option<i64>)> = Vec::new(); // (call, number, rang at, answered by)
    let mut x: u64 = desktops as u64 + 1;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    let started = std::time::Instant::now();
    while started.elapsed() < RUN {
        let number = RING_GROUPS[(next() % 3) as usize];
        let id = driver
            .ring(NewCall {
                direction: "inbound".into(),
                external_number: format!("+44 7700 9{:05}", next() % 100_000),
                number_id: number,
                user_id: None,
            })
            .expect("ring");
        let rang = SystemClock.now_ms();
        let ring = Duration::from_secs(10 + next() % 16);
        let on_number: Vec<i64> = (2001..=2004)
            .filter(|u| numbers_of(*u).contains(&number))
            .collect();
        let answerer = (next() % 10 < 6).then(|| on_number[(next() as usize) % on_number.len()]);
        let talk = Duration::from_secs(20 + next() % 41);
        rung.push((id, number, rang, answerer));
        let d = driver.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ring).await;
            if let Some(user) = answerer {
                let _ = d.act(id, CallAction::Answer { user_id: Some(user) });
                tokio::time::sleep(talk).await;
            }
            let _ = d.act(id, CallAction::Hangup { reason: None });
        });
        tokio::time::sleep(CALL_EVERY).await;
    }
    tokio::time::sleep(DRAIN).await;
    stop.store(true, Ordering::SeqCst);
    for handle in handles {
        let _ = handle.await;
    }
    let stats: serde_json::Value = sandbox.control().get("/stats").await.expect("stats");
    let count = |k: &str| stats["apis"]["aircall"][k].as_u64().unwrap_or(0);
    sandbox.stop().await;
    drop(dirs);
    let seen = seen.lock().expect("seen");
    let mut delays_ms = Vec::new();
    let mut rings_missed = 0;
    let (mut finals_expected, mut finals_missed) = (0, 0);
    for &(call, number, rang, answerer) in &rung {
        for desktop in 0..desktops {
            let user = 2001 + (desktop % 4) as i64;
            if !numbers_of(user).contains(&number) {
                continue;
            }
            match seen.ringing.get(&(desktop, call)) {
                Some(at) => delays_ms.push(at - rang),
                None => rings_missed += 1,
            }
            // The user's to log: answered by them, or missed on their number.
            if answerer.is_none() || answerer == Some(user) {
                finals_expected += 1;
                if !seen.finals.contains(&(desktop, call)) {
                    finals_missed += 1;
                }
            }
        }
    }
    delays_ms.sort_unstable();
    Outcome {
        desktops,
        calls: rung.len(),
        delays_ms,
        rings_missed,
        requests: count("requests"),
        throttled: count("throttled"),
        finals_missed,
        finals_expected,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let outcomes = runtime.block_on(async {
        let runs: Vec<_> = [1, 5, 10, 20]
            .into_iter()
            .map(|n| tokio::spawn(company(n)))
            .collect();
        let mut outcomes = Vec::new();
        for run in runs {
            outcomes.push(run.await.expect("run"));
        }
        outcomes
    });
    let minutes = (RUN + DRAIN).as_secs_f64() / 60.0;
    println!(
        "A company: 2,000 calls a day on 3 ring groups (busy hour: one call every {} s, {} s of calls), \
         a 60/min Aircall company limit, each desktop at {BUDGET}/min.",
        CALL_EVERY.as_secs(),
        RUN.as_secs()
    );
    println!(
        "| desktops | calls | ringing → call_ringing p50 | p95 | within 2 s | rings not seen | Aircall req/min (all) | per desktop | 429s | finals not seen after 150 s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in outcomes {
        let within = o.delays_ms.iter().filter(|d| **d <= 2_000).count();
        let share = if o.delays_ms.is_empty() {
            0.0
        } else {
            100.0 * within as f64 / o.delays_ms.len() as f64
        };
        let per_minute = o.requests as f64 / minutes;
        println!(
            "| {} | {} | {:.1} s | {:.1} s | {:.0} % | {} | {:.1} | {:.1} | {} | {} of {} |",
            o.desktops,
            o.calls,
            percentile(&o.delays_ms, 0.5) as f64 / 1000.0,
            percentile(&o.delays_ms, 0.95) as f64 / 1000.0,
            share,
            o.rings_missed,
            per_minute,
            per_minute / o.desktops as f64,
            o.throttled,
            o.finals_missed,
            o.finals_expected,
        );
    }
}
