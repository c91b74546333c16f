//! The real `callcard` binary, headless, in a busy company played by the
//! sandbox: ring groups where a colleague answers, transfers, a burst of
//! company calls, a weekend away with 12,000 calls, a first start, and one
//! CRM refusing its sign-in while the other works.

mod common;

use callcard_core::settings::{CrmSelection, Settings};
use callcard_sandbox::company::{CompanyHistory, SeededCall};
use callcard_sandbox::scenario::{CallAction, NewCall};
use common::{aircall_contacts_with, fast_settings, stop, World, AGENT};
use serde_json::{json, Value};
use std::time::Duration;

/// A colleague in the Paris office's ring group (and on the London desk).
const COLLEAGUE: i64 = 2003;
/// The agent's numbers: the Paris office and the London desk.
const MY_NUMBERS: [i64; 2] = [1001, 1002];

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn both_crms() -> Settings {
    Settings {
        crms: CrmSelection::only(["jobadder", "sellsy"]),
        ..fast_settings()
    }
}

impl World {
    fn ring(&self, number: &str, number_id: i64) -> i64 {
        self.sandbox
            .driver()
            .ring(NewCall {
                direction: "inbound".into(),
                external_number: number.into(),
                number_id,
                user_id: None,
            })
            .unwrap()
    }

    /// A call ringing on the Paris office's ring group, seen ringing here,
    /// then answered by a colleague (and closed here).
    async fn colleague_takes(&self, number: &str) -> i64 {
        let call = self.ring(number, 1001);
        self.wait_event("call_ringing", call).await;
        self.act(
            call,
            CallAction::Answer {
                user_id: Some(COLLEAGUE),
            },
        );
        self.wait_event("call_elsewhere", call).await;
        call
    }

    /// A call that rings `ring_secs` (as long as a real one), is answered by
    /// the agent, and ends.
    fn answered_after(&self, number: &str, number_id: i64, ring_secs: u64) -> i64 {
        let call = self.ring(number, number_id);
        std::thread::sleep(Duration::from_secs(ring_secs));
        self.act(call, CallAction::Answer { user_id: Some(AGENT) });
        self.act(call, CallAction::Hangup { reason: None });
        call
    }

    fn act(&self, call: i64, action: CallAction) {
        self.sandbox.driver().act(call, action).unwrap();
    }

    fn history(&self, plan: Value) -> Vec<SeededCall> {
        let plan: CompanyHistory = serde_json::from_value(plan).unwrap();
        self.sandbox.driver().company_history(&plan).unwrap()
    }

    /// The first event of `kind` for `call_id` (its `t_ms`), once it is there.
    async fn wait_event(&self, kind: &str, call_id: i64) -> i64 {
        self.wait_for(&format!("{kind} for call {call_id}"), || async {
            self.events()
                .into_iter()
                .find(|e| e["kind"] == kind && e["call_id"] == call_id)
                .and_then(|e| e["t_ms"].as_i64())
        })
        .await
    }

