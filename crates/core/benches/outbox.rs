//! Outbox figures: throughput to an in-memory CRM with no latency; the
//! dispatcher's pace against a 50 ms CRM under a 10 requests/s limit (it
//! should stay within 5 % of the limit without exceeding it); the time to
//! enqueue one item (p50, p99). Run with `cargo bench -p callcard-core`.

use callcard_core::clock::{Clock, SystemClock};
use callcard_core::crm::{Crm, Write};
use callcard_core::dispatcher::{Dispatcher, RetryPolicy};
use callcard_core::outbox::{ItemKey, ItemKind};
use callcard_core::Store;
use callcard_test_support::memory_crm::MemoryCrm;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn key(n: u32) -> ItemKey {
    ItemKey {
        crm: "bench".into(),
        account: "test".into(),
        call_id: n.to_string(),
        kind: ItemKind::Call,
        target: "contact:1".into(),
    }
}

fn write(n: u32) -> Write {
    Write {
        reference: format!("aircall-call-{n}"),
        payload: serde_json::json!({"text": "Inbound call, answered (3 min 20 s)"}),
    }
}

fn fresh_store(dir: &std::path::Path, name: &str) -> Arc<Mutex<Store>> {
    Arc::new(Mutex::new(Store::open(&dir.join(name)).expect("store")))
}

async fn drain(
    store: &Arc<Mutex<Store>>,
    crm: Arc<MemoryCrm>,
    per_second: Option<f64>,
    items: u32,
) -> Duration {
    let dispatcher = Dispatcher::new(
        store.clone(),
        crm.clone() as Arc<dyn Crm>,
        Arc::new(SystemClock),
        RetryPolicy::default(),
        per_second,
    );
    let start = Instant::now();
    while (crm.written().len() as u32) < items {
        dispatcher.run_once().await.expect("dispatch");
    }
    start.elapsed()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let clock = SystemClock;

    // Enqueue latency.
    let store = fresh_store(dir.path(), "enqueue.sqlite3");
    let mut times = Vec::new();
    for n in 0..2_000 {
        let start = Instant::now();
        store
            .lock()
            .unwrap()
            .enqueue(&key(n), &write(n), None, clock.now_ms())
            .expect("enqueue");
        times.push(start.elapsed());
    }
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "enqueue one item (SQLite, WAL, synchronous=FULL): p50 {:.0} µs, p99 {:.0} µs over {} items",
        us(times[times.len() / 2]),
        us(times[times.len() * 99 / 100]),
        times.len()
    );

    // Throughput, no latency, no limit: the items enqueued above.
    let crm = Arc::new(MemoryCrm::new("bench"));
    let elapsed = runtime.block_on(drain(&store, crm, None, 2_000));
    println!(
        "throughput to a zero-latency CRM: {:.0} items/s (2000 items in {:.2} s)",
        2_000.0 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );

    // Pace under a limit.
    let items = 60;
    let limit = 10.0;
    let store = fresh_store(dir.path(), "paced.sqlite3");
    for n in 0..items {
        store
            .lock()
            .unwrap()
            .enqueue(&key(n), &write(n), None, clock.now_ms())
            .expect("enqueue");
    }
    let crm = Arc::new(MemoryCrm::new("bench").with_latency(Duration::from_millis(50)));
    let elapsed = runtime.block_on(drain(&store, crm, Some(limit), items));
    // n requests at the limit take (n - 1) intervals plus the last request's latency.
    let rate = f64::from(items - 1) / (elapsed.as_secs_f64() - 0.050);
    println!(
        "50 ms CRM, limit {limit}/s: {rate:.2} requests/s over {items} items ({:.1}% of the limit, {})",
        rate / limit * 100.0,
        if rate <= limit * 1.001 && rate >= limit * 0.95 {
            "within 5% without exceeding it"
        } else {
            "OUTSIDE the 5% band"
        }
    );
}
