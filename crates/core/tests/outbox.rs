//! The outbox and its dispatcher against an in-memory CRM: no call log is
//! lost or written twice, whatever the CRM does.

use callcard_core::clock::{Clock, ManualClock};
use callcard_core::crm::{Crm, CrmError, Write};
use callcard_core::dispatcher::{Dispatcher, Outcome, RetryPolicy};
use callcard_core::outbox::{ItemKey, ItemKind, ItemState};
use callcard_core::Store;
use callcard_test_support::memory_crm::{Failure, MemoryCrm};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Mutex<Store>>,
    crm: Arc<MemoryCrm>,
    clock: Arc<ManualClock>,
    dispatcher: Dispatcher,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(Store::open(&dir.path().join("db.sqlite3")).unwrap()));
    let crm = Arc::new(MemoryCrm::new("jobadder"));
    let clock = Arc::new(ManualClock::at(1_000_000));
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let dispatcher = Dispatcher::new(
        store.clone(),
        crm.clone() as Arc<dyn Crm>,
        clock.clone(),
        policy,
        None,
    );
    Fixture {
        _dir: dir,
        store,
        crm,
        clock,
        dispatcher,
    }
}

fn key(call: &str, kind: ItemKind) -> ItemKey {
    ItemKey {
        crm: "jobadder".into(),
        account: "test".into(),
        call_id: call.into(),
        kind,
        target: "candidate:1".into(),
    }
}

fn write(call: &str) -> Write {
    Write {
        reference: format!("aircall-call-{call}"),
        payload: json!({"text": format!("call {call}")}),
    }
}

impl Fixture {
    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn enqueue(&self, call: &str) -> i64 {
        self.store
            .lock()
            .unwrap()
            .enqueue(&key(call, ItemKind::Call), &write(call), None, self.now())
            .unwrap()
            .0
    }

    fn state(&self, id: i64) -> ItemState {
        self.store.lock().unwrap().outbox_item(id).unwrap().unwrap().state
    }
}

#[tokio::test]
async fn an_item_is_written_once_and_marked_done_with_its_remote_id() {
    let f = fixture();
    let id = f.enqueue("1");
    let outcomes = f.dispatcher.run_once().await.unwrap();
    assert!(matches!(&outcomes[..], [(i, Outcome::Written(r))] if *i == id && r.id == "jobadder-1"));
    assert_eq!(f.state(id), ItemState::Done);
    assert!(f.dispatcher.run_once().await.unwrap().is_empty(), "nothing left");
    assert_eq!(f.crm.written().len(), 1);
}

#[tokio::test]
async fn enqueuing_the_same_call_twice_keeps_one_item() {
    let f = fixture();
    let (a, new_a) = f
        .store
        .lock()
        .unwrap()
        .enqueue(&key("7", ItemKind::Call), &write("7"), None, 1)
        .unwrap();
    let (b, new_b) = f
        .store
        .lock()
        .unwrap()
        .enqueue(&key("7", ItemKind::Call), &write("7"), None, 2)
        .unwrap();
    assert_eq!((a == b, new_a, new_b), (true, true, false));
    f.dispatcher.run_once().await.unwrap();
    assert_eq!(f.crm.written().len(), 1);
}

#[tokio::test]
async fn after_an_ambiguous_failure_the_record_is_looked_up_before_writing_again() {
    let f = fixture();
    let id = f.enqueue("2");
    f.crm.fail_next(Failure::AfterWriting(CrmError::Ambiguous(
        "connection reset".into(),
    )));
    let first = f.dispatcher.run_once().await.unwrap();
    assert!(matches!(&first[0].1, Outcome::Retry(r) if r.needs_check));
    assert_eq!(f.state(id), ItemState::Pending);
    f.clock.advance_ms(60_000);
    let second = f.dispatcher.run_once().await.unwrap();
    assert!(matches!(&second[0].1, Outcome::AlreadyThere(_)), "{second:?}");
    assert_eq!(f.crm.written().len(), 1, "written exactly once");
    assert_eq!(f.state(id), ItemState::Done);
}