    /// Aircall's answers so far, as statuses.
    async fn aircall_statuses(&self) -> Vec<u64> {
        let sent = self.sandbox.control().get("/requests?api=aircall").await.unwrap();
        sent["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["status"].as_u64())
            .collect()
    }

    /// A JobAdder candidate with a British mobile; its id.
    async fn candidate(&self, name: &str, mobile: &str) -> i64 {
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        self.add_record(
            "jobadder",
            "candidate",
            "GB",
            json!({"firstName": first, "lastName": last, "mobile": mobile}),
        )
        .await
    }

    /// JobAdder candidates for numbers Sellsy knows with an open opportunity:
    /// callers both CRMs know.
    async fn callers_in_both_crms(&self, count: usize) -> Vec<String> {
        let numbers = self.sandbox.driver().sellsy_numbers_with_open_opportunity(count);
        assert_eq!(numbers.len(), count, "the sandbox has {count} such callers");
        for (i, number) in numbers.iter().enumerate() {
            self.add_record(
                "jobadder",
                "candidate",
                "FR",
                json!({"firstName": format!("Both{i}"), "lastName": "Crms", "mobile": number}),
            )
            .await;
        }
        numbers
    }

    /// Waits, at most `secs`, until every call has exactly what `has` wants.
    async fn wait_long(&self, what: &str, secs: u64, mut done: impl AsyncFnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while !done().await {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}\napp log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Three seconds of quiet, so that a second write would have happened.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_group_call_a_colleague_answers_is_closed_unlogged_and_new_calls_ring_within_the_interval() {
    let world = World::start(fast_settings()).await;
    world.candidate("Ring Group", "07400 333003").await;
    // A company limit the burst can be read under in seconds.
    world
        .control(
            reqwest::Method::POST,
            "/limits",
            json!({"aircall_per_minute": 100_000}),
        )
        .await;
    let app = world
        .app_with(&["JOBADDER"], &[("CALLCARD_POLL_BUDGET_PER_MINUTE", "600")])
        .await;
    let shared = world.colleague_takes("+44 7400 333003").await;
    world.act(shared, CallAction::Hangup { reason: None });

    // 1,500 company calls since the colleague's call started: the window the
    // colleague's open call once held open.
    let since = now_s() - 2;
    world
        .history(json!({"from": since - 3600, "to": since, "calls": 1_500, "seed": 3, "number_ids": [1003]}));
    world.history(json!({"from": since, "to": now_s(), "calls": 1_500, "seed": 4, "number_ids": [1003]}));
    world
        .wait_for("catch-up of the burst ends", || async {
            let events = world.events();
            let started = events
                .iter()
                .any(|e| e["kind"] == "catch_up" && !e["progress"].is_null());
            let ended = events
                .iter()
                .rev()
                .find(|e| e["kind"] == "catch_up")
                .is_some_and(|e| e["progress"].is_null());
            (started && ended).then_some(())
        })
        .await;
    // Each new call is seen within the poll interval (0.1 s at 600/min) + 1 s.
    for number in ["+44 7400 333004", "+44 7400 333005", "+44 7400 333006"] {
        let rang_ms = callcard_core::clock::Clock::now_ms(&callcard_core::clock::SystemClock);
        let call = world.ring(number, 1002);
        let seen_ms = world.wait_event("call_ringing", call).await;
        assert!(
            seen_ms - rang_ms <= 1_100,
            "call {call} seen {} ms after it rang",
            seen_ms - rang_ms
        );
        world.act(call, CallAction::Hangup { reason: None });
    }
    settle().await;
    assert!(
        world.notes_for(shared).await.is_empty(),
        "the colleague's call is not logged for me"
    );
    assert!(
        !world
            .events()
            .iter()
            .any(|e| e["call_id"] == shared && e["kind"] == "call_final"),
        "nor final here"
    );
    assert!(!world.aircall_statuses().await.contains(&400));
    stop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_a_colleague_transfers_to_the_user_is_logged_once_for_the_user() {
    let world = World::start(fast_settings()).await;
    let candidate = world.candidate("Trans Fer", "07400 444004").await;
    let app = world.app(&["JOBADDER"]).await;
    let call = world.colleague_takes("+44 7400 444004").await;
    world.act(call, CallAction::Transfer { user_id: AGENT });
    world.wait_event("call_answered", call).await;
    world.act(call, CallAction::Hangup { reason: None });
    let notes = world.wait_notes(call, |n| !n.is_empty()).await;
    settle().await;
    assert_eq!(world.notes_for(call).await.len(), 1);
    assert_eq!(notes[0]["record_id"], candidate);
    stop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_day_absence_with_12000_company_calls_is_caught_up_once_each_with_contact_sync_and_the_opportunity(
) {
    let world = World::start(both_crms()).await;
    world
        .control(
            reqwest::Method::POST,
            "/limits",
            json!({"aircall_per_minute": 100_000}),
        )
        .await;
    let callers = world.callers_in_both_crms(4).await;
    let fast = [("CALLCARD_POLL_BUDGET_PER_MINUTE", "1200")];
    // A first start, then the laptop is closed for three days.
    let app = world.app_with(&["JOBADDER", "SELLSY"], &fast).await;
    world
        .wait_for("the app polls Aircall", || async {
            (!world.aircall_statuses().await.is_empty()).then_some(())
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop(app);
    let left = now_s() - 3 * 86_400;
    let paths = callcard_core::Paths::under(world.home.path());
    callcard_core::Store::open(&paths.database())
        .unwrap()
        .set_checkpoint(
            &callcard_aircall::poller::checkpoint_for(&world.env("CALLCARD_AIRCALL_API_URL"), AGENT),
            left,
        )
        .unwrap();
    // The company's calls meanwhile: 12,000 on the New York line, and the
    // agent's own on the London desk (answered, missed, voicemails).
    let company = world.history(
        json!({"from": left + 60, "to": now_s() - 120, "calls": 12_000, "seed": 5, "number_ids": [1003]}),
    );
    let mine: Vec<SeededCall> = world
        .history(
            json!({"from": left + 90, "to": now_s() - 150, "calls": 12, "seed": 6,
            "number_ids": [1002], "users": [AGENT], "outbound": 0.0, "transferred": 0.0, "missed": 0.3,
            "external_numbers": callers}),
        )
        .into_iter()
        .filter(|call| call.belongs_to(AGENT, &MY_NUMBERS))
        .collect();
    assert_eq!(mine.len(), 12);
    assert!(company.iter().all(|call| !call.belongs_to(AGENT, &MY_NUMBERS)));

    let app = world.app_with(&["JOBADDER", "SELLSY"], &fast).await;
    world
        .wait_long("every caught-up call in both CRMs", 180, async || {
            let state = world.state().await;
            mine.iter().all(|call| {
                !callcard_test_support::jobadder_notes_logging(&state, call.id).is_empty()
                    && !callcard_test_support::sellsy_phone_calls_logging(&state, call.id).is_empty()
                    // Contact sync runs beside logging, on the Aircall budget.
                    && !aircall_contacts_with(&state, &call.raw_digits).is_empty()
            })
        })
        .await;
    settle().await;
    let state = world.state().await;
    for call in &mine {
        assert_eq!(
            world.notes_for(call.id).await.len(),
            1,
            "call {}: one note",
            call.id
        );
        let phone_calls = world.phone_calls_for(call.id).await;
        assert_eq!(phone_calls.len(), 1, "call {}: one phone call", call.id);
        let related = phone_calls[0]["related"].as_array().cloned().unwrap_or_default();
        assert!(
            related.iter().any(|r| r["type"] == "opportunity"),
            "call {}: the open opportunity, as for a live call: {related:?}",
            call.id
        );
        assert!(
            !aircall_contacts_with(&state, &call.raw_digits).is_empty(),
            "call {}: the caller's Aircall contact synced",
            call.id
        );
    }
    let notes = state["jobadder"]["notes"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(notes, mine.len(), "nothing logged for the company's other calls");
    let statuses = world.aircall_statuses().await;
    assert!(!statuses.contains(&400), "no read past Aircall's 10,000 cap");
    assert!(
        statuses.len() > 240,
        "12,000 calls take 240 pages at least: {} requests",
        statuses.len()
    );
    stop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_logs_nothing_from_before_the_connection() {
    let world = World::start(fast_settings()).await;
    let known = world.candidate("First Start", "07400 555006").await;
    let before = world.history(
        json!({"from": now_s() - 2 * 86_400, "to": now_s() - 60, "calls": 300, "seed": 8,
        "number_ids": [1002], "users": [AGENT], "external_numbers": ["+44 7400 555006"]}),
    );
    let app = world.app(&["JOBADDER"]).await;
    let now = world.answered_call("+44 7400 555006", 1002);
    let notes = world.wait_notes(now, |n| !n.is_empty()).await;
    assert_eq!(notes[0]["record_id"], known);
    settle().await;
    let logged = world.state().await["jobadder"]["notes"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert_eq!(
        logged,
        1,
        "only the call after the connection; {} happened before",
        before.len()
    );
    stop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sellsy_refusing_its_sign_in_holds_only_its_own_logs_which_all_arrive_after_a_new_sign_in() {
    let world = World::start(both_crms()).await;
    let callers = world.callers_in_both_crms(3).await;
    // Sellsy's sign-in is refused (a revoked refresh token); JobAdder's works.
    let app = world
        .app_with(
            &["JOBADDER"],
            &[("CALLCARD_SELLSY_REFRESH_TOKEN", "revoked-long-ago")],
        )
        .await;
    let calls: Vec<i64> = callers
        .iter()
        .map(|number| world.answered_after(number, 1001, 4))
        .collect();
    for call in &calls {
        world.wait_notes(*call, |n| !n.is_empty()).await;
        let ringing = world.wait_event("card_ready", *call).await;
        assert!(ringing > 0, "the card still shows");
    }
    settle().await;
    for call in &calls {
        assert!(
            world.phone_calls_for(*call).await.is_empty(),
            "Sellsy cannot have it yet"
        );
    }
    assert!(
        world.log_tail().contains("Sellsy is not signed in"),
        "the log says why:\n{}",
        world.log_tail()
    );
    stop(app);

    // A new sign-in: Sellsy gets every call, JobAdder nothing more.
    let app = world.app(&["JOBADDER", "SELLSY"]).await;
    for call in &calls {
        world.wait_phone_calls(*call, |pcs| !pcs.is_empty()).await;
    }
    settle().await;
    for call in &calls {
        assert_eq!(
            world.phone_calls_for(*call).await.len(),
            1,
            "call {call}: once in Sellsy"
        );
        assert_eq!(
            world.notes_for(*call).await.len(),
            1,
            "call {call}: once in JobAdder"
        );
    }
    stop(app);
}
