//! The real `callcard` binary, headless, against the sandbox with JobAdder
//! connected: final calls become exactly one note on the right record, the
//! AI part is added once it arrives, the duplicates setting is honoured, an
//! expired token is refreshed and a revoked one parks the log until the user
//! reconnects — and every note body validates against JobAdder's document.

mod common;

use callcard_core::settings::{DuplicateRule, Settings};
use callcard_sandbox::scenario::CallAction;
use common::{fast_settings, stop, World};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

impl World {
    async fn record(&self, kind: &str, first: &str, mobile: &str) -> i64 {
        self.add_record(
            "jobadder",
            kind,
            "GB",
            json!({"firstName": first, "lastName": "Test", "mobile": mobile}),
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_calls_become_one_note_each_with_ai_added_and_survive_token_expiry_and_revocation() {
    let world = World::start(fast_settings()).await;
    let candidate = world.record("candidate", "Grace", "07400 111001").await;
    let app = world.app(&["JOBADDER"]).await;

    // An answered call: one note on the candidate, with the agent's comment.
    let call = world.answered_call("+44 7400 111001", 1001);
    let notes = world.wait_notes(call, |n| !n.is_empty()).await;
    assert_eq!(notes.len(), 1);
    let text = notes[0]["text"].as_str().unwrap();
    assert!(text.starts_with("Inbound call, answered"), "{text}");
    assert!(text.contains("Available from Monday"), "{text}");
    assert!(text.contains(&format!("Aircall call {call}")), "{text}");
    assert_eq!(
        (notes[0]["on"].as_str(), notes[0]["record_id"].as_i64()),
        (Some("candidate"), Some(candidate))
    );
    let card = world
        .events()
        .into_iter()
        .find(|e| e["kind"] == "card_ready" && e["call_id"] == call);
    assert!(card.is_some(), "the card was ready while the call rang");
    let state = world.state().await;
    let cards: Vec<&Value> = state["aircall"]["insight_cards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["call_id"] == call)
        .collect();
    assert_eq!(cards.len(), 1, "one insight card: {cards:?}");
    assert_eq!(cards[0]["live"], true, "posted while the call was live");
    assert_eq!(cards[0]["contents"][0]["text"], "Grace Test");
    // Contact sync: one Aircall contact for the number, the JobAdder id in it.
    let synced = world.wait_aircall_contact("+447400111001").await;
    assert_eq!(synced.len(), 1, "{synced:?}");
    let information = synced[0]["information"].as_str().unwrap();
    assert!(
        information.starts_with(&format!("JobAdder candidate {candidate}")),
        "{information}"
    );

    // AI data arrives later: the same note gains it, no second note.
    world
        .sandbox
        .driver()
        .act(
            call,
            CallAction::Ai {
                summary: Some("Agreed an interview on Tuesday".into()),
                topics: None,
                sentiment: None,
            },
        )
        .unwrap();
    let notes = world
        .wait_notes(call, |n| {
            n.iter()
                .any(|x| x["text"].as_str().unwrap_or("").contains("Agreed an interview"))
        })
        .await;
    assert_eq!(notes.len(), 1);

    // The access token expires mid-run: refreshed, the next call still lands.
    world
        .control(reqwest::Method::POST, "/oauth/jobadder/expire", json!({}))
        .await;
    let second = world.answered_call("+44 7400 111001", 1001);
    world.wait_notes(second, |n| n.len() == 1).await;

    // Revoked: nothing can be written; the call waits, it is not lost.
    world
        .control(reqwest::Method::POST, "/oauth/jobadder/revoke", json!({}))
        .await;
    world
        .control(reqwest::Method::POST, "/oauth/jobadder/expire", json!({}))
        .await;
    let third = world.answered_call("+44 7400 111001", 1001);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(world.notes_for(third).await.is_empty());
    stop(app);

    // The user reconnects (a new sign-in): the waiting call lands, once.
    let app = world.app(&["JOBADDER"]).await;
    world.wait_notes(third, |n| !n.is_empty()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(world.notes_for(third).await.len(), 1);
    assert_eq!(world.notes_for(call).await.len(), 1);
    assert_eq!(world.notes_for(second).await.len(), 1);
    stop(app);
    world.validate_note_bodies().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_go_to_the_most_recent_record_or_nowhere_and_other_numbers_log_nothing() {
    let world = World::start(fast_settings()).await;
    let older = world.record("contact", "Older", "07400 222002").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let newer = world.record("contact", "Newer", "07400 222002").await;
    // Aircall already has a contact with that number: it is overwritten, not doubled.
    let existing: Value = world
        .http
        .post(format!("{}/v1/contacts", world.env("CALLCARD_AIRCALL_API_URL")))
        .basic_auth(world.env("CALLCARD_AIRCALL_API_ID"), Some(world.env("CALLCARD_AIRCALL_API_TOKEN")))
        .json(&json!({"first_name": "Old", "last_name": "Name", "phone_numbers": [{"label": "Work", "value": "+447400222002"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app = world.app(&["JOBADDER"]).await;
    let call = world.answered_call("+44 7400 222002", 1001);
    let notes = world.wait_notes(call, |n| !n.is_empty()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(world.notes_for(call).await.len(), 1);
    assert_eq!(
        (notes[0]["on"].as_str(), notes[0]["record_id"].as_i64()),
        (Some("contact"), Some(newer)),
        "not {older}"
    );
    let synced = world.wait_aircall_contact("+447400222002").await;
    assert_eq!(synced.len(), 1, "one Aircall contact per number: {synced:?}");
    assert_eq!(synced[0]["id"], existing["contact"]["id"]);
    assert_eq!(synced[0]["first_name"], "Newer");

    // A call on a number the person is not on (the New York line) is not theirs.
    let elsewhere = world.answered_call("+44 7400 222002", 1003);
    stop(app);

    let world2 = World::start(Settings {
        duplicate_rule: DuplicateRule::DoNothing,
        ..fast_settings()
    })
    .await;
    world2.record("contact", "One", "07400 333003").await;
    world2.record("contact", "Two", "07400 333003").await;
    let app = world2.app(&["JOBADDER"]).await;
    let ignored = world2.answered_call("+44 7400 333003", 1001);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !world2
        .events()
        .iter()
        .any(|e| e["kind"] == "call_final" && e["call_id"] == ignored)
    {
        assert!(Instant::now() < deadline, "the call never became final");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        world2.notes_for(ignored).await.is_empty(),
        "do nothing means no note"
    );
    assert!(
        world.notes_for(elsewhere).await.is_empty(),
        "other numbers log nothing"
    );
    stop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_aircall_will_not_give_waits_on_its_own_and_the_next_call_is_logged_meanwhile() {
    use callcard_sandbox::scenario::NewCall;
    let world = World::start(fast_settings()).await;
    world.record("candidate", "Ada", "07400 111081").await;
    world.record("candidate", "Bob", "07400 111082").await;
    let give_up_secs = 25;
    let app = world
        .app_with(
            &["JOBADDER"],
            &[("CALLCARD_CALL_GIVE_UP_SECS", &give_up_secs.to_string())],
        )
        .await;
    // A call Aircall answers 404 for once it is over (as a demo call left
    // over when the real account is connected).
    let driver = world.sandbox.driver();
    let stuck = driver
        .ring(NewCall {
            direction: "inbound".into(),
            external_number: "+447400111081".into(),
            number_id: 1001,
            user_id: None,
        })
        .unwrap();
    world
        .control(
            reqwest::Method::POST,
            "/faults",
            json!({"api": "aircall", "endpoint": format!("/v1/calls/{stuck}"), "method": "GET",
                   "kind": "status", "status": 404, "fraction": 1.0}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    driver.act(stuck, CallAction::Hangup { reason: None }).unwrap();
    let stuck_over = Instant::now();
    let next = world.answered_call("+44 7400 111082", 1001);
    assert!(
        !next.to_string().starts_with(&stuck.to_string()),
        "the fault's path prefix must not match the next call"
    );
    world.wait_notes(next, |n| n.len() == 1).await;
    assert!(
        stuck_over.elapsed() < Duration::from_secs(give_up_secs),
        "the next call was logged while the stuck one still waited ({:?})",
        stuck_over.elapsed()
    );
    // After the bound, the stuck call is given up on, with the reason shown.
    let store =
        callcard_core::Store::open(&callcard_core::Paths::under(world.home.path()).database()).unwrap();
    let reason = world
        .wait_for_secs("the stuck call given up on", 90, || async {
            store
                .history(50)
                .unwrap()
                .calls
                .into_iter()
                .find(|c| c.call_id == stuck)
                .and_then(|c| c.not_logged)
        })
        .await;
    assert!(reason.contains("not found"), "{reason}");
    assert!(
        world.wait_notes(stuck, |_| true).await.is_empty(),
        "no note for it"
    );
    stop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_from_the_environment_is_traded_once_not_at_every_start() {
    let world = World::start(fast_settings()).await;
    world.record("candidate", "Eve", "07400 111091").await;
    let tokens = [("JOBADDER".to_owned(), world.refresh_token("JOBADDER").await)];
    let token_requests = || async {
        world
            .sandbox
            .control()
            .requests("jobadder")
            .await
            .unwrap()
            .iter()
            .filter(|(method, path, _)| method == "POST" && path.ends_with("/connect/token"))
            .count()
    };
    let before = token_requests().await;
    let app = world.app_with_tokens(&tokens, &[]);
    let first = world.answered_call("+44 7400 111091", 1001);
    world.wait_notes(first, |n| n.len() == 1).await;
    stop(app);
    let after_first = token_requests().await;
    assert_eq!(after_first - before, 1, "traded once, at the first start");
    // The same environment again (a service's unit file, an admin's script).
    let app = world.app_with_tokens(&tokens, &[]);
    let second = world.answered_call("+44 7400 111091", 1001);
    world.wait_notes(second, |n| n.len() == 1).await;
    assert_eq!(
        token_requests().await,
        after_first,
        "not traded again: the keychain's tokens are the current ones"
    );
    stop(app);
}
