//! How fast a Sellsy caller's card is known: from the local phone index
//! (contacts, companies and individuals), and from Sellsy's live search
//! (exact phone searches in every stored form, then the contact's company and
//! best open opportunity), over loopback HTTP against the sandbox. Also how
//! long a full index refresh of the seeded account takes.
//!
//! Run: `cargo bench -p callcard-sellsy --bench card`. Prints p50/p95 per path.

use callcard_core::call_log::CallLog;
use callcard_core::crm::Crm;
use callcard_core::phone::E164;
use callcard_core::Store;
use callcard_sandbox::{LimitsConfig, Sandbox, SandboxConfig};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Quotas out of the way: this measures the paths, not the pacing.
    let sandbox = Sandbox::start(SandboxConfig {
        limits: LimitsConfig {
            sellsy_per_second: 100_000,
            sellsy_per_minute: 1_000_000,
            ..LimitsConfig::default()
        },
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let crm: Arc<dyn Crm> = Arc::new(callcard_test_support::sellsy(&sandbox, "FR").await);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Mutex::new(
        Store::open(&dir.path().join("bench.sqlite3")).expect("store"),
    ));
    let log = CallLog::new(store.clone(), crm.clone());
    let numbers: Vec<E164> = sandbox
        .driver()
        .known_numbers("sellsy", 100)
        .iter()
        .filter_map(|n| E164::parse(n, None).ok())
        .collect();

    let mut live = Vec::new();
    let mut found = 0;
    for number in &numbers {
        let start = Instant::now();
        found += usize::from(!crm.lookup(number).await.expect("live search").is_empty());
        live.push(start.elapsed());
    }
    let start = Instant::now();
    let records = log.refresh_index(0).await.expect("index refresh");
    println!("index refresh: {records} records in {:.2?}", start.elapsed());
    let mut indexed = Vec::new();
    let mut misses = 0;
    for (i, number) in numbers.iter().enumerate() {
        let start = Instant::now();
        let card = log
            .card_for(i as i64, number, callcard_core::activity::Direction::Inbound, 0)
            .await
            .expect("card");
        indexed.push(start.elapsed());
        misses += usize::from(!card.from_index);
    }
    callcard_test_support::report_times("card from the phone index", indexed);
    println!(
        "  ({misses} of {} numbers were not in the index and went to the live search)",
        numbers.len()
    );
    callcard_test_support::report_times("Sellsy live search (with deal)", live);
    println!(
        "  ({found} of {} numbers found by the live search)",
        numbers.len()
    );
    sandbox.stop().await;
}
