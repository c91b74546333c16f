//! How fast a caller's card is known: from the local phone index, and from
//! JobAdder's live phone search (over loopback HTTP against the sandbox).
//! Also how long a full index refresh of the seeded account takes.
//!
//! Run: `cargo bench -p callcard-jobadder`. Prints p50/p95 per path.

use callcard_core::call_log::CallLog;
use callcard_core::crm::Crm;
use callcard_core::phone::{Region, E164};
use callcard_core::Store;
use callcard_jobadder::{JobAdder, JobAdderConfig};
use callcard_oauth::{LoopbackRedirect, MemoryVault, Session};
use callcard_sandbox::{Sandbox, SandboxConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    let client = callcard_jobadder::oauth_client(
        &sandbox.var("CALLCARD_JOBADDER_AUTHORIZE_URL"),
        &sandbox.var("CALLCARD_JOBADDER_TOKEN_URL"),
        &sandbox.var("CALLCARD_JOBADDER_CLIENT_ID"),
        &sandbox.var("CALLCARD_JOBADDER_CLIENT_SECRET"),
    );
    let redirect = LoopbackRedirect::bind().await.expect("loopback");
    let redirect_uri = redirect.redirect_uri();
    let link = client.authorize_link(&redirect_uri, "bench", None).expect("link");
    let waiting = tokio::spawn(redirect.wait_for_code("bench", Duration::from_secs(10)));
    reqwest::get(&link).await.expect("the sandbox approves at once");
    let code = waiting.await.expect("join").expect("code");
    let tokens = client
        .exchange_code(&code, &redirect_uri, None)
        .await
        .expect("tokens");
    let session = Arc::new(Session::new(client, Arc::new(MemoryVault::default())));
    session.connect(tokens).await.expect("connect");
    let crm: Arc<dyn Crm> = Arc::new(JobAdder::new(
        session,
        JobAdderConfig {
            api_url: sandbox.var("CALLCARD_JOBADDER_API_URL"),
            app_url: "https://app.jobadder.com".into(),
            default_region: Region::parse("GB").ok(),
            account: "bench".into(),
        },
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Mutex::new(
        Store::open(&dir.path().join("bench.sqlite3")).expect("store"),
    ));
    let log = CallLog::new(store.clone(), crm.clone());
    let numbers: Vec<E164> = sandbox
        .driver()
        .known_numbers("jobadder", 100)
        .iter()
        .filter_map(|n| E164::parse(n, None).ok())
        .collect();

    let mut live = Vec::new();
    for number in &numbers {
        let start = Instant::now();
        crm.lookup(number).await.expect("live search");
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
    callcard_test_support::report_times("JobAdder live phone search", live);
    sandbox.stop().await;
}
