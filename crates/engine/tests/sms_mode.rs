//! The SMS mode applies to the next SMS as soon as it is saved: the engine
//! follows an in-process hub that the sandbox's Aircall delivers to, and
//! JobAdder (signed in as the connect window would) gets the notes. Its own
//! test binary: the keychain is the session's, shared by the tests of a binary.

mod support;

use callcard_core::settings::CrmSelection;
use callcard_core::{CallSource, Paths, Settings};
use callcard_engine::{Engine, EngineOptions, Environment};
use callcard_hub::LocalHub;
use std::time::{Duration, Instant};

async fn until<T>(what: &str, mut look: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = look() {
            return found;
        }
        assert!(Instant::now() < deadline, "waited too long for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// JobAdder's SMS notes in the sandbox.
async fn sms_notes(sandbox: &callcard_sandbox::Sandbox) -> Vec<serde_json::Value> {
    let state = sandbox.control().get("/state?calls=false").await.unwrap();
    state["jobadder"]["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["reference"].as_str().unwrap_or("").starts_with("aircall-sms-"))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sms_mode_applies_to_the_next_sms_without_a_restart() {
    use callcard_core::settings::SmsMode;
    let settings = Settings {
        crms: CrmSelection::only(["jobadder"]),
        sms_mode: SmsMode::Conversation,
        ..Settings::default()
    };
    let (sandbox, home) = callcard_test_support::sandbox_and_home(5, &settings).await;
    let mobile = "+447400555470";
    sandbox
        .control()
        .add_record(
            "jobadder",
            "contact",
            "GB",
            serde_json::json!({"firstName": "Mo", "lastName": "Test", "mobile": mobile}),
        )
        .await
        .unwrap();
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start(
        "127.0.0.1:0".parse().unwrap(),
        &hub_dir.path().join("hub.sqlite3"),
        "w",
    )
    .await
    .unwrap();
    let token = hub
        .add_desktop(&sandbox.var("CALLCARD_AIRCALL_USER_EMAIL"), 2001, &[1001, 1002])
        .unwrap();
    sandbox
        .control()
        .call(
            reqwest::Method::POST,
            "/webhooks",
            serde_json::json!({"url": hub.webhook_url(), "token": "w"}),
        )
        .await
        .unwrap();
    // Signed in to JobAdder as the connect window would, handed over by the environment.
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
    pairs.push(("CALLCARD_HUB_URL".into(), hub.url()));
    pairs.push(("CALLCARD_HUB_TOKEN".into(), token));
    let engine = Engine::start(
        &Paths::under(home.path()),
        EngineOptions {
            accounts: true,
            env: Environment::from_pairs(pairs),
            ..EngineOptions::default()
        },
    )
    .unwrap();
    until("calls from the hub", || {
        (engine.hub().source == CallSource::Hub).then_some(())
    })
    .await;
    let driver = sandbox.driver();
    let send = |body: &str| {
        driver
            .sms(callcard_sandbox::scenario::NewSms {
                direction: "inbound".into(),
                external_number: mobile.into(),
                number_id: 1001,
                body: body.into(),
                later_ms: 0,
            })
            .unwrap();
    };
    let lines_of = |note: &serde_json::Value| -> Vec<String> {
        note["text"]
            .as_str()
            .unwrap_or("")
            .lines()
            .map(|l| l.rsplit(": ").next().unwrap_or("").to_owned())
            .collect()
    };
    let wait_notes = |what: &'static str, want: Vec<Vec<&'static str>>| {
        let sandbox = &sandbox;
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let notes = sms_notes(sandbox).await;
                // The notes in any order (JobAdder's note ids say nothing of it).
                let mut have: Vec<Vec<String>> = notes.iter().map(lines_of).collect();
                have.sort();
                let mut want: Vec<Vec<String>> = want
                    .iter()
                    .map(|lines| lines.iter().map(|l| l.to_string()).collect())
                    .collect();
                want.sort();
                if have == want {
                    return;
                }
                assert!(Instant::now() < deadline, "{what}: {have:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    send("m1");
    wait_notes("the first SMS in a note", vec![vec!["m1"]]).await;
    send("m2");
    wait_notes("the second joins it", vec![vec!["m1", "m2"]]).await;

    let change = |mode: SmsMode| {
        let mut settings = engine.settings();
        settings.sms_mode = mode;
        engine.save_settings(&settings).unwrap();
    };
    change(SmsMode::OneNotePerSms);
    send("m3");
    wait_notes("per SMS: a note of its own", vec![vec!["m1", "m2"], vec!["m3"]]).await;
    change(SmsMode::Off);
    // m4 handled while off: the hub's checkpoint moved past it (it is kept
    // in the inbox before that) and the inbox is empty again.
    let store = callcard_core::Store::open(&Paths::under(home.path()).database()).unwrap();
    let checkpoint = format!("hub_seq:{}:2001", hub.url());
    let seen = store.checkpoint(&checkpoint).unwrap().unwrap_or(0);
    send("m4");
    until("m4 handled while off", || {
        let moved = store.checkpoint(&checkpoint).unwrap().unwrap_or(0) > seen;
        (moved && store.sms_to_log().unwrap().is_empty()).then_some(())
    })
    .await;
    change(SmsMode::Conversation);
    send("m5");
    // m4 came while logging was off: never written, even once it is on again.
    wait_notes(
        "the conversation again, without the SMS sent while off",
        vec![vec!["m1", "m2", "m5"], vec!["m3"]],
    )
    .await;
    engine.shutdown().await;
    hub.stop().await;
}
