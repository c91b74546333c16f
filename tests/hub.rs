//! The real `callcard` binary following a team hub: the sandbox's Aircall
//! delivers its webhooks to a hub (the hub crate's server, on loopback),
//! and the app's calls come from the hub's stream instead of polling. A
//! scripted day is logged once per call with no Aircall request for
//! watching; the hub going away hands over to polling, and its return
//! fills in what polling did not see, with nothing logged twice.

mod common;

use callcard_hub::LocalHub;
use callcard_sandbox::scenario::{demo_script, CallAction, NewCall};
use common::{fast_settings, stop, App, World, AGENT};
use serde_json::{json, Value};
use std::time::Duration;

const WEBHOOK_TOKEN: &str = "hub-webhook-token";
/// A colleague on the Paris office's ring group.
const COLLEAGUE: i64 = 2003;

struct Team {
    world: World,
    hub: Option<LocalHub>,
    hub_db: tempfile::TempDir,
    desktop_token: String,
}

impl Team {
    async fn start() -> Self {
        Self::start_with(fast_settings()).await
    }

    async fn start_with(settings: callcard_core::settings::Settings) -> Self {
        let world = World::start(settings).await;
        let hub_db = tempfile::tempdir().unwrap();
        let hub = LocalHub::start(
            "127.0.0.1:0".parse().unwrap(),
            &hub_db.path().join("hub.sqlite3"),
            WEBHOOK_TOKEN,
        )
        .await
        .unwrap();
        let email = world.env("CALLCARD_AIRCALL_USER_EMAIL");
        let desktop_token = hub.add_desktop(&email, AGENT, &[1001, 1002]).unwrap();
        world
            .control(
                reqwest::Method::POST,
                "/webhooks",
                json!({"url": hub.webhook_url(), "token": WEBHOOK_TOKEN}),
            )
            .await;
        Self {
            world,
            hub: Some(hub),
            hub_db,
            desktop_token,
        }
    }

    fn hub_url(&self) -> String {
        self.hub.as_ref().map(LocalHub::url).unwrap()
    }

    async fn app(&self, fallback_secs: &str) -> App {
        let url = self.hub_url();
        self.world
            .app_with(
                &["JOBADDER"],
                &[
                    ("CALLCARD_HUB_URL", url.as_str()),
                    ("CALLCARD_HUB_TOKEN", self.desktop_token.as_str()),
                    ("CALLCARD_HUB_FALLBACK_SECS", fallback_secs),
                ],
            )
            .await
    }

    async fn wait_source(&self, source: &str, after: usize) {
        self.world
            .wait_for(&format!("calls come from {source}"), || async move {
                self.world
                    .events()
                    .iter()
                    .filter(|e| e["kind"] == "call_source")
                    .skip(after)
                    .any(|e| e["source"] == source)
                    .then_some(())
            })
            .await
    }

    fn sources_seen(&self) -> usize {
        self.world
            .events()
            .iter()
            .filter(|e| e["kind"] == "call_source")
            .count()
    }

