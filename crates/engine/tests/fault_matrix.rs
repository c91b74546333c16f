//! The fault matrix (#17): for each API (Aircall, JobAdder, Sellsy) and each
//! fault (429 with and without `Retry-After`, 500, 503, a timeout, a reset
//! before and after processing, malformed JSON, half a body, an oversized
//! body), 20 calls end logged exactly once. The CRM rows go through the real
//! connectors and the outbox's dispatcher; the Aircall row through the
//! engine, watching calls by polling the sandbox. Prints the matrix.

mod support;

use callcard_core::activity::{Direction, FinalCall, Outcome};
use callcard_core::call_log::CallLog;
use callcard_core::clock::SystemClock;
use callcard_core::crm::Crm;
use callcard_core::dispatcher::{Dispatcher, RetryPolicy};
use callcard_core::phone::{Region, E164};
use callcard_core::settings::CrmSelection;
use callcard_core::{Paths, Settings, Store};
use callcard_engine::{Engine, EngineOptions, Environment};
use callcard_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CALLS: usize = 20;

/// The faults, as the sandbox's control API takes them.
fn faults() -> Vec<(&'static str, Value)> {
    vec![
        ("429 + Retry-After", json!({"kind": "429", "retry_after": 1})),
        ("429, no Retry-After", json!({"kind": "status", "status": 429})),
        ("500", json!({"kind": "500"})),
        ("503", json!({"kind": "503"})),
        ("timeout", json!({"kind": "timeout"})),
        ("reset before", json!({"kind": "reset_before"})),
        ("reset after", json!({"kind": "reset"})),
        ("malformed JSON", json!({"kind": "garbage"})),
        ("half a body", json!({"kind": "malformed"})),
        ("oversized body", json!({"kind": "oversized"})),
    ]
}

/// How many requests get the fault: a timeout costs a client its whole
/// timeout, and a 429 makes the Aircall poller wait for Aircall's reset (a
/// delay, not a loss), so fewer of those.
fn how_often(fault: &Value, crm: bool) -> Value {
    let timeout = fault["kind"] == "timeout";
    let rate_limit = fault["kind"] == "429" || fault["status"] == 429;
    match (crm, timeout, rate_limit) {
        (_, true, _) => json!({"next": 1}),
        (true, false, _) => json!({"next": 4}),
        (false, false, true) => json!({"next": 3}),
        (false, false, false) => json!({"fraction": 0.3}),
    }
}

#[derive(Debug)]
struct Cell {
    api: &'static str,
    fault: &'static str,
    writes: usize,
    duplicates: usize,
    missing: usize,
    drain: Duration,
}

