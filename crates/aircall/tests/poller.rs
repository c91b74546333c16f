//! The poller against the sandbox over real HTTP: every kind of call is
//! detected and reaches `call_final` exactly once; a restart resumes; calls
//! missed while offline are caught up.

use callcard_aircall::{Aircall, Poller, PollerConfig};
use callcard_core::clock::Clock;
use callcard_core::tracker::CallEvent;
use callcard_core::Store;
use callcard_sandbox::scenario::{CallAction, NewCall};
use callcard_sandbox::{LimitsConfig, Sandbox, SandboxConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ME: i64 = 2001;
const COLLEAGUE: i64 = 2002;

/// The app's clock, moved forward together with the sandbox's.
#[derive(Default)]
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        callcard_core::clock::SystemClock.now_ms() + self.0.load(Ordering::SeqCst)
    }
}

struct Setup {
    sandbox: Sandbox,
    client: Arc<Aircall>,
    store: Arc<Mutex<Store>>,
    clock: Arc<TestClock>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let limits = LimitsConfig {
        aircall_per_minute: 100_000,
        ..Default::default()
    };
    let sandbox = Sandbox::start(SandboxConfig {
        limits,
        records_per_kind: 20,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = Arc::new(callcard_test_support::aircall(&sandbox));
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(Store::open(&dir.path().join("db.sqlite3")).unwrap()));
    Setup {
        sandbox,
        client,
        store,
        clock: Arc::new(TestClock::default()),
        _dir: dir,
    }
}

fn config() -> PollerConfig {
    PollerConfig {
        budget_per_minute: 3_000,
        user_id: ME,
        connected_numbers: vec![1001, 1002],
        settle_ms: 300,
        ai_wait_ms: 60_000,
        ai_retry_ms: 100,
        look_back_ms: 7 * 86_400_000,
        max_interval: Duration::from_secs(5),
    }
}

impl Setup {
    fn poller(&self) -> Poller {
        Poller::new(
            self.client.clone(),
            self.store.clone(),
            self.clock.clone(),
            config(),
        )
    }

    fn ring(&self, direction: &str, number: &str, number_id: i64, user: Option<i64>) -> i64 {
        self.sandbox
            .driver()
            .ring(NewCall {
                direction: direction.into(),
                external_number: number.into(),
                number_id,
                user_id: user,
            })
            .unwrap()
    }