    /// The Aircall requests the sandbox received since `since_ms` that read calls.
    async fn call_reads_since(&self, since_ms: i64) -> Vec<Value> {
        let sent = self
            .world
            .sandbox
            .control()
            .get(&format!("/requests?api=aircall&since_ms={since_ms}"))
            .await
            .unwrap();
        let all = self
            .world
            .sandbox
            .control()
            .get("/requests?api=aircall")
            .await
            .unwrap();
        assert!(
            all["requests"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["path"].as_str().unwrap_or("").starts_with("/aircall/v2/users")),
            "the log names requests by their full path (the user was looked up): {all}"
        );
        sent["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["method"] == "GET" && r["path"].as_str().unwrap_or("").starts_with("/aircall/v1/calls")
            })
            .cloned()
            .collect()
    }

    fn ring(&self, number: &str, number_id: i64) -> i64 {
        self.world
            .sandbox
            .driver()
            .ring(NewCall {
                direction: "inbound".into(),
                external_number: number.into(),
                number_id,
                user_id: None,
            })
            .unwrap()
    }

    fn act(&self, call: i64, action: CallAction) {
        self.world.sandbox.driver().act(call, action).unwrap();
    }

    async fn wait_event(&self, kind: &str, call_id: i64) {
        self.world
            .wait_for(&format!("{kind} for call {call_id}"), || async move {
                self.world
                    .events()
                    .iter()
                    .any(|e| e["kind"] == kind && e["call_id"] == call_id)
                    .then_some(())
            })
            .await
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_day_through_the_hub_is_logged_once_with_no_aircall_polling() {
    let team = Team::start().await;
    let app = team.app("60").await;
    team.wait_source("hub", 0).await;
    // The app resolved its user (what needs Aircall) before following the hub.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let watching_since = now_ms();

    // The sandbox's scripted day, ten calls at twenty times the real pace:
    // answered with tags, comments and AI results, missed, voicemails, outbound.
    let driver = team.world.sandbox.driver();
    let numbers = driver.known_numbers("jobadder", 10);
    let script = demo_script(&numbers, AGENT);
    let plays = script.iter().map(|call| driver.play(call, 20.0));
    let played: Vec<i64> = futures_util::future::join_all(plays)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    // A ring-group call a colleague takes: seen ringing, never logged here.
    let colleague = team.ring(&numbers[0], 1001);
    team.wait_event("call_ringing", colleague).await;
    team.act(
        colleague,
        CallAction::Answer {
            user_id: Some(COLLEAGUE),
        },
    );
    team.wait_event("call_elsewhere", colleague).await;
    team.act(colleague, CallAction::Hangup { reason: None });

    for (call, scripted) in played.iter().zip(&script) {
        team.wait_event("call_ringing", *call).await;
        team.wait_event("card_ready", *call).await;
        let notes = team.world.wait_notes(*call, |n| !n.is_empty()).await;
        assert_eq!(notes.len(), 1, "call {call}: {notes:?}");
        if scripted.ai_after_secs.is_some() {
            // The AI results came as summary.created & co: the same note gains them.
            team.world
                .wait_notes(*call, |n| {
                    n.iter().any(|x| {
                        x["text"]
                            .as_str()
                            .unwrap_or("")
                            .contains("The caller asked about next steps")
                    })
                })
                .await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for call in &played {
        assert_eq!(team.world.notes_for(*call).await.len(), 1, "call {call} once");
    }
    assert!(team.world.notes_for(colleague).await.is_empty());
    // Watching spent no Aircall request: no list, no call read, no AI read.
    let reads = team.call_reads_since(watching_since).await;
    assert!(reads.is_empty(), "no polling through the hub: {reads:?}");
    stop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_without_jobadders_client_secret_signs_in_through_the_hubs_broker() {
    let world = World::start(fast_settings()).await;
    let hub_db = tempfile::tempdir().unwrap();
    let hub = LocalHub::start_with(
        "127.0.0.1:0".parse().unwrap(),
        &hub_db.path().join("hub.sqlite3"),
        WEBHOOK_TOKEN,
        Some(callcard_hub::broker::JobAdderClient {
            token_url: world.env("CALLCARD_JOBADDER_TOKEN_URL"),
            client_id: world.env("CALLCARD_JOBADDER_CLIENT_ID"),
            client_secret: world.env("CALLCARD_JOBADDER_CLIENT_SECRET"),
        }),
    )
    .await
    .unwrap();
    let token = hub
        .add_desktop(&world.env("CALLCARD_AIRCALL_USER_EMAIL"), AGENT, &[1001, 1002])
        .unwrap();
    world
        .control(
            reqwest::Method::POST,
            "/webhooks",
            json!({"url": hub.webhook_url(), "token": WEBHOOK_TOKEN}),
        )
        .await;
    // The desktop build ships JobAdder's client id only: no secret anywhere here.
    let url = hub.url();
    let app = world
        .app_with(
            &["JOBADDER"],
            &[
                ("CALLCARD_JOBADDER_CLIENT_SECRET", ""),
                ("CALLCARD_HUB_URL", url.as_str()),
                ("CALLCARD_HUB_TOKEN", token.as_str()),
            ],
        )
        .await;
    let number = world.sandbox.driver().known_numbers("jobadder", 1).remove(0);
    let call = world.answered_call(&number, 1001);
    // The handed-over refresh token was traded through the hub, which added
    // the secret (the sandbox's JobAdder refuses a token request without it).
    world.wait_notes(call, |n| n.len() == 1).await;
    let token_requests = world
        .sandbox
        .control()
        .get("/requests?api=jobadder")
        .await
        .unwrap();
    let statuses: Vec<u64> = token_requests["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or("").ends_with("/connect/token"))
        .map(|r| r["status"].as_u64().unwrap_or(0))
        .collect();
    // The test's own sign-in, then the app's refresh through the hub.
    assert!(
        statuses.len() >= 2 && statuses.iter().all(|s| *s == 200),
        "{statuses:?}"
    );
    stop(app);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_away_hands_over_to_polling_and_its_return_misses_nothing_and_doubles_nothing() {
    let mut team = Team::start().await;
    let app = team.app("3").await;
    team.wait_source("hub", 0).await;
    let numbers = team.world.sandbox.driver().known_numbers("jobadder", 6);

    let before = team.world.answered_call(&numbers[0], 1001);
    team.world.wait_notes(before, |n| n.len() == 1).await;

    // The hub goes away. Aircall's deliveries fail and are retried; after the
    // fallback delay the app polls Aircall and says so.
    let seen = team.sources_seen();
    let addr = team.hub.as_ref().unwrap().addr();
    team.hub.take().unwrap().stop().await;
    let while_away = team.world.answered_call(&numbers[1], 1001);
    team.wait_source("polling_until_hub_is_back", seen).await;
    let missed = team
        .world
        .call("inbound", &numbers[2], 1002, common::Ending::Missed);
    // Polling sees both calls through to the end, but with a team hub the
    // hub says which computer writes each call: the writes wait for it
    // rather than risk a second copy from another computer.
    let world = &team.world;
    for call in [while_away, missed] {
        world
            .wait_for("polling to see the call end", || async move {
                world
                    .events()
                    .iter()
                    .any(|e| e["kind"] == "call_final" && e["call_id"] == call)
                    .then_some(())
            })
            .await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        team.world.notes_for(while_away).await.is_empty(),
        "waits for the hub"
    );

    // The hub is back on the same log and address: Aircall's retries reach it,
    // the app follows it again, and what polling already logged is not logged again.
    let seen = team.sources_seen();
    team.hub = Some(
        LocalHub::start(addr, &team.hub_db.path().join("hub.sqlite3"), WEBHOOK_TOKEN)
            .await
            .unwrap(),
    );
    team.wait_source("hub", seen).await;
    team.world.wait_notes(while_away, |n| n.len() == 1).await;
    team.world.wait_notes(missed, |n| n.len() == 1).await;
    let after = team.world.answered_call(&numbers[3], 1001);
    team.world.wait_notes(after, |n| n.len() == 1).await;
    // The retried deliveries of the calls polling saw arrived too.
    let hub = team.hub.as_ref().unwrap();
    let log = callcard_hub::SqliteEventLog::open(hub.database()).unwrap();
    let logged: Vec<i64> = callcard_hub::EventLog::after(&log, 0, 1000)
        .unwrap()
        .iter()
        .filter_map(|e| e.data["id"].as_i64())
        .collect();
    assert!(logged.contains(&while_away), "Aircall's retries reached the hub");
    tokio::time::sleep(Duration::from_secs(3)).await;
    for call in [before, while_away, missed, after] {
        assert_eq!(team.world.notes_for(call).await.len(), 1, "call {call} once");
    }
    stop(app);
}

/// The JobAdder notes that log SMS, in the order they were started (their
/// reference names their first SMS, and the sandbox's ids grow).
async fn sms_notes(world: &World) -> Vec<Value> {
    let mut notes: Vec<Value> = world.state().await["jobadder"]["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["reference"].as_str().unwrap_or("").starts_with("aircall-sms-"))
        .cloned()
        .collect();
    notes.sort_by_key(|n| n["reference"].as_str().unwrap_or("").to_owned());
    notes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_from_the_hub_join_the_candidates_conversation_note_once_each_as_text() {
    let team = Team::start().await;
    let candidate = team
        .world
        .add_record(
            "jobadder",
            "candidate",
            "GB",
            json!({"firstName": "Priya", "lastName": "Test", "mobile": "+447400555401"}),
        )
        .await;
    let app = team.app("60").await;
    team.wait_source("hub", 0).await;
    let send = |direction: &'static str, from: &'static str, body: &'static str| {
        let world = &team.world;
        async move {
            world
                .control(
                    reqwest::Method::POST,
                    "/sms",
                    json!({"direction": direction, "external_number": from, "number_id": 1001, "body": body}),
                )
                .await
        }
    };
    // At a person's pace: Aircall's deliveries of one second can come in any order.
    send("inbound", "+44 7400 555401", "Hi, is the <b>role</b> still open?").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    send("outbound", "+44 7400 555401", "Yes — shall we talk at 3? 🙂").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    send("inbound", "+44 7400 555401", "مرحبا\u{7}, 3 works\nthanks").await;
    // From a number no record has: not logged.
    send("inbound", "+44 7400 999999", "wrong number").await;

    let notes = team
        .world
        .wait_for("the conversation note with its three lines", || async {
            let notes = sms_notes(&team.world).await;
            notes
                .first()
                .filter(|n| n["text"].as_str().unwrap_or("").lines().count() == 3)
                .map(|_| notes.clone())
        })
        .await;
    assert_eq!(notes.len(), 1, "one note for the conversation: {notes:?}");
    let note = &notes[0];
    assert_eq!(
        (note["on"].as_str(), note["record_id"].as_i64()),
        (Some("candidate"), Some(candidate))
    );
    let lines: Vec<&str> = note["text"].as_str().unwrap().lines().collect();
    assert!(
        lines[0].contains("SMS received from +44 7400 555401 on Paris office"),
        "{lines:?}"
    );
    assert!(
        lines[0].ends_with("Hi, is the <b>role</b> still open?"),
        "kept as text: {lines:?}"
    );
    assert!(lines[1].contains("SMS sent to") && lines[1].ends_with("Yes — shall we talk at 3? 🙂"));
    assert!(
        lines[2].ends_with("مرحبا, 3 works thanks"),
        "one line, no control character: {lines:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sms_notes(&team.world).await.len(),
        1,
        "nothing more, nothing for the unknown number"
    );
    // The first POST and the PUTs that extended it are valid JobAdder bodies.
    team.world.validate_note_bodies().await;
    stop(app);
}

/// The length of the line an inbound SMS of `body` makes (timestamps at
/// whole seconds have one width), to aim at the note's size limit exactly.
fn line_chars(body: &str) -> usize {
    callcard_core::sms::line(&callcard_core::sms::SmsLog {
        id: "SM1".into(),
        inbound: true,
        other_party: "+44 7400 555402".into(),
        body: body.into(),
        at_ms: 1_790_000_000_000,
        line_name: "Paris office".into(),
        line_digits: "+33 1 76 11 11 11".into(),
        agent: None,
        media: Vec::new(),
    })
    .chars()
    .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_note_takes_sms_up_to_72_hours_and_the_size_limit_and_no_further() {
    let max = 600;
    let team = Team::start_with(callcard_core::settings::Settings {
        sms_note_max_chars: max as u32,
        ..fast_settings()
    })
    .await;
    team.world
        .add_record(
            "jobadder",
            "candidate",
            "GB",
            json!({"firstName": "Noor", "lastName": "Test", "mobile": "+447400555402"}),
        )
        .await;
    let app = team.app("60").await;
    team.wait_source("hub", 0).await;
    let world = &team.world;
    let send = |body: String| async move {
        world
            .control(
                reqwest::Method::POST,
                "/sms",
                json!({"direction": "inbound", "external_number": "+44 7400 555402", "number_id": 1001, "body": body}),
            )
            .await;
    };
    let advance = |ms: i64| async move {
        world
            .control(reqwest::Method::POST, "/clock", json!({"advance_ms": ms}))
            .await;
    };
    let notes_with = |lines: Vec<usize>| {
        let what = format!("notes with {lines:?} lines");
        async move {
            world
                .wait_for(&what, || {
                    let lines = lines.clone();
                    async move {
                        let notes = sms_notes(world).await;
                        let got: Vec<usize> = notes
                            .iter()
                            .map(|n| n["text"].as_str().unwrap_or("").lines().count())
                            .collect();
                        (got == lines).then_some(notes)
                    }
                })
                .await
        }
    };
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;

    // 71 h 59 min after the note's last change: the same note.
    send("first".into()).await;
    notes_with(vec![1]).await;
    advance(71 * HOUR + 59 * MINUTE).await;
    send("second".into()).await;
    notes_with(vec![2]).await;
    // 72 h 01 min: a new note.
    advance(72 * HOUR + MINUTE).await;
    send("third".into()).await;
    let notes = notes_with(vec![2, 1]).await;

    // The size limit: a line that brings the note to exactly the limit joins it…
    let third = notes[1]["text"].as_str().unwrap().chars().count();
    let room = max - third - 1;
    let filler = "x".repeat(room - line_chars(""));
    assert_eq!(line_chars(&filler), room);
    send(filler).await;
    let notes = notes_with(vec![2, 2]).await;
    assert_eq!(
        notes[1]["text"].as_str().unwrap().chars().count(),
        max,
        "exactly the limit"
    );
    // …one character more starts a new note.
    send("one".into()).await;
    let notes = notes_with(vec![2, 2, 1]).await;
    let fourth = notes[2]["text"].as_str().unwrap().chars().count();
    let over = "y".repeat(max - fourth - 1 - line_chars("") + 1);
    assert_eq!(line_chars(&over), max - fourth);
    send(over).await;
    notes_with(vec![2, 2, 1, 1]).await;
    stop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_sms_mode_writes_a_note_each_and_off_writes_nothing() {
    use callcard_core::settings::SmsMode;
    for mode in [SmsMode::OneNotePerSms, SmsMode::Off] {
        let team = Team::start_with(callcard_core::settings::Settings {
            sms_mode: mode,
            ..fast_settings()
        })
        .await;
        team.world
            .add_record(
                "jobadder",
                "contact",
                "GB",
                json!({"firstName": "Sol", "lastName": "Test", "mobile": "+447400555403"}),
            )
            .await;
        let app = team.app("60").await;
        team.wait_source("hub", 0).await;
        // The last one is 1,600 characters (ten SMS long): kept whole, as text.
        let long = format!("<i>{}</i>", "L".repeat(1_593));
        let bodies = ["one", "two", "three", long.as_str()];
        for body in bodies {
            team.world
                .control(
                    reqwest::Method::POST,
                    "/sms",
                    json!({"direction": "inbound", "external_number": "+447400555403", "number_id": 1002, "body": body}),
                )
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        if mode == SmsMode::OneNotePerSms {
            let notes = team
                .world
                .wait_for("a note per SMS", || async {
                    let notes = sms_notes(&team.world).await;
                    (notes.len() == 4).then_some(notes)
                })
                .await;
            for (note, body) in notes.iter().zip(bodies) {
                let text = note["text"].as_str().unwrap();
                assert!(text.lines().count() == 1 && text.ends_with(body), "{text}");
                assert_eq!(note["on"], "contact");
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let expected = if mode == SmsMode::Off { 0 } else { 4 };
        assert_eq!(sms_notes(&team.world).await.len(), expected, "{mode:?}");
        if mode == SmsMode::OneNotePerSms {
            // The SMS notes sent are valid JobAdder note bodies.
            team.world.validate_note_bodies().await;
        }
        stop(app);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_500_sms_across_50_conversations_lands_once_each_in_the_right_note_in_order() {
    let team = Team::start().await;
    let number = |i: usize| format!("+4474005560{i:02}");
    let mut candidates = Vec::new();
    for i in 0..50 {
        let id = team
            .world
            .add_record(
                "jobadder",
                "candidate",
                "GB",
                json!({"firstName": format!("Burst{i}"), "lastName": "Test", "mobile": number(i)}),
            )
            .await;
        candidates.push(id);
    }
    let app = team.app("60").await;
    team.wait_source("hub", 0).await;
    // All at once: ten rounds of one SMS to each of the fifty.
    let driver = team.world.sandbox.driver();
    for round in 0..10 {
        for i in 0..50 {
            driver
                .sms(callcard_sandbox::scenario::NewSms {
                    direction: if round % 2 == 0 { "inbound" } else { "outbound" }.into(),
                    external_number: number(i),
                    number_id: 1001,
                    body: format!("c{i} m{round}"),
                    later_ms: 0,
                })
                .unwrap();
        }
    }
    let notes = team
        .world
        .wait_for_secs("500 SMS in 50 notes", 240, || async {
            let notes = sms_notes(&team.world).await;
            let lines: usize = notes
                .iter()
                .map(|n| n["text"].as_str().unwrap_or("").lines().count())
                .sum();
            (lines >= 500).then_some(notes)
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let notes_now = sms_notes(&team.world).await;
    assert_eq!(notes_now.len(), 50, "one note per conversation");
    assert_eq!(notes.len(), 50);
    for note in &notes_now {
        let record = note["record_id"].as_i64().unwrap();
        let i = candidates
            .iter()
            .position(|c| *c == record)
            .expect("a burst candidate");
        let bodies: Vec<String> = note["text"]
            .as_str()
            .unwrap()
            .lines()
            .map(|l| l.rsplit(": ").next().unwrap_or("").to_owned())
            .collect();
        let expected: Vec<String> = (0..10).map(|m| format!("c{i} m{m}")).collect();
        assert_eq!(bodies, expected, "conversation {i}: each once, in order");
    }
    stop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_written_while_the_app_is_killed_again_and_again_land_once_each_in_order() {
    let team = Team::start().await;
    // Fifty restarts each resolve the Aircall user and sign in to JobAdder:
    // this test is about kills, so the vendors' rate limits stay out of it
    // (they have tests of their own).
    team.world
        .control(
            reqwest::Method::POST,
            "/limits",
            json!({"aircall_per_minute": 100_000, "jobadder_per_minute": 100_000}),
        )
        .await;
    let number = |i: usize| format!("+4474005570{i:02}");
    let mut candidates = Vec::new();
    for i in 0..10 {
        let id = team
            .world
            .add_record(
                "jobadder",
                "candidate",
                "GB",
                json!({"firstName": format!("Kill{i}"), "lastName": "Test", "mobile": number(i)}),
            )
            .await;
        candidates.push(id);
    }
    // SMS keep coming (200 over the run) while the app is killed with SIGKILL
    // (by the id of the process this test started) at random moments.
    let driver = team.world.sandbox.driver();
    let sender = tokio::spawn(async move {
        for round in 0..20 {
            for i in 0..10 {
                driver
                    .sms(callcard_sandbox::scenario::NewSms {
                        direction: "inbound".into(),
                        external_number: number(i),
                        number_id: 1001,
                        body: format!("k{i} m{round}"),
                        later_ms: 0,
                    })
                    .unwrap();
                // Spread over the whole run of kills.
                tokio::time::sleep(Duration::from_millis(110)).await;
            }
        }
    });
    let mut kills = 0;
    let mut seed = 0x2545_f491_u64;
    while kills < 50 {
        let app = team.app("60").await;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(250 + seed % 500)).await;
        drop(app); // SIGKILL
        kills += 1;
    }
    sender.await.unwrap();
    let app = team.app("60").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let notes = loop {
        let notes = sms_notes(&team.world).await;
        let lines: usize = notes
            .iter()
            .map(|n| n["text"].as_str().unwrap_or("").lines().count())
            .sum();
        if lines >= 200 {
            break notes;
        }
        if std::time::Instant::now() > deadline {
            // Every warning of every run, to see what held an SMS back.
            let logs: String = std::fs::read_dir(team.world.home.path().join("state/logs"))
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                        .collect()
                })
                .unwrap_or_default();
            let warnings: Vec<&str> = logs
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("parked") || l.contains("retried"))
                .collect();
            panic!(
                "{lines} of 200 SMS lines after the kills; warnings:\n{}",
                warnings.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let notes_now = sms_notes(&team.world).await;
    assert_eq!(notes_now, notes, "nothing more came");
    assert_eq!(notes.len(), 10, "one note per conversation");
    for note in &notes {
        let record = note["record_id"].as_i64().unwrap();
        let i = candidates
            .iter()
            .position(|c| *c == record)
            .expect("a candidate of the run");
        let bodies: Vec<String> = note["text"]
            .as_str()
            .unwrap()
            .lines()
            .map(|l| l.rsplit(": ").next().unwrap_or("").to_owned())
            .collect();
        let expected: Vec<String> = (0..20).map(|m| format!("k{i} m{m}")).collect();
        assert_eq!(
            bodies, expected,
            "conversation {i} after {kills} kills: each once, in order"
        );
    }
    println!("{kills} SIGKILLs while 200 SMS were logged: each once, in order");
    stop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_jobadder_says_the_note_is_too_long_the_sms_starts_a_new_note() {
    let team = Team::start().await;
    team.world
        .add_record(
            "jobadder",
            "contact",
            "GB",
            json!({"firstName": "Lin", "lastName": "Test", "mobile": "+447400555404"}),
        )
        .await;
    // JobAdder takes shorter notes than the setting (8,000) allows for.
    team.world
        .control(
            reqwest::Method::POST,
            "/limits",
            json!({"jobadder_note_max_chars": 400}),
        )
        .await;
    let app = team.app("60").await;
    team.wait_source("hub", 0).await;
    for n in 0..4 {
        team.world
            .control(
                reqwest::Method::POST,
                "/sms",
                json!({"direction": "inbound", "external_number": "+447400555404", "number_id": 1001,
                       "body": format!("message {n} {}", "z".repeat(120))}),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let notes = team
        .world
        .wait_for("every SMS in a note", || async {
            let notes = sms_notes(&team.world).await;
            let lines: usize = notes
                .iter()
                .map(|n| n["text"].as_str().unwrap_or("").lines().count())
                .sum();
            (lines >= 4).then_some(notes)
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let texts: Vec<String> = sms_notes(&team.world)
        .await
        .iter()
        .map(|n| n["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(notes.len() >= 2, "a new note when the first was full: {texts:?}");
    let all: Vec<&str> = texts.iter().flat_map(|t| t.lines()).collect();
    for n in 0..4 {
        let found = all
            .iter()
            .filter(|l| l.contains(&format!("message {n} ")))
            .count();
        assert_eq!(found, 1, "message {n} once: {texts:?}");
    }
    assert!(texts.iter().all(|t| t.chars().count() <= 400));
    stop(app);
}

/// Another computer of the team: its own data folder (with `settings`), its
/// own hub token for `user`, its own JobAdder sign-in and keychain group.
async fn another_computer(
    team: &Team,
    settings: &callcard_core::Settings,
    user: i64,
    lease_secs: &str,
) -> (tempfile::TempDir, App) {
    let home = tempfile::tempdir().unwrap();
    let paths = callcard_core::Paths::under(home.path());
    paths.create_all().unwrap();
    callcard_core::Store::open(&paths.database())
        .and_then(|store| store.save_settings(settings, 0))
        .unwrap();
    let email = team.world.env("CALLCARD_AIRCALL_USER_EMAIL");
    let token = team
        .hub
        .as_ref()
        .unwrap()
        .add_desktop(&email, user, &[1001, 1002])
        .unwrap();
    let refresh = team.world.refresh_token("JOBADDER").await;
    let url = team.hub_url();
    let app = team.world.app_in(
        home.path(),
        &[("JOBADDER".to_owned(), refresh)],
        &[
            ("CALLCARD_HUB_URL", url.as_str()),
            ("CALLCARD_HUB_TOKEN", token.as_str()),
            ("CALLCARD_HUB_FALLBACK_SECS", "60"),
            ("CALLCARD_CLAIM_LEASE_SECS", lease_secs),
        ],
    );
    (home, app)
}

/// Waits until the app in `home` follows the hub.
async fn follows_the_hub(world: &World, home: &std::path::Path) {
    world
        .wait_for("a computer to follow the hub", || async move {
            std::fs::read_to_string(home.join("events.jsonl"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .any(|e| e["kind"] == "call_source" && e["source"] == "hub")
                .then_some(())
        })
        .await;
}

/// How many JobAdder notes log each of `calls`.
async fn notes_per_call(world: &World, calls: &[i64]) -> Vec<usize> {
    let state = world.state().await;
    calls
        .iter()
        .map(|call| callcard_test_support::jobadder_notes_logging(&state, *call).len())
        .collect()
}

/// The notes per call once every one of `calls` has one (two minutes at
/// most) and `then` more has passed for any second copy to appear.
async fn notes_once_every_call_is_logged(world: &World, calls: &[i64], then: Duration) -> Vec<usize> {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let counts = notes_per_call(world, calls).await;
        if counts.iter().all(|n| *n >= 1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not every call logged: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(then).await;
    notes_per_call(world, calls).await
}

/// A team whose sandbox takes many computers' requests, and a JobAdder
/// record of `kind` named `name` that calls from `caller`.
async fn busy_team_called_by(kind: &str, (first, last): (&str, &str), caller: &str) -> Team {
    let team = Team::start().await;
    team.world
        .control(
            reqwest::Method::POST,
            "/limits",
            json!({"aircall_per_minute": 100_000, "jobadder_per_minute": 100_000}),
        )
        .await;
    team.world
        .add_record(
            "jobadder",
            kind,
            "GB",
            json!({"firstName": first, "lastName": last, "mobile": caller}),
        )
        .await;
    team
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_computers_on_a_shared_number_log_each_missed_call_once_even_with_one_killed() {
    let caller = "+447400555480";
    let team = busy_team_called_by("contact", ("Ring", "Group"), caller).await;
    let mut computers = Vec::new();
    for _ in 0..5 {
        computers.push(another_computer(&team, &fast_settings(), AGENT, "3").await);
    }
    for (home, _) in &computers {
        follows_the_hub(&team.world, home.path()).await;
    }
    // Missed calls and voicemails on the shared line: no one answered, so
    // each is every computer's to log.
    let driver = team.world.sandbox.driver();
    let mut calls = Vec::new();
    for i in 0..50 {
        let call = driver
            .ring(NewCall {
                direction: "inbound".into(),
                external_number: caller.into(),
                number_id: 1001,
                user_id: None,
            })
            .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let ending = if i % 2 == 0 {
            CallAction::Hangup { reason: None }
        } else {
            CallAction::Voicemail
        };
        driver.act(call, ending).unwrap();
        calls.push(call);
        if i == 25 {
            // One computer dies mid-run (SIGKILL, by the id of the process
            // this test started): its claims run out and others take over.
            let (_, killed) = computers.remove(2);
            drop(killed);
        }
    }
    // Long enough for every lease to run out and any second copy to appear.
    let counts = notes_once_every_call_is_logged(&team.world, &calls, Duration::from_secs(8)).await;
    let twice = counts.iter().filter(|n| **n > 1).count();
    assert_eq!(twice, 0, "calls logged more than once: {counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), 50, "{counts:?}");
    println!(
        "5 computers, 1 killed: 50 missed calls and voicemails, {} notes",
        counts.iter().sum::<usize>()
    );
    for (_, app) in computers {
        stop(app);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_on_two_computers_logs_each_answered_call_once() {
    let caller = "+447400555481";
    let team = busy_team_called_by("candidate", ("Two", "Desks"), caller).await;
    let laptop = another_computer(&team, &fast_settings(), AGENT, "120").await;
    let desktop = another_computer(&team, &fast_settings(), AGENT, "120").await;
    follows_the_hub(&team.world, laptop.0.path()).await;
    follows_the_hub(&team.world, desktop.0.path()).await;
    let driver = team.world.sandbox.driver();
    let mut calls = Vec::new();
    // The first five ring long enough for the caller's insight card, which
    // one of the two computers posts.
    let mut carded = Vec::new();
    for i in 0..100 {
        let call = driver
            .ring(NewCall {
                direction: "inbound".into(),
                external_number: caller.into(),
                number_id: 1001,
                user_id: None,
            })
            .unwrap();
        if i < 5 {
            let world = &team.world;
            world
                .wait_for("the insight card of a ringing call", || async move {
                    let state = world.state().await;
                    state["aircall"]["insight_cards"]
                        .as_array()
                        .is_some_and(|cards| cards.iter().any(|c| c["call_id"] == call))
                        .then_some(())
                })
                .await;
            // Time for the other computer to have posted it too, if it would.
            tokio::time::sleep(Duration::from_millis(500)).await;
            carded.push(call);
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
            .act(call, CallAction::Answer { user_id: Some(AGENT) })
            .unwrap();
        driver.act(call, CallAction::Hangup { reason: None }).unwrap();
        calls.push(call);
    }
    let counts = notes_once_every_call_is_logged(&team.world, &calls, Duration::from_secs(3)).await;
    assert!(counts.iter().all(|n| *n == 1), "each call once: {counts:?}");
    let state = team.world.state().await;
    let cards: Vec<usize> = carded
        .iter()
        .map(|call| {
            state["aircall"]["insight_cards"]
                .as_array()
                .map_or(0, |cards| cards.iter().filter(|c| c["call_id"] == *call).count())
        })
        .collect();
    assert_eq!(
        cards,
        vec![1; 5],
        "one insight card per call, not one per computer"
    );
    println!(
        "one user on two computers: 100 answered calls, {} notes",
        counts.iter().sum::<usize>()
    );
    stop(laptop.1);
    stop(desktop.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_restored_from_an_older_backup_is_followed_again_with_each_call_logged_once_and_no_sms_lost() {
    let mut team = Team::start().await;
    team.world
        .add_record(
            "jobadder",
            "candidate",
            "GB",
            json!({"firstName": "Priya", "lastName": "Test", "mobile": "+447400555401"}),
        )
        .await;
    let app = team.app("60").await;
    team.wait_source("hub", 0).await;
    let database = team.hub.as_ref().unwrap().database().to_owned();
    // Last night's backup, taken while the hub runs, before the day's calls.
    let nightly = team.hub_db.path().join("nightly.sqlite3");
    callcard_hub::store::backup(&database, &nightly).unwrap();
    let sms = |body: &'static str| {
        let world = &team.world;
        async move {
            world
                .control(
                    reqwest::Method::POST,
                    "/sms",
                    json!({"direction": "inbound", "external_number": "+44 7400 555401",
                           "number_id": 1001, "body": body}),
                )
                .await
        }
    };
    let sms_lines = |lines: usize| {
        let world = &team.world;
        async move {
            world
                .wait_for(&format!("the conversation note with {lines} lines"), || async {
                    let notes = sms_notes(world).await;
                    notes
                        .first()
                        .filter(|n| n["text"].as_str().unwrap_or("").lines().count() == lines)
                        .map(|_| notes.clone())
                })
                .await
        }
    };
    let numbers = team.world.sandbox.driver().known_numbers("jobadder", 5);
    let mut calls = Vec::new();
    for number in &numbers[..2] {
        let call = team.world.answered_call(number, 1001);
        team.world.wait_notes(call, |n| n.len() == 1).await;
        calls.push(call);
    }
    sms("before the restore").await;
    sms_lines(1).await;
    let followed_to =
        callcard_hub::EventLog::identity(&callcard_hub::SqliteEventLog::open(&database).unwrap()).unwrap();

    // The hub's disk is lost: the operator restores last night's backup.
    let addr = team.hub.as_ref().unwrap().addr();
    team.hub.take().unwrap().stop().await;
    let while_down = team.world.answered_call(&numbers[2], 1001);
    let restored = callcard_hub::store::restore(&database, &nightly).unwrap();
    assert_ne!(restored.id, followed_to.id, "a restored log has a new identity");
    assert!(
        restored.end < followed_to.end,
        "and ends before what the desktop followed"
    );
    let restarted_ms = now_ms();
    // Away for seconds, not the fallback's minute: calls still "come from
    // the hub" throughout.
    team.hub = Some(LocalHub::start(addr, &database, WEBHOOK_TOKEN).await.unwrap());
    team.world
        .wait_for("the tray to say the hub's log was replaced", || async {
            // The service logs each change of the tray's status.
            team.world
                .app_log()
                .lines()
                .any(|l| l.contains("status changed") && l.contains("HubLogReplaced"))
                .then_some(())
        })
        .await;

    // The new log is followed: what comes after the restore is carded and
    // logged, what was missed comes from Aircall, nothing is logged twice.
    for number in &numbers[3..] {
        let call = team.ring(number, 1001);
        team.wait_event("call_ringing", call).await;
        team.wait_event("card_ready", call).await;
        team.act(call, CallAction::Answer { user_id: Some(AGENT) });
        team.act(call, CallAction::Hangup { reason: None });
        team.world.wait_notes(call, |n| n.len() == 1).await;
        calls.push(call);
    }
    team.world.wait_notes(while_down, |n| n.len() == 1).await;
    calls.push(while_down);
    sms("after the restore").await;
    let notes = sms_lines(2).await;
    assert!(
        !team.call_reads_since(restarted_ms).await.is_empty(),
        "the gap was caught up from Aircall"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    for call in &calls {
        assert_eq!(team.world.notes_for(*call).await.len(), 1, "call {call} once");
    }
    let lines: Vec<String> = notes[0]["text"]
        .as_str()
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        lines[0].ends_with("before the restore") && lines[1].ends_with("after the restore"),
        "{lines:?}"
    );
    assert_eq!(sms_notes(&team.world).await.len(), 1, "one conversation note");
    stop(app);
}
