//! The poller in a busy company, against the sandbox over real HTTP: ring
//! groups where a colleague answers, transfers, thousands of calls in the
//! window, a long absence past Aircall's 10,000-result cap, a first start.

use callcard_aircall::{Aircall, Poller, PollerConfig};
use callcard_core::clock::{Clock, SystemClock};
use callcard_core::tracker::CallEvent;
use callcard_core::Store;
use callcard_sandbox::company::{CompanyHistory, SeededCall};
use callcard_sandbox::scenario::{CallAction, NewCall};
use callcard_sandbox::{LimitsConfig, Sandbox, SandboxConfig};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ME: i64 = 2001;
const COLLEAGUE: i64 = 2003;
/// My numbers: the Paris office (everybody's ring group) and the London desk.
const MY_NUMBERS: [i64; 2] = [1001, 1002];

struct Company {
    sandbox: Sandbox,
    client: Arc<Aircall>,
    store: Arc<Mutex<Store>>,
    _dir: tempfile::TempDir,
}

async fn company() -> Company {
    let sandbox = Sandbox::start(SandboxConfig {
        limits: LimitsConfig {
            aircall_per_minute: 100_000,
            ..Default::default()
        },
        records_per_kind: 5,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = Arc::new(callcard_test_support::aircall(&sandbox));
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(Store::open(&dir.path().join("db.sqlite3")).unwrap()));
    Company {
        sandbox,
        client,
        store,
        _dir: dir,
    }
}

fn config() -> PollerConfig {
    PollerConfig {
        budget_per_minute: 100_000,
        user_id: ME,
        connected_numbers: MY_NUMBERS.to_vec(),
        settle_ms: 0,
        ai_wait_ms: 0,
        ai_retry_ms: 100,
        look_back_ms: 7 * 86_400_000,
        max_interval: Duration::from_secs(5),
    }
}

fn now_s() -> i64 {
    SystemClock.now_ms() / 1000
}

impl Company {
    fn poller(&self) -> Poller {
        Poller::new(
            self.client.clone(),
            self.store.clone(),
            Arc::new(SystemClock),
            config(),
        )
    }

    fn ring(&self, number_id: i64) -> i64 {
        self.sandbox
            .driver()
            .ring(NewCall {
                direction: "inbound".into(),
                external_number: "+44 7700 900123".into(),
                number_id,
                user_id: None,
            })
            .unwrap()
    }

    fn act(&self, id: i64, action: CallAction) {
        self.sandbox.driver().act(id, action).unwrap();
    }

    fn history(&self, plan: CompanyHistory) -> Vec<SeededCall> {
        self.sandbox.driver().company_history(&plan).unwrap()
    }

    /// Aircall's answers to the poller, by status.
    async fn aircall_statuses(&self) -> HashMap<u16, usize> {
        let sent = self.sandbox.control().get("/requests?api=aircall").await.unwrap();
        let mut statuses = HashMap::new();
        for request in sent["requests"].as_array().unwrap() {
            *statuses
                .entry(request["status"].as_u64().unwrap() as u16)
                .or_insert(0) += 1;
        }
        statuses
    }
}

fn plan(from: i64, to: i64, calls: u32) -> CompanyHistory {
    serde_json::from_value(serde_json::json!({"from": from, "to": to, "calls": calls, "seed": 11})).unwrap()
}

/// Ticks until `done` (at most `ticks` times), gathering events per call.
async fn poll(
    poller: &mut Poller,
    events: &mut HashMap<i64, Vec<CallEvent>>,
    ticks: usize,
    done: impl Fn(&HashMap<i64, Vec<CallEvent>>) -> bool,
) -> usize {
    for tick_number in 1..=ticks {
        let tick = poller.tick().await.unwrap();
        for event in tick.events {
            events.entry(event.call_id()).or_default().push(event);
        }
        if done(events) {
            return tick_number;
        }
    }
    panic!("not done after {ticks} ticks: {} calls with events", events.len());
}

fn count(events: &[CallEvent], kind: fn(&CallEvent) -> bool) -> usize {
    events.iter().filter(|e| kind(e)).count()
}

fn is_final(e: &CallEvent) -> bool {
    matches!(e, CallEvent::CallFinal { .. })
}

#[tokio::test]
async fn a_ring_group_call_a_colleague_answers_closes_and_a_new_call_rings_at_once_among_1500_others() {
    let c = company().await;
    let mut poller = c.poller();
    let mut events: HashMap<i64, Vec<CallEvent>> = HashMap::new();
    let shared = c.ring(1001);
    poll(&mut poller, &mut events, 5, |e| e.contains_key(&shared)).await;
    c.act(
        shared,
        CallAction::Answer {
            user_id: Some(COLLEAGUE),
        },
    );
    poll(&mut poller, &mut events, 5, |e| {
        e[&shared].contains(&CallEvent::CallElsewhere { call_id: shared })
    })
    .await;
    c.act(shared, CallAction::Hangup { reason: None });
    // 1,500 other company calls in the last hours, while the colleague's
    // call would once have held the window open.
    c.history(plan(now_s() - 3 * 3600, now_s() - 60, 1_500));
    for _ in 0..3 {
        poller.tick().await.unwrap();
    }
    assert_eq!(
        count(&events[&shared], is_final),
        0,
        "not logged for me: {:?}",
        events[&shared]
    );
    assert!(
        poller.tick().await.unwrap().events.is_empty(),
        "the colleague's call is over for me"
    );

    let new = c.ring(1002);
    let tick = poller.tick().await.unwrap();
    assert_eq!(tick.ringing.iter().map(|call| call.id).collect::<Vec<_>>(), [new]);
    assert_eq!(
        tick.requests, 1,
        "one request for the newest calls, whatever the window holds"
    );
}

#[tokio::test]
async fn a_call_a_colleague_transfers_to_me_is_mine_once_and_one_i_transfer_away_is_not() {
    let c = company().await;
    let mut poller = c.poller();
    let mut events: HashMap<i64, Vec<CallEvent>> = HashMap::new();
    let to_me = c.ring(1001);
    let away = c.ring(1001);
    poll(&mut poller, &mut events, 5, |e| {
        e.contains_key(&to_me) && e.contains_key(&away)
    })
    .await;
    c.act(
        to_me,
        CallAction::Answer {
            user_id: Some(COLLEAGUE),
        },
    );
    c.act(away, CallAction::Answer { user_id: Some(ME) });
    poll(&mut poller, &mut events, 5, |e| {
        e[&to_me].contains(&CallEvent::CallElsewhere { call_id: to_me })
    })
    .await;
    c.act(to_me, CallAction::Transfer { user_id: ME });
    c.act(away, CallAction::Transfer { user_id: COLLEAGUE });
    c.act(to_me, CallAction::Hangup { reason: None });
    c.act(away, CallAction::Hangup { reason: None });
    poll(&mut poller, &mut events, 10, |e| count(&e[&to_me], is_final) == 1).await;
    for _ in 0..3 {
        poller.tick().await.unwrap();
    }
    let ringing = |e: &CallEvent| matches!(e, CallEvent::CallRinging { .. });
    assert_eq!(count(&events[&to_me], ringing), 1, "{:?}", events[&to_me]);
    assert_eq!(count(&events[&to_me], is_final), 1);
    assert_eq!(count(&events[&away], is_final), 0, "{:?}", events[&away]);
    assert!(events[&away].contains(&CallEvent::CallElsewhere { call_id: away }));
}

#[tokio::test]
async fn a_three_day_absence_with_12000_company_calls_is_caught_up_newest_first_without_a_400() {
    let c = company().await;
    let mut poller = c.poller();
    poller.tick().await.unwrap();
    // Gone since three days ago: the checkpoint says so.
    let left = now_s() - 3 * 86_400;
    c.store
        .lock()
        .unwrap()
        .set_checkpoint(poller.checkpoint(), left)
        .unwrap();
    let history = c.history(plan(left + 60, now_s() - 120, 12_000));
    let mine: Vec<i64> = history
        .iter()
        .filter(|call| call.belongs_to(ME, &MY_NUMBERS))
        .map(|call| call.id)
        .collect();
    assert!(mine.len() > 1_000, "{} of mine", mine.len());
    let mut events: HashMap<i64, Vec<CallEvent>> = HashMap::new();
    let mut progress = Vec::new();
    let mut new_call = None;
    let mut ticks = 0;
    loop {
        ticks += 1;
        assert!(ticks < 1_000, "catch-up did not end");
        let tick = poller.tick().await.unwrap();
        for event in tick.events {
            events.entry(event.call_id()).or_default().push(event);
        }
        if let Some(call) = new_call {
            // A call ringing during catch-up is seen at the next tick.
            if tick.ringing.iter().any(|c| c.id == call) {
                new_call = Some(-1);
            } else {
                assert_eq!(new_call, Some(-1), "the new call waited behind the backlog");
            }
        }
        match tick.catch_up {
            Some(p) => {
                progress.push(p.done_secs);
                if ticks == 10 {
                    new_call = Some(c.ring(1001));
                }
            }
            None => break,
        }
    }
    // A few more ticks for the last finals.
    for _ in 0..3 {
        for event in poller.tick().await.unwrap().events {
            events.entry(event.call_id()).or_default().push(event);
        }
    }
    let statuses = c.aircall_statuses().await;
    assert_eq!(statuses.get(&400), None, "{statuses:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "progress only grows");
    let requests: usize = statuses.values().sum();
    assert!(
        requests > 240,
        "12,000 calls take 240 pages at least: {requests} requests"
    );
    assert!(
        progress.len() > 20,
        "catch-up told its progress {} times",
        progress.len()
    );
    for id in &mine {
        let finals = events.get(id).map(|e| count(e, is_final)).unwrap_or(0);
        assert_eq!(finals, 1, "call {id}: {:?}", events.get(id));
    }
    let others = history
        .iter()
        .filter(|call| !call.belongs_to(ME, &MY_NUMBERS))
        .filter(|call| events.get(&call.id).is_some_and(|e| count(e, is_final) > 0))
        .count();
    assert_eq!(others, 0, "only my calls become final here");
}

#[tokio::test]
async fn a_first_start_follows_calls_from_the_moment_of_connection_not_the_look_back() {
    let c = company().await;
    c.history(plan(now_s() - 2 * 86_400, now_s() - 600, 500));
    let mut poller = c.poller();
    let mut events: HashMap<i64, Vec<CallEvent>> = HashMap::new();
    for _ in 0..5 {
        for event in poller.tick().await.unwrap().events {
            events.entry(event.call_id()).or_default().push(event);
        }
    }
    assert!(events.is_empty(), "{} past calls followed", events.len());
    let new = c.ring(1001);
    poll(&mut poller, &mut events, 5, |e| e.contains_key(&new)).await;
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn an_absence_longer_than_the_look_back_is_caught_up_within_it_only() {
    let c = company().await;
    let mut poller = c.poller();
    poller.tick().await.unwrap();
    let left = now_s() - 9 * 86_400;
    c.store
        .lock()
        .unwrap()
        .set_checkpoint(poller.checkpoint(), left)
        .unwrap();
    let too_old = c.history(plan(left + 60, now_s() - 8 * 86_400, 200));
    let recent = c.history(plan(now_s() - 6 * 86_400, now_s() - 60, 200));
    let mut events: HashMap<i64, Vec<CallEvent>> = HashMap::new();
    for _ in 0..100 {
        let tick = poller.tick().await.unwrap();
        for event in tick.events {
            events.entry(event.call_id()).or_default().push(event);
        }
        if tick.catch_up.is_none() {
            break;
        }
    }
    assert!(too_old.iter().all(|call| !events.contains_key(&call.id)));
    let mine_recent = recent.iter().filter(|call| call.belongs_to(ME, &MY_NUMBERS));
    for call in mine_recent {
        assert!(events.contains_key(&call.id), "call {} not caught up", call.id);
    }
}

#[tokio::test]
async fn a_burst_of_more_calls_in_one_second_than_a_page_holds_is_read_whole() {
    let c = company().await;
    let mut poller = c.poller();
    poller.tick().await.unwrap();
    let second = now_s() - 3_600;
    c.store
        .lock()
        .unwrap()
        .set_checkpoint(poller.checkpoint(), second - 600)
        .unwrap();
    let mut burst = plan(second, second, 180);
    burst.number_ids = vec![1001];
    burst.missed = 1.0;
    burst.outbound = 0.0;
    let calls = c.history(burst);
    assert!(calls.iter().all(|call| call.belongs_to(ME, &MY_NUMBERS)));
    let mut events: HashMap<i64, Vec<CallEvent>> = HashMap::new();
    for _ in 0..50 {
        let tick = poller.tick().await.unwrap();
        for event in tick.events {
            events.entry(event.call_id()).or_default().push(event);
        }
        if tick.catch_up.is_none() {
            break;
        }
    }
    for call in &calls {
        assert_eq!(
            events.get(&call.id).map(|e| count(e, is_final)),
            Some(1),
            "call {} of the burst",
            call.id
        );
    }
    assert_eq!(c.aircall_statuses().await.get(&400), None);
}

#[tokio::test]
async fn a_dense_burst_in_the_heads_window_is_caught_up_once_and_whole() {
    let c = company().await;
    let mut poller = c.poller();
    poller.tick().await.unwrap();
    // 1,500 calls in the last two seconds (after the last read): they stay
    // in the head's overlap for several ticks.
    let since = now_s() - 2;
    let mut burst = plan(since, now_s(), 1_500);
    burst.outbound = 0.0;
    let calls = c.history(burst);
    let mut events: HashMap<i64, Vec<CallEvent>> = HashMap::new();
    let mut requests = 0;
    for _ in 0..100 {
        let tick = poller.tick().await.unwrap();
        requests += tick.requests;
        for event in tick.events {
            events.entry(event.call_id()).or_default().push(event);
        }
        if tick.catch_up.is_none() && requests > 1 {
            break;
        }
    }
    let mine: Vec<&SeededCall> = calls
        .iter()
        .filter(|call| call.belongs_to(ME, &MY_NUMBERS))
        .collect();
    assert!(mine.len() > 200);
    // Seen ended once each (some end in the coming seconds: final later).
    let ended = |e: &CallEvent| matches!(e, CallEvent::CallEnded { .. });
    for call in mine {
        let seen = events.get(&call.id).map(|e| count(e, ended)).unwrap_or(0);
        assert_eq!(seen, 1, "call {}", call.id);
    }
    assert!(
        requests < 60,
        "{requests} requests for 30 pages of calls: read once, not again and again"
    );
}