#[tokio::test]
async fn an_ambiguous_failure_that_did_not_write_is_written_on_the_next_attempt() {
    let f = fixture();
    f.enqueue("3");
    f.crm
        .fail_next(Failure::Before(CrmError::Ambiguous("timeout".into())));
    f.dispatcher.run_once().await.unwrap();
    f.clock.advance_ms(60_000);
    let second = f.dispatcher.run_once().await.unwrap();
    assert!(matches!(&second[0].1, Outcome::Written(_)));
    assert_eq!(f.crm.written().len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_rate_limit_does_not_count_as_a_failure() {
    let f = fixture();
    let id = f.enqueue("4");
    f.crm.fail_next(Failure::Before(CrmError::RateLimited {
        retry_after: Some(Duration::from_secs(30)),
    }));
    let start = f.now();
    let outcomes = f.dispatcher.run_once().await.unwrap();
    let Outcome::Retry(retry) = &outcomes[0].1 else {
        panic!("{outcomes:?}")
    };
    assert_eq!(retry.next_attempt_ms, start + 30_000);
    let item = f.store.lock().unwrap().outbox_item(id).unwrap().unwrap();
    assert_eq!(item.attempts, 0, "rate limits are not the item's fault");
    f.clock.advance_ms(29_000);
    assert!(
        f.dispatcher.run_once().await.unwrap().is_empty(),
        "not before Retry-After"
    );
}

#[tokio::test]
async fn transient_failures_back_off_then_park_the_item_with_its_error_and_a_manual_retry_writes_it() {
    let f = fixture();
    let id = f.enqueue("5");
    let mut delays = Vec::new();
    for _ in 0..3 {
        f.crm
            .fail_next(Failure::Before(CrmError::Transient("503".into())));
        let before = f.now();
        let outcomes = f.dispatcher.run_once().await.unwrap();
        match &outcomes[0].1 {
            Outcome::Retry(r) => {
                delays.push(r.next_attempt_ms - before);
                f.clock.advance_ms(r.next_attempt_ms - before);
            }
            Outcome::Parked(error) => assert!(error.contains("gave up after 3 attempts"), "{error}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(delays.len(), 2);
    assert!(delays[1] > delays[0], "exponential: {delays:?}");
    let item = f.store.lock().unwrap().outbox_item(id).unwrap().unwrap();
    assert_eq!(item.state, ItemState::Failed);
    assert!(item.last_error.unwrap().contains("503"));
    assert!(f.store.lock().unwrap().retry_failed(id, f.now()).unwrap());
    let outcomes = f.dispatcher.run_once().await.unwrap();
    assert!(matches!(&outcomes[0].1, Outcome::Written(_)));
    assert_eq!(f.crm.written().len(), 1);
}

#[tokio::test]
async fn a_rejected_write_is_parked_at_once() {
    let f = fixture();
    let id = f.enqueue("6");
    f.crm
        .fail_next(Failure::Before(CrmError::Rejected("reference too long".into())));
    f.dispatcher.run_once().await.unwrap();
    assert_eq!(f.state(id), ItemState::Failed);
}

#[tokio::test]
async fn an_expired_login_makes_the_outbox_wait_without_losing_or_parking_anything() {
    let f = fixture();
    let id = f.enqueue("8");
    for _ in 0..10 {
        f.crm.fail_next(Failure::Before(CrmError::NeedsReconnect(
            "refresh token revoked".into(),
        )));
        f.dispatcher.run_once().await.unwrap();
        f.clock.advance_ms(60_000);
    }
    let item = f.store.lock().unwrap().outbox_item(id).unwrap().unwrap();
    assert_eq!((item.state, item.attempts), (ItemState::Pending, 0));
    f.dispatcher.run_once().await.unwrap();
    assert_eq!(f.state(id), ItemState::Done);
}

#[tokio::test]
async fn an_ai_update_waits_for_the_first_write_then_updates_that_record() {
    let f = fixture();
    let first = f.enqueue("9");
    let update_write = Write {
        reference: "aircall-call-9".into(),
        payload: json!({"text": "call 9 with AI"}),
    };
    let update = f
        .store
        .lock()
        .unwrap()
        .enqueue(
            &key("9", ItemKind::CallUpdate),
            &update_write,
            Some(&key("9", ItemKind::Call)),
            f.now(),
        )
        .unwrap()
        .0;
    f.crm
        .fail_next(Failure::Before(CrmError::Transient("down".into())));
    let outcomes = f.dispatcher.run_once().await.unwrap();
    assert_eq!(outcomes.len(), 1, "the update is not tried before its write");
    f.clock.advance_ms(60_000);
    f.dispatcher.run_once().await.unwrap();
    f.dispatcher.run_once().await.unwrap();
    assert_eq!(
        (f.state(first), f.state(update)),
        (ItemState::Done, ItemState::Done)
    );
    let written = f.crm.written();
    assert_eq!(written.len(), 1);
    assert_eq!(
        (written[0].updates, written[0].payload["text"].as_str()),
        (1, Some("call 9 with AI"))
    );
}

#[tokio::test]
async fn items_left_in_flight_by_a_crash_are_checked_before_being_written_again() {
    let f = fixture();
    let id = f.enqueue("10");
    // The crash: claimed, written by the CRM, never marked done.
    let claimed = f
        .store
        .lock()
        .unwrap()
        .claim_due("jobadder", "test", f.now(), 10)
        .unwrap();
    f.crm.write_call(&claimed[0].write).await.unwrap();
    assert_eq!(f.store.lock().unwrap().recover_in_flight(f.now()).unwrap(), 1);
    let outcomes = f.dispatcher.run_once().await.unwrap();
    assert!(matches!(&outcomes[0].1, Outcome::AlreadyThere(_)));
    assert_eq!(f.state(id), ItemState::Done);
    assert_eq!(f.crm.written().len(), 1);
}

#[test]
fn items_waiting_for_a_login_are_noticed() {
    let f = fixture();
    let id = f.enqueue("1");
    let store = f.store.lock().unwrap();
    assert!(!store.outbox_waits_for_login().unwrap());
    let retry = callcard_core::outbox::Retry {
        error: CrmError::NeedsReconnect("refresh refused".into()).to_string(),
        next_attempt_ms: 0,
        needs_check: false,
        counts: false,
        waits_for_login: true,
    };
    // An attempt is a claim, then its outcome.
    store.claim_due("jobadder", "test", 10_000_000, 10).unwrap();
    store.mark_retry(id, &retry, 0).unwrap();
    assert!(store.outbox_waits_for_login().unwrap());
    let later = callcard_core::outbox::Retry {
        next_attempt_ms: 60_000,
        ..retry
    };
    store.claim_due("jobadder", "test", 10_000_000, 10).unwrap();
    store.mark_retry(id, &later, 0).unwrap();
    assert_eq!(
        store.retry_waiting_for_login(1_000).unwrap(),
        1,
        "due at once after a sign-in"
    );
    assert_eq!(store.outbox_item(id).unwrap().unwrap().next_attempt_ms, 1_000);
}

#[tokio::test]
async fn an_ai_update_that_failed_ambiguously_is_applied_not_taken_for_the_original() {
    let f = fixture();
    let first = f.enqueue("11");
    f.dispatcher.run_once().await.unwrap();
    assert_eq!(f.state(first), ItemState::Done);
    let update_write = Write {
        reference: "aircall-call-11".into(),
        payload: json!({"text": "call 11 with AI"}),
    };
    let update = f
        .store
        .lock()
        .unwrap()
        .enqueue(
            &key("11", ItemKind::CallUpdate),
            &update_write,
            Some(&key("11", ItemKind::Call)),
            f.now(),
        )
        .unwrap()
        .0;
    // No answer, and in fact nothing was written: the update is still to do.
    f.crm
        .fail_next(Failure::Before(CrmError::Ambiguous("timed out".into())));
    f.dispatcher.run_once().await.unwrap();
    assert_ne!(f.state(update), ItemState::Done);
    f.clock.advance_ms(10 * 60_000);
    f.dispatcher.run_once().await.unwrap();
    assert_eq!(f.state(update), ItemState::Done);
    let written = f.crm.written();
    assert_eq!(written.len(), 1, "one note");
    assert_eq!(
        written[0].payload["text"].as_str(),
        Some("call 11 with AI"),
        "the update was applied, not found as the original"
    );
}

/// Claims as the team hub keeps them, in memory: the first claimant writes.
#[derive(Default)]
struct SharedClaims {
    held: Mutex<std::collections::HashMap<String, (usize, Option<callcard_core::crm::RemoteRef>)>>,
}

struct ComputerClaims {
    shared: Arc<SharedClaims>,
    computer: usize,
}

#[async_trait::async_trait]
impl callcard_core::claims::WriteClaims for ComputerClaims {
    async fn claim(&self, key: &str) -> Result<callcard_core::claims::Claim, String> {
        use callcard_core::claims::Claim;
        let mut held = self.shared.held.lock().unwrap();
        let entry = held.entry(key.to_owned()).or_insert((self.computer, None));
        // Written is written for everyone, the holder too (as the hub answers).
        Ok(match entry {
            (_, Some(remote)) => Claim::WrittenElsewhere(remote.clone()),
            (holder, _) if *holder == self.computer => Claim::Granted { taken_over: false },
            _ => Claim::Held {
                retry_after: Duration::from_secs(1),
            },
        })
    }

    async fn written(&self, key: &str, remote: &callcard_core::crm::RemoteRef) -> Result<(), String> {
        let mut held = self.shared.held.lock().unwrap();
        if let Some(entry) = held.get_mut(key) {
            entry.1 = Some(remote.clone());
        }
        Ok(())
    }
}

#[tokio::test]
async fn computers_following_the_same_calls_write_each_once_with_claims() {
    let crm = Arc::new(MemoryCrm::new("jobadder"));
    let clock = Arc::new(ManualClock::at(1_000_000));
    let shared = Arc::new(SharedClaims::default());
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let computers: Vec<(Arc<Mutex<Store>>, Dispatcher)> = dirs
        .iter()
        .enumerate()
        .map(|(computer, dir)| {
            let store = Arc::new(Mutex::new(Store::open(&dir.path().join("db.sqlite3")).unwrap()));
            let dispatcher = Dispatcher::new(
                store.clone(),
                crm.clone() as Arc<dyn Crm>,
                clock.clone(),
                RetryPolicy::default(),
                None,
            )
            .with_claims(Arc::new(ComputerClaims {
                shared: shared.clone(),
                computer,
            }));
            (store, dispatcher)
        })
        .collect();
    for (store, _) in &computers {
        for call in 0..10 {
            let call = call.to_string();
            store
                .lock()
                .unwrap()
                .enqueue(&key(&call, ItemKind::Call), &write(&call), None, clock.now_ms())
                .unwrap();
        }
    }
    // Each computer in turn, then again once the first has written.
    for _ in 0..2 {
        for (_, dispatcher) in &computers {
            dispatcher.run_once().await.unwrap();
        }
        clock.advance_ms(2_000);
    }
    assert_eq!(crm.written().len(), 10, "each call written once");
    for (store, _) in &computers {
        let counts = store.lock().unwrap().outbox_counts().unwrap();
        assert_eq!(
            counts.done, 10,
            "every computer takes every call as done: {counts:?}"
        );
    }
}

#[tokio::test]
async fn the_holder_told_written_still_writes_the_calls_other_targets_once_each() {
    let crm = Arc::new(MemoryCrm::new("jobadder"));
    let clock = Arc::new(ManualClock::at(1_000_000));
    let shared = Arc::new(SharedClaims::default());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(Store::open(&dir.path().join("db.sqlite3")).unwrap()));
    let dispatcher = Dispatcher::new(
        store.clone(),
        crm.clone() as Arc<dyn Crm>,
        clock.clone(),
        RetryPolicy::default(),
        None,
    )
    .with_claims(Arc::new(ComputerClaims {
        shared: shared.clone(),
        computer: 0,
    }));
    // "Every match" of a number: one note per record, one claim for the call.
    for target in ["candidate:1", "contact:2"] {
        let key = ItemKey {
            target: target.into(),
            ..key("7", ItemKind::Call)
        };
        let write = Write {
            reference: format!("aircall-call-7-{target}"),
            ..write("7")
        };
        store
            .lock()
            .unwrap()
            .enqueue(&key, &write, None, clock.now_ms())
            .unwrap();
    }
    for _ in 0..3 {
        dispatcher.run_once().await.unwrap();
        clock.advance_ms(2_000);
    }
    let written = crm.written();
    assert_eq!(written.len(), 2, "a note on each record: {written:?}");
    assert_eq!(store.lock().unwrap().outbox_counts().unwrap().done, 2);
    // Restarted, the same holder claims the first target again: written.
    let again = ComputerClaims { shared, computer: 0 };
    let answer = callcard_core::claims::WriteClaims::claim(&again, "jobadder:test:7:call")
        .await
        .unwrap();
    assert!(
        matches!(answer, callcard_core::claims::Claim::WrittenElsewhere(_)),
        "{answer:?}"
    );
}
