//! For tests and benchmarks only: clients of a sandbox set up the way the
//! app sets them up — the Aircall client with the sandbox's API key, the
//! Sellsy connector signed in through the loopback listener with PKCE (the
//! sandbox playing the browser) — so that each test does not repeat them.

pub mod memory_crm;

use callcard_aircall::Aircall;
use callcard_core::phone::Region;
use callcard_oauth::{MemoryVault, Proof, Session};
use callcard_sandbox::Sandbox;
use callcard_sellsy::{Sellsy, SellsyConfig};
use std::sync::Arc;
use std::time::Duration;

/// A session signed in to the sandbox's Sellsy (tokens in memory).
pub async fn sellsy_session(sandbox: &Sandbox) -> Arc<Session> {
    let client = callcard_sellsy::oauth_client(
        &sandbox.var("CALLCARD_SELLSY_AUTHORIZE_URL"),
        &sandbox.var("CALLCARD_SELLSY_TOKEN_URL"),
        &sandbox.var("CALLCARD_SELLSY_CLIENT_ID"),
    );
    let tokens = callcard_oauth::sign_in(
        &client,
        Proof::Pkce,
        0,
        callcard_sandbox::browser(),
        Duration::from_secs(10),
    )
    .await
    .expect("the sandbox's Sellsy sign-in");
    let session = Arc::new(Session::new(client, Arc::new(MemoryVault::default())));
    session.connect(tokens).await.expect("a session");
    session
}

/// The Sellsy connector, connected to the sandbox (numbers without a
/// country code read in `region`).
pub async fn sellsy(sandbox: &Sandbox, region: &str) -> Sellsy {
    let config = SellsyConfig {
        api_url: sandbox.var("CALLCARD_SELLSY_API_URL"),
        app_url: callcard_sellsy::APP_URL.into(),
        default_region: Region::parse(region).ok(),
    };
    Sellsy::connect(sellsy_session(sandbox).await, config)
        .await
        .expect("Sellsy connects: staffs/me and the staff list")
}

/// The Aircall client with the sandbox's API key.
pub fn aircall(sandbox: &Sandbox) -> Aircall {
    Aircall::new(
        &sandbox.var("CALLCARD_AIRCALL_API_URL"),
        &sandbox.var("CALLCARD_AIRCALL_API_ID"),
        &sandbox.var("CALLCARD_AIRCALL_API_TOKEN"),
    )
    .expect("an Aircall client")
}

/// One line of a benchmark's figures: `what`, n, p50, p95 and max.
pub fn report_times(what: &str, mut times: Vec<Duration>) {
    if times.is_empty() {
        println!("{what:<32} n=0");
        return;
    }
    times.sort();
    let at = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{what:<32} n={:<4} p50 {:>8.2?}  p95 {:>8.2?}  max {:>8.2?}",
        times.len(),
        at(0.5),
        at(0.95),
        times[times.len() - 1]
    );
}

/// A final call with every field set (agent, team, tags, a note, links and
/// AI data), as the text snapshots of each CRM's log use it.
pub fn sample_final_call() -> callcard_core::activity::FinalCall {
    use callcard_core::activity::{Agent, AiData, Direction, FinalCall, Outcome};
    FinalCall {
        call_id: 812,
        direction: Direction::Inbound,
        outcome: Outcome::Answered,
        started_at: 1_584_998_199,
        duration_secs: 200,
        number_name: "Paris office".into(),
        agent: Some(Agent {
            name: "Alex Martin".into(),
            email: Some("alex.martin@callcard.test".into()),
        }),
        team: Some("Recruitment".into()),
        tags: vec!["Interview".into(), "Hot lead".into()],
        comments: vec!["Available from Monday".into()],
        dashboard_link: Some("https://assets.aircall.io/calls/812".into()),
        recording_link: Some("https://recording.aircall.io/812.mp3".into()),
        ai: Some(AiData {
            summary: Some("Discussed the role.".into()),
            topics: vec!["salary".into(), "start date".into()],
            sentiment: Some("POSITIVE".into()),
        }),
    }
}

/// A sandbox with `records_per_kind` CRM records of each kind, and a fresh
/// Callcard home whose settings are `settings` (saved before any start).
pub async fn sandbox_and_home(
    records_per_kind: usize,
    settings: &callcard_core::Settings,
) -> (Sandbox, tempfile::TempDir) {
    let sandbox = Sandbox::start(callcard_sandbox::SandboxConfig {
        records_per_kind,
        ..callcard_sandbox::SandboxConfig::default()
    })
    .await
    .expect("the sandbox starts");
    let home = tempfile::tempdir().expect("a temporary home");
    let paths = callcard_core::Paths::under(home.path());
    paths.create_all().expect("the home's folders");
    callcard_core::Store::open(&paths.database())
        .and_then(|store| store.save_settings(settings, 0))
        .expect("the settings are saved");
    (sandbox, home)
}

/// The JobAdder notes in a sandbox state (`/_sandbox/state`) that log `call_id`.
pub fn jobadder_notes_logging(state: &serde_json::Value, call_id: i64) -> Vec<serde_json::Value> {
    let reference = callcard_core::activity::reference(call_id);
    state["jobadder"]["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["reference"] == reference.as_str())
        .cloned()
        .collect()
}

/// The Sellsy phone calls in a sandbox state whose description logs `call_id`.
pub fn sellsy_phone_calls_logging(state: &serde_json::Value, call_id: i64) -> Vec<serde_json::Value> {
    state["sellsy"]["phone_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|pc| {
            pc["description"]
                .as_str()
                .is_some_and(|d| callcard_core::activity::text_logs_call(d, call_id))
        })
        .cloned()
        .collect()
}
