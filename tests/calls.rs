//! The real `callcard` binary, headless, against the sandbox: it resolves the
//! Aircall user, polls, and writes call events to `--events FILE`.

mod common;

use callcard_core::settings::Settings;
use callcard_sandbox::scenario::{CallAction, NewCall};
use callcard_sandbox::{Sandbox, SandboxConfig};
use common::{stop, App, World};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn events(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

async fn wait_for(path: &std::path::Path, kind: &str, call_id: i64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(event) = events(path)
            .into_iter()
            .find(|e| e["kind"] == kind && e["call_id"] == call_id)
        {
            return event;
        }
        assert!(
            Instant::now() < deadline,
            "no {kind} for call {call_id}; events: {:?}",
            events(path)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_app_reports_a_call_from_ringing_to_final_in_its_events_file() {
    // Fast settings for a test: a poll a second, no settle delay.
    let world = World::start(Settings {
        polling_budget_per_minute: 60,
        settle_delay_secs: 0,
        ..Settings::default()
    })
    .await;
    let (sandbox, home) = (&world.sandbox, &world.home);
    let events_file = home.path().join("events.jsonl");
    let app = world.app(&[]).await;

    let driver = sandbox.driver();
    let before_ms = callcard_core::clock::Clock::now_ms(&callcard_core::clock::SystemClock);
    let call = driver
        .ring(NewCall {
            direction: "inbound".into(),
            external_number: "+33 6 12 34 56 78".into(),
            number_id: 1001,
            user_id: None,
        })
        .unwrap();
    let ringing = wait_for(&events_file, "call_ringing", call).await;
    let t = ringing["t_ms"].as_i64().unwrap();
    assert!(
        t >= before_ms && t - before_ms < 30_000,
        "t_ms is Unix milliseconds: {t}"
    );
    driver
        .act(call, CallAction::Answer { user_id: Some(2001) })
        .unwrap();
    driver.act(call, CallAction::Hangup { reason: None }).unwrap();
    wait_for(&events_file, "call_final", call).await;

    stop(app);
    let finals = events(&events_file)
        .iter()
        .filter(|e| e["kind"] == "call_final" && e["call_id"] == call)
        .count();
    assert_eq!(finals, 1);
    let log: String = std::fs::read_dir(home.path().join("state/logs"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    assert!(
        !log.contains(&sandbox.credentials().aircall_api_token),
        "the API token never reaches the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tel_link_dials_through_aircall_and_a_hostile_one_dials_nothing() {
    let sandbox = Sandbox::start(SandboxConfig {
        records_per_kind: 20,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let run = |link: &str| {
        App::spawn(
            Command::new(env!("CARGO_BIN_EXE_callcard"))
                .args(["--headless", link])
                .env("CALLCARD_HOME", home.path())
                .envs(sandbox.env())
                .env(
                    "CALLCARD_KEYCHAIN_SERVICE",
                    format!("callcard-test-{}-dial", std::process::id()),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
    };
    let log = || -> String {
        std::fs::read_dir(home.path().join("state/logs"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let dials = || async {
        let state: serde_json::Value = reqwest::get(format!("{}/_sandbox/state", sandbox.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        state["aircall"]["dials"].as_array().cloned().unwrap_or_default()
    };
    // Phone links turned off (the default): a link calls no one.
    let off = run("tel:+33-6-12-34-56-79");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log().contains("Phone links are turned off") {
        assert!(Instant::now() < deadline, "no refusal in the log:\n{}", log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(off);
    callcard_core::Store::open(&callcard_core::Paths::under(home.path()).database())
        .and_then(|store| {
            store.save_settings(
                &callcard_core::Settings {
                    handle_tel_links: true,
                    ..callcard_core::Settings::default()
                },
                0,
            )
        })
        .unwrap();
    for (link, expect) in [
        ("tel:+33-6-12-34-56-78", "is ready to call"),
        ("tel:+33<script>alert(1)</script>", "Cannot call this link"),
        ("tel:+33-6-12-34-56-77;ext=1<b>2", "is not an extension"),
    ] {
        let app = run(link);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !log().contains(expect) {
            assert!(Instant::now() < deadline, "no {expect:?} in the log:\n{}", log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop(app);
    }
    let placed = dials().await;
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(placed[0]["to"], "+33612345678");
    assert_eq!(
        placed[0]["user_id"], 2001,
        "dialled for the user at this computer"
    );

    // "Start the call" with no window to ask in: a link from outside only
    // prepares the number; the user starts the call in Aircall.
    callcard_core::Store::open(&callcard_core::Paths::under(home.path()).database())
        .and_then(|store| {
            store.save_settings(
                &callcard_core::Settings {
                    handle_tel_links: true,
                    dial_mode: callcard_core::settings::DialMode::StartCall,
                    ..callcard_core::Settings::default()
                },
                0,
            )
        })
        .unwrap();
    let app = run("tel:+33-6-12-34-56-76");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log().contains("+33612345676 is ready to call") {
        assert!(
            Instant::now() < deadline,
            "no prepared number in the log:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(app);
    let last = dials().await.pop().unwrap();
    assert_eq!(last["to"], "+33612345676");
    assert_eq!(last["kind"], "dial", "prepared, not started: {last}");
}