    fn act(&self, id: i64, action: CallAction) {
        self.sandbox.driver().act(id, action).unwrap();
    }
}

/// Polls until `done` says so (or 10 s), collecting events per call.
async fn poll_until(
    poller: &mut Poller,
    events: &mut HashMap<i64, Vec<CallEvent>>,
    done: impl Fn(&HashMap<i64, Vec<CallEvent>>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(events) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out; events so far: {events:?}"
        );
        let tick = poller.tick().await.unwrap();
        for event in tick.events {
            events.entry(event.call_id()).or_default().push(event);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn finals(events: &[CallEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, CallEvent::CallFinal { .. }))
        .count()
}

#[tokio::test]
async fn every_kind_of_call_is_detected_and_becomes_final_exactly_once() {
    let s = setup().await;
    let mut poller = s.poller();
    let mut events = HashMap::new();

    let answered = s.ring("inbound", "+33 6 12 34 56 01", 1001, None);
    let missed = s.ring("inbound", "+33 6 12 34 56 02", 1001, None);
    let voicemail = s.ring("inbound", "+33 6 12 34 56 03", 1002, None);
    let outbound = s.ring("outbound", "+44 7400 123456", 1001, Some(ME));
    let transferred = s.ring("inbound", "+33 6 12 34 56 04", 1001, None);
    let tagged = s.ring("inbound", "+33 6 12 34 56 05", 1001, None);
    let colleagues = s.ring("inbound", "+33 6 12 34 56 06", 1001, None);
    let other_number = s.ring("inbound", "+1 212-736-0000", 1003, None);
    poll_until(&mut poller, &mut events, |e| {
        [answered, missed, voicemail, outbound, transferred, tagged]
            .iter()
            .all(|id| e.contains_key(id))
    })
    .await;
    for id in [answered, missed, voicemail, outbound, transferred, tagged] {
        assert_eq!(
            events[&id][0],
            CallEvent::CallRinging { call_id: id },
            "ringing first"
        );
    }

    s.act(answered, CallAction::Answer { user_id: Some(ME) });
    s.act(outbound, CallAction::Answer { user_id: Some(ME) });
    s.act(
        transferred,
        CallAction::Answer {
            user_id: Some(COLLEAGUE),
        },
    );
    s.act(transferred, CallAction::Transfer { user_id: ME });
    s.act(tagged, CallAction::Answer { user_id: Some(ME) });
    s.act(
        colleagues,
        CallAction::Answer {
            user_id: Some(COLLEAGUE),
        },
    );
    poll_until(&mut poller, &mut events, |e| {
        e[&answered].contains(&CallEvent::CallAnswered { call_id: answered })
    })
    .await;
    for id in [
        answered,
        missed,
        outbound,
        transferred,
        tagged,
        colleagues,
        other_number,
    ] {
        s.act(id, CallAction::Hangup { reason: None });
    }
    s.act(voicemail, CallAction::Voicemail);
    s.act(
        tagged,
        CallAction::Tags {
            names: vec!["Hot lead".into()],
        },
    );

    let mine = [answered, missed, voicemail, outbound, transferred, tagged];
    poll_until(&mut poller, &mut events, |e| {
        mine.iter().all(|id| e.get(id).is_some_and(|ev| finals(ev) == 1))
    })
    .await;
    // A few more polls: nothing is sent twice.
    for _ in 0..5 {
        let tick = poller.tick().await.unwrap();
        assert!(tick.events.is_empty(), "{:?}", tick.events);
    }
    for id in mine {
        assert_eq!(finals(&events[&id]), 1, "call {id}: {:?}", events[&id]);
    }
    assert!(events[&answered].contains(&CallEvent::CallAnswered { call_id: answered }));
    assert!(!events[&missed]
        .iter()
        .any(|e| matches!(e, CallEvent::CallAnswered { .. })));
    assert!(
        !events.contains_key(&other_number),
        "a call on a number not connected is ignored"
    );
    // A colleague's call is seen while ringing (nobody has it yet), then not followed.
    assert_eq!(
        events.get(&colleagues).map(|e| finals(e)).unwrap_or(0),
        0,
        "a colleague's call is not logged"
    );
}

#[tokio::test]
async fn a_restart_in_the_middle_resumes_without_repeating_events() {
    let s = setup().await;
    let mut events = HashMap::new();
    let call = s.ring("inbound", "+33 6 12 34 56 07", 1001, None);
    {
        let mut first = s.poller();
        poll_until(&mut first, &mut events, |e| e.contains_key(&call)).await;
    } // the app stops here
    s.act(call, CallAction::Answer { user_id: Some(ME) });
    s.act(call, CallAction::Hangup { reason: None });
    let mut second = s.poller();
    poll_until(&mut second, &mut events, |e| finals(&e[&call]) == 1).await;
    let ringing = events[&call]
        .iter()
        .filter(|e| matches!(e, CallEvent::CallRinging { .. }))
        .count();
    assert_eq!(ringing, 1, "{:?}", events[&call]);
}

#[tokio::test]
async fn calls_missed_during_two_hours_offline_are_caught_up() {
    let s = setup().await;
    let mut events = HashMap::new();
    let before = s.ring("inbound", "+33 6 12 34 56 08", 1001, None);
    s.act(before, CallAction::Hangup { reason: None });
    {
        let mut poller = s.poller();
        poll_until(&mut poller, &mut events, |e| {
            e.get(&before).is_some_and(|ev| finals(ev) == 1)
        })
        .await;
    }
    // Two hours pass with the app offline; calls come and go meanwhile.
    let two_hours = 2 * 3600 * 1000;
    let http = reqwest::Client::new();
    http.post(format!("{}/_sandbox/clock", s.sandbox.url()))
        .json(&serde_json::json!({"advance_ms": two_hours}))
        .send()
        .await
        .unwrap();
    s.clock.0.fetch_add(two_hours, Ordering::SeqCst);
    let missed: Vec<i64> = (0..3)
        .map(|i| {
            let id = s.ring("inbound", &format!("+33 6 12 34 56 1{i}"), 1001, None);
            s.act(id, CallAction::Hangup { reason: None });
            id
        })
        .collect();
    let mut back = s.poller();
    poll_until(&mut back, &mut events, |e| {
        missed
            .iter()
            .all(|id| e.get(id).is_some_and(|ev| finals(ev) == 1))
    })
    .await;
    for id in &missed {
        assert!(
            !events[id]
                .iter()
                .any(|e| matches!(e, CallEvent::CallRinging { .. })),
            "no card for a call long gone"
        );
    }
}

#[tokio::test]
async fn ai_data_arriving_later_gives_one_ai_ready_event() {
    let s = setup().await;
    let mut poller = s.poller();
    let mut events = HashMap::new();
    let call = s.ring("inbound", "+33 6 12 34 56 09", 1001, None);
    s.act(call, CallAction::Answer { user_id: Some(ME) });
    s.act(call, CallAction::Hangup { reason: None });
    poll_until(&mut poller, &mut events, |e| {
        e.get(&call).is_some_and(|ev| finals(ev) == 1)
    })
    .await;
    for _ in 0..3 {
        poller.tick().await.unwrap();
    }
    assert!(!events[&call]
        .iter()
        .any(|e| matches!(e, CallEvent::AiReady { .. })));
    s.act(
        call,
        CallAction::Ai {
            summary: None,
            topics: None,
            sentiment: None,
        },
    );
    poll_until(&mut poller, &mut events, |e| {
        e[&call].contains(&CallEvent::AiReady { call_id: call })
    })
    .await;
}

#[tokio::test]
async fn a_ringing_callers_card_is_posted_to_aircall_once_while_the_call_is_live() {
    use callcard_aircall::insight::{post_card, CardOutcome};
    use callcard_core::crm::{CrmRecord, RecordKind, RecordRef};
    use callcard_core::E164;
    use callcard_test_support::memory_crm::MemoryCrm;

    let s = setup().await;
    // Until a CRM connector exists, an in-memory CRM stands in for the lookup.
    let crm = MemoryCrm::new("test-crm");
    crm.add_record(CrmRecord {
        record: RecordRef {
            kind: RecordKind::Candidate,
            id: "42".into(),
        },
        name: "Léa Bernard".into(),
        email: Some("lea@example.com".into()),
        position: Some("Nurse".into()),
        company: None,
        owner: None,
        updated_ms: 0,
        archived: false,
        link: Some("https://crm.example/candidates/42".into()),
        company_id: None,
        opportunity: None,
        phones: vec![E164::parse("+33612345699", None).unwrap()],
        unreadable_phones: Vec::new(),
    });
    let mut poller = s.poller();
    let known = s.ring("inbound", "+33 6 12 34 56 99", 1001, None);
    let unknown = s.ring("inbound", "+33 6 12 34 56 98", 1001, None);
    let anonymous = s.ring("inbound", "anonymous", 1001, None);
    let mut ringing = Vec::new();
    for _ in 0..50 {
        let tick = poller.tick().await.unwrap();
        ringing.extend(tick.ringing.into_iter().map(|c| (c.id, c.other_party)));
        if ringing.len() == 3 {
            break;
        }
    }
    assert_eq!(ringing.len(), 3, "{ringing:?}");
    for (call_id, other_party) in &ringing {
        let outcome = post_card(&s.client, &s.store, &crm, *call_id, other_party.as_ref())
            .await
            .unwrap();
        match *call_id {
            id if id == known => {
                assert!(matches!(outcome, CardOutcome::Posted(ref r) if r[0].name == "Léa Bernard"))
            }
            id if id == unknown => assert_eq!(outcome, CardOutcome::NoMatch),
            id if id == anonymous => assert_eq!(outcome, CardOutcome::NoNumber),
            other => panic!("unexpected call {other}"),
        }
    }
    // Once: a second attempt posts nothing.
    assert_eq!(
        post_card(
            &s.client,
            &s.store,
            &crm,
            known,
            callcard_aircall::calls::other_party("+33 6 12 34 56 99").as_ref()
        )
        .await
        .unwrap(),
        CardOutcome::NotWanted
    );
    let state: serde_json::Value = reqwest::get(format!("{}/_sandbox/state", s.sandbox.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cards = state["aircall"]["insight_cards"].as_array().unwrap();
    assert_eq!(cards.len(), 1);
    assert_eq!(
        (cards[0]["call_id"].as_i64(), cards[0]["live"].as_bool()),
        (Some(known), Some(true))
    );
    assert_eq!(cards[0]["contents"][0]["text"], "Léa Bernard");
}