fn merged(mut a: Value, b: Value) -> Value {
    if let (Some(a), Some(b)) = (a.as_object_mut(), b.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
    a
}

fn final_call(call_id: i64) -> FinalCall {
    FinalCall {
        call_id,
        direction: Direction::Inbound,
        outcome: Outcome::Answered,
        dashboard_link: Some(format!("https://assets.aircall.io/calls/{call_id}")),
        ..callcard_test_support::sample_final_call()
    }
}

/// A JobAdder connector signed in to the sandbox.
async fn jobadder(sandbox: &Sandbox) -> Arc<dyn Crm> {
    let (client, tokens) = support::signed_in_to_jobadder(sandbox).await;
    let session = Arc::new(callcard_oauth::Session::new(
        client,
        Arc::new(callcard_oauth::MemoryVault::default()),
    ));
    session.connect(tokens).await.unwrap();
    Arc::new(callcard_jobadder::JobAdder::new(
        session,
        callcard_jobadder::JobAdderConfig {
            api_url: sandbox.var("CALLCARD_JOBADDER_API_URL"),
            app_url: "https://app.jobadder.com".into(),
            default_region: Region::parse("GB").ok(),
            account: "sandbox".into(),
        },
    ))
}

/// How many times the CRM holds each call's log.
async fn written(sandbox: &Sandbox, api: &str, calls: &[i64]) -> Vec<usize> {
    let state = sandbox.control().get("/state?calls=false").await.unwrap();
    calls
        .iter()
        .map(|call| match api {
            "JobAdder" => callcard_test_support::jobadder_notes_logging(&state, *call).len(),
            _ => callcard_test_support::sellsy_phone_calls_logging(&state, *call).len(),
        })
        .collect()
}

fn cell(api: &'static str, fault: &'static str, counts: &[usize], drain: Duration) -> Cell {
    Cell {
        api,
        fault,
        writes: counts.iter().sum(),
        duplicates: counts.iter().filter(|n| **n > 1).count(),
        missing: counts.iter().filter(|n| **n == 0).count(),
        drain,
    }
}

/// 20 calls into `api` through its connector and the dispatcher, with the
/// fault on its write endpoint.
async fn crm_cell(api: &'static str, fault_name: &'static str, fault: Value) -> Cell {
    let sandbox = Sandbox::start(SandboxConfig {
        records_per_kind: 0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let control = sandbox.control();
    control
        .call(
            reqwest::Method::POST,
            "/limits",
            json!({"jobadder_per_minute": 100_000, "sellsy_per_second": 1_000}),
        )
        .await
        .unwrap();
    let mut numbers = Vec::new();
    for i in 0..CALLS {
        let (crm, kind, region, fields, e164) = if api == "JobAdder" {
            let e164 = format!("+4474005591{i:02}");
            (
                "jobadder",
                "candidate",
                "GB",
                json!({"firstName": "F", "lastName": format!("M{i}"), "mobile": e164}),
                e164,
            )
        } else {
            let e164 = format!("+3318488{:04}", 1200 + i);
            (
                "sellsy",
                "contact",
                "FR",
                json!({"first_name": "F", "last_name": format!("M{i}"), "mobile_number": e164}),
                e164,
            )
        };
        control.add_record(crm, kind, region, fields).await.unwrap();
        numbers.push(E164::parse(&e164, None).unwrap());
    }
    let crm: Arc<dyn Crm> = if api == "JobAdder" {
        jobadder(&sandbox).await
    } else {
        Arc::new(callcard_test_support::sellsy(&sandbox, "FR").await)
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(Store::open(&dir.path().join("db.sqlite3")).unwrap()));
    let log = CallLog::new(store.clone(), crm.clone());
    let calls: Vec<i64> = (0..CALLS as i64).map(|i| 9_100 + i).collect();
    for (call, number) in calls.iter().zip(&numbers) {
        log.log_final(&final_call(*call), Some(number), &Settings::default(), 0)
            .await
            .unwrap();
    }
    let endpoint = if api == "JobAdder" {
        "/v2/candidates"
    } else {
        "/v2/phone-calls"
    };
    let often = how_often(&fault, true);
    let spec = merged(
        merged(
            json!({"api": api.to_lowercase(), "endpoint": endpoint, "method": "POST"}),
            fault,
        ),
        often,
    );
    control
        .call(reqwest::Method::POST, "/faults", spec)
        .await
        .unwrap();
    let dispatcher = Dispatcher::new(
        store.clone(),
        crm,
        Arc::new(SystemClock),
        RetryPolicy {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            jitter: 0.2,
            max_attempts: 30,
        },
        None,
    );
    let started = Instant::now();
    loop {
        dispatcher.run_once().await.unwrap();
        let counts = store.lock().unwrap().outbox_counts().unwrap();
        if counts.done as usize == CALLS || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain = started.elapsed();
    cell(api, fault_name, &written(&sandbox, api, &calls).await, drain)
}

/// 20 answered calls watched by the engine (polling the sandbox's Aircall,
/// logging to JobAdder), with the fault on Aircall's call endpoints.
async fn aircall_cell(fault_name: &'static str, fault: Value) -> Cell {
    let settings = Settings {
        crms: CrmSelection::only(["jobadder"]),
        settle_delay_secs: 0,
        polling_budget_per_minute: 120,
        ..Settings::default()
    };
    let (sandbox, home) = callcard_test_support::sandbox_and_home(0, &settings).await;
    let control = sandbox.control();
    control
        .call(
            reqwest::Method::POST,
            "/limits",
            json!({"aircall_per_minute": 100_000, "jobadder_per_minute": 100_000}),
        )
        .await
        .unwrap();
    let mut numbers = Vec::new();
    for i in 0..CALLS {
        let e164 = format!("+4474005592{i:02}");
        control
            .add_record(
                "jobadder",
                "candidate",
                "GB",
                json!({"firstName": "A", "lastName": format!("C{i}"), "mobile": e164}),
            )
            .await
            .unwrap();
        numbers.push(e164);
    }
    let (_, tokens) = support::signed_in_to_jobadder(&sandbox).await;
    let mut pairs: Vec<(String, String)> = sandbox
        .env()
        .into_iter()
        .filter(|(key, _)| key.starts_with("CALLCARD_AIRCALL_") || key.starts_with("CALLCARD_JOBADDER_"))
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    pairs.push((
        "CALLCARD_JOBADDER_REFRESH_TOKEN".into(),
        tokens.refresh_token.unwrap(),
    ));
    pairs.push(("CALLCARD_AI_RETRY_SECS".into(), "1".into()));
    pairs.push(("CALLCARD_STAGGER_STEP_MS".into(), "0".into()));
    // The sandbox's limit is raised: this computer may use it (as the demo does).
    pairs.push(("CALLCARD_POLL_BUDGET_PER_MINUTE".into(), "1200".into()));
    let engine = Engine::start(
        &Paths::under(home.path()),
        EngineOptions {
            accounts: true,
            env: Environment::from_pairs(pairs),
            ..EngineOptions::default()
        },
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.watching().is_none() {
        assert!(Instant::now() < deadline, "calls are not watched");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first poll has read "now": calls from here on are this run's.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spec = merged(
        merged(json!({"api": "aircall", "endpoint": "/v1/calls"}), fault.clone()),
        how_often(&fault, false),
    );
    control
        .call(reqwest::Method::POST, "/faults", spec)
        .await
        .unwrap();
    let driver = sandbox.driver();
    let started = Instant::now();
    let mut calls = Vec::new();
    for number in &numbers {
        let call = driver
            .ring(callcard_sandbox::scenario::NewCall {
                direction: "inbound".into(),
                external_number: number.clone(),
                number_id: 1001,
                user_id: None,
            })
            .unwrap();
        driver
            .act(
                call,
                callcard_sandbox::scenario::CallAction::Answer { user_id: Some(2001) },
            )
            .unwrap();
        driver
            .act(
                call,
                callcard_sandbox::scenario::CallAction::Hangup { reason: None },
            )
            .unwrap();
        calls.push(call);
    }
    loop {
        let counts = written(&sandbox, "JobAdder", &calls).await;
        if counts.iter().all(|n| *n >= 1) || started.elapsed() > Duration::from_secs(150) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let drain = started.elapsed();
    // Any second copy would show by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counts = written(&sandbox, "JobAdder", &calls).await;
    engine.shutdown().await;
    cell("Aircall", fault_name, &counts, drain)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_api_times_every_fault_ends_with_each_call_logged_once() {
    let mut cells = Vec::new();
    // The CRM rows at once (each has its own sandbox and vault).
    let runs: Vec<_> = ["JobAdder", "Sellsy"]
        .into_iter()
        .flat_map(|api| {
            faults()
                .into_iter()
                .map(move |(name, fault)| tokio::spawn(crm_cell(api, name, fault)))
        })
        .collect();
    for run in runs {
        cells.push(run.await.unwrap());
    }
    // The Aircall row (each engine's keychain entries name its own sandbox).
    let runs: Vec<_> = faults()
        .into_iter()
        .map(|(name, fault)| tokio::spawn(aircall_cell(name, fault)))
        .collect();
    for run in runs {
        cells.push(run.await.unwrap());
    }
    println!("\n| API | fault | calls | writes | duplicates | missing | time to drain |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for c in &cells {
        println!(
            "| {} | {} | {CALLS} | {} | {} | {} | {:.1} s |",
            c.api,
            c.fault,
            c.writes,
            c.duplicates,
            c.missing,
            c.drain.as_secs_f64()
        );
    }
    for c in &cells {
        assert_eq!(
            (c.writes, c.duplicates, c.missing),
            (CALLS, 0, 0),
            "{} × {}: every call once",
            c.api,
            c.fault
        );
    }
}
