//! Draining a backlog of call logs into Sellsy at its quota: 500 final calls
//! (`BACKLOG` to change) in the outbox, Sellsy's per-second quota at 2
//! requests (`QUOTA`), the dispatcher paced only by the connector's reading
//! of `X-Quota-Remaining-By-*`. Prints how long the backlog took, the rate
//! reached, the busiest second, and how many requests Sellsy refused (429).
//!
//! `cargo bench -p callcard-sellsy`

use callcard_core::activity::{Direction, FinalCall, LogOptions, Outcome};
use callcard_core::clock::SystemClock;
use callcard_core::crm::{Crm, RecordKind};
use callcard_core::dispatcher::{Dispatcher, RetryPolicy};
use callcard_core::outbox::{ItemKey, ItemKind};
use callcard_core::settings::Settings;
use callcard_core::Store;
use callcard_sandbox::{LimitsConfig, Sandbox, SandboxConfig};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env_number(key: &str, default: u32) -> u32 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn final_call(id: i64) -> FinalCall {
    FinalCall {
        call_id: id,
        direction: if id % 2 == 0 {
            Direction::Inbound
        } else {
            Direction::Outbound
        },
        outcome: Outcome::Answered,
        started_at: 1_767_000_000 + id,
        duration_secs: 60 + id % 300,
        number_name: "Sales line".into(),
        agent: None,
        team: None,
        tags: Vec::new(),
        comments: Vec::new(),
        dashboard_link: Some(format!("https://dashboard.aircall.io/calls/{id}")),
        recording_link: None,
        ai: None,
    }
}

#[tokio::main]
async fn main() {
    let backlog = env_number("BACKLOG", 500);
    let quota = env_number("QUOTA", 2);
    let sandbox = Sandbox::start(SandboxConfig {
        records_per_kind: 40,
        limits: LimitsConfig {
            sellsy_per_second: quota,
            sellsy_per_minute: 100_000,
            ..LimitsConfig::default()
        },
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let crm = Arc::new(callcard_test_support::sellsy(&sandbox, "FR").await);
    // One contact from the change feed: every call is about it.
    let page = crm.changed_since(0, None).await.expect("contacts");
    let contact = page
        .records
        .into_iter()
        .find(|r| r.record.kind == RecordKind::Contact)
        .expect("a contact");

    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Mutex::new(
        Store::open(&dir.path().join("callcard.db")).expect("store"),
    ));
    let account = crm.account();
    let options = LogOptions {
        ai: false,
        recording_link: false,
    };
    {
        let store = store.lock().expect("store");
        for id in 1..=i64::from(backlog) {
            let call = final_call(id);
            for (target, write) in crm.call_writes(
                &call,
                std::slice::from_ref(&contact),
                None,
                &Settings::default(),
                options,
            ) {
                let key = ItemKey {
                    crm: account.crm.clone(),
                    account: account.account.clone(),
                    call_id: id.to_string(),
                    kind: ItemKind::Call,
                    target,
                };
                store.enqueue(&key, &write, None, 0).expect("enqueue");
            }
        }
    }
    let control = sandbox.control();
    control
        .call(reqwest::Method::DELETE, "/requests", Value::Null)
        .await
        .expect("clear log");
    // A fresh second, so the connector's first reading is this run's.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = control.get("/stats").await.expect("stats");

    let dispatcher = Dispatcher::new(
        store.clone(),
        crm.clone(),
        Arc::new(SystemClock),
        RetryPolicy::default(),
        None,
    );
    let started = Instant::now();
    loop {
        dispatcher.run_once().await.expect("dispatch");
        let counts = store.lock().expect("store").outbox_counts().expect("counts");
        if counts.pending == 0 && counts.in_flight == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(u64::from(backlog) * 2 / u64::from(quota.max(1)) + 120) {
            eprintln!("giving up: {counts:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let counts = store.lock().expect("store").outbox_counts().expect("counts");
    let after = control.get("/stats").await.expect("stats");
    let throttled = after["apis"]["sellsy"]["throttled"].as_u64().unwrap_or(0)
        - before["apis"]["sellsy"]["throttled"].as_u64().unwrap_or(0);
    let log = control.get("/requests?api=sellsy").await.expect("request log");
    let mut per_second: BTreeMap<i64, u32> = BTreeMap::new();
    for request in log["requests"].as_array().into_iter().flatten() {
        if let Some(t) = request["t_ms"].as_i64() {
            *per_second.entry(t / 1000).or_default() += 1;
        }
    }
    let busiest = per_second.values().max().copied().unwrap_or(0);
    let state = control.state().await.expect("state");
    let written = state["sellsy"]["phone_calls"].as_array().map_or(0, Vec::len);
    println!("sellsy backlog: {backlog} calls, quota {quota} req/s");
    println!(
        "  drained in {elapsed:.1} s: {:.2} writes/s ({:.0} % of the quota); done {}, failed {}, phone calls in Sellsy {written}",
        f64::from(backlog) / elapsed,
        100.0 * f64::from(backlog) / elapsed / f64::from(quota),
        counts.done,
        counts.failed,
    );
    println!("  busiest second: {busiest} requests; refused by Sellsy (429): {throttled}");
}
