//! Without a team hub the CRM is where a company's computers meet: each
//! computer following a call waits its turn (a rank from the call and the
//! computer), looks the call's note up by its reference, and writes only
//! when it is not there (see docs/exactly-once.md). Through the real binary,
//! two data folders, the sandbox.

mod common;

use common::{fast_settings, stop, App, World, AGENT};
use serde_json::json;
use std::time::{Duration, Instant};

/// A computer of the same user: its own data folder and keychain group,
/// signed in to JobAdder, its turns `step_ms` apart.
async fn computer(world: &World, step_ms: &str) -> (tempfile::TempDir, App) {
    let home = tempfile::tempdir().unwrap();
    let paths = callcard_core::Paths::under(home.path());
    paths.create_all().unwrap();
    callcard_core::Store::open(&paths.database())
        .and_then(|store| store.save_settings(&fast_settings(), 0))
        .unwrap();
    let refresh = world.refresh_token("JOBADDER").await;
    let app = world.app_in(
        home.path(),
        &[("JOBADDER".to_owned(), refresh)],
        &[
            ("CALLCARD_STAGGER_STEP_MS", step_ms),
            ("CALLCARD_POLL_BUDGET_PER_MINUTE", "600"),
        ],
    );
    (home, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_hub_two_computers_of_one_user_take_turns_and_rarely_both_write() {
    let world = World::start(fast_settings()).await;
    world
        .control(
            reqwest::Method::POST,
            "/limits",
            json!({"aircall_per_minute": 100_000, "jobadder_per_minute": 100_000}),
        )
        .await;
    let caller = "+447400555482";
    world
        .add_record(
            "jobadder",
            "candidate",
            "GB",
            json!({"firstName": "No", "lastName": "Hub", "mobile": caller}),
        )
        .await;
    let laptop = computer(&world, "1000").await;
    let desktop = computer(&world, "1000").await;
    let driver = world.sandbox.driver();
    let mut calls = Vec::new();
    for _ in 0..30 {
        calls.push(driver.answered(caller, 1001, AGENT).unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let notes = |state: serde_json::Value| -> Vec<usize> {
        calls
            .iter()
            .map(|call| callcard_test_support::jobadder_notes_logging(&state, *call).len())
            .collect()
    };
    let started = Instant::now();
    loop {
        let counts = notes(world.state().await);
        if counts.iter().all(|n| *n >= 1) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "not every call logged: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let all_logged = started.elapsed();
    // Every turn (at most 29 s after a computer saw the call) has come.
    tokio::time::sleep(Duration::from_secs(35)).await;
    let counts = notes(world.state().await);
    let twice = counts.iter().filter(|n| **n > 1).count();
    println!(
        "no hub, one user on two computers: 30 answered calls, {} notes ({twice} written twice), all logged after {:.1} s",
        counts.iter().sum::<usize>(),
        all_logged.as_secs_f64()
    );
    // Both write only when they share a turn (1 in 30 per call) and see the
    // call within one write's latency of each other.
    assert!(twice <= 3, "calls written by both computers: {counts:?}");
    // Each computer looked before writing: the notes were asked for by reference.
    let lookups = world
        .sandbox
        .control()
        .requests("jobadder")
        .await
        .unwrap()
        .into_iter()
        .filter(|(method, path, query)| {
            method == "GET" && path.ends_with("/notes") && query.to_ascii_lowercase().contains("reference")
        })
        .count();
    assert!(lookups >= 30, "a look-up before each computer's write: {lookups}");
    stop(laptop.1);
    stop(desktop.1);
}
