//! The call log against an in-memory CRM: cards, the user's pick, the phone
//! index, and what a final call puts in the outbox.

use callcard_core::activity::{AiData, Direction, FinalCall, Outcome};
use callcard_core::call_log::CallLog;
use callcard_core::crm::{Crm, CrmRecord, RecordKind, RecordRef};
use callcard_core::settings::{DuplicateRule, Settings};
use callcard_core::{Store, E164};
use callcard_test_support::memory_crm::MemoryCrm;
use std::sync::{Arc, Mutex};

const NUMBER: &str = "+447400123456";

fn record(kind: RecordKind, id: &str, updated_ms: i64) -> CrmRecord {
    CrmRecord {
        updated_ms,
        phones: vec![E164::parse(NUMBER, None).unwrap()],
        ..CrmRecord::new(kind, id, format!("Person {id}"))
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Mutex<Store>>,
    crm: Arc<MemoryCrm>,
    log: CallLog,
}

fn fixture(records: Vec<CrmRecord>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(Store::open(&dir.path().join("db.sqlite3")).unwrap()));
    let crm = Arc::new(MemoryCrm::new("jobadder"));
    for r in records {
        crm.add_record(r);
    }
    let log = CallLog::new(store.clone(), crm.clone() as Arc<dyn Crm>);
    Fixture {
        _dir: dir,
        store,
        crm,
        log,
    }
}

fn final_call(id: i64) -> FinalCall {
    FinalCall {
        call_id: id,
        direction: Direction::Inbound,
        outcome: Outcome::Answered,
        started_at: 1_700_000_000,
        duration_secs: 95,
        number_name: "Sales".into(),
        agent: None,
        team: None,
        tags: vec![],
        comments: vec![],
        dashboard_link: None,
        recording_link: None,
        ai: None,
    }
}

fn targets(f: &Fixture) -> Vec<String> {
    let mut t: Vec<String> = f
        .store
        .lock()
        .unwrap()
        .outbox_items(100)
        .unwrap()
        .into_iter()
        .map(|i| format!("{:?} {}", i.key.kind, i.key.target))
        .collect();
    t.sort();
    t
}

fn number() -> E164 {
    E164::parse(NUMBER, None).unwrap()
}

#[tokio::test]
async fn the_index_answers_first_and_the_live_search_fills_it() {
    let f = fixture(vec![record(RecordKind::Candidate, "1", 10)]);
    let first = f.log.find_caller(&number()).await.unwrap();
    assert_eq!(first.len(), 1);
    let calls = f.crm.calls();
    let again = f.log.find_caller(&number()).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(f.crm.calls(), calls, "the second search is answered by the index");
    let account = f.crm.account();
    assert_eq!(f.store.lock().unwrap().index_size(&account).unwrap(), 1);
}

#[tokio::test]
async fn most_recently_updated_logs_one_note_per_kind_and_do_nothing_logs_none_for_duplicates() {
    let records = vec![
        record(RecordKind::Contact, "old", 1),
        record(RecordKind::Contact, "new", 2),
        record(RecordKind::Candidate, "cand", 1),
    ];
    let f = fixture(records.clone());
    let settings = Settings::default();
    let n = f
        .log
        .log_final(&final_call(1), Some(&number()), &settings, 0)
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(targets(&f), ["Call candidate:cand", "Call contact:new"]);

    let f = fixture(records);
    let settings = Settings {
        duplicate_rule: DuplicateRule::DoNothing,
        ..Settings::default()
    };
    f.log
        .log_final(&final_call(1), Some(&number()), &settings, 0)
        .await
        .unwrap();
    assert_eq!(
        targets(&f),
        ["Call candidate:cand"],
        "the two contacts are left alone"
    );
}

#[tokio::test]
async fn a_pick_on_the_card_is_used_for_the_log_and_remembered_for_the_number() {
    let f = fixture(vec![
        record(RecordKind::Contact, "old", 1),
        record(RecordKind::Contact, "new", 2),
    ]);
    let card = f
        .log
        .card_for(7, &number(), callcard_core::activity::Direction::Inbound, 0)
        .await
        .unwrap();
    assert_eq!(card.matches.len(), 2);
    assert_eq!(card.chosen, None);
    let pick = RecordRef {
        kind: RecordKind::Contact,
        id: "old".into(),
    };
    assert!(f.store.lock().unwrap().choose(7, "jobadder", &pick).unwrap());
    let stranger = RecordRef {
        kind: RecordKind::Contact,
        id: "not-a-match".into(),
    };
    assert!(
        !f.store.lock().unwrap().choose(7, "jobadder", &stranger).unwrap(),
        "only a match can be picked"
    );
    f.log
        .log_final(&final_call(7), Some(&number()), &Settings::default(), 0)
        .await
        .unwrap();
    assert_eq!(targets(&f), ["Call contact:old"]);
    // The next call from that number starts with the same pick.
    let next = f
        .log
        .card_for(8, &number(), callcard_core::activity::Direction::Inbound, 0)
        .await
        .unwrap();
    assert_eq!(next.chosen, Some(pick));
}

#[tokio::test]
async fn logging_twice_enqueues_once_and_ai_updates_follow_only_written_calls() {
    let f = fixture(vec![record(RecordKind::Candidate, "1", 1)]);
    let settings = Settings::default();
    f.log
        .log_final(&final_call(3), Some(&number()), &settings, 0)
        .await
        .unwrap();
    f.log
        .log_final(&final_call(3), Some(&number()), &settings, 0)
        .await
        .unwrap();
    assert_eq!(targets(&f), ["Call candidate:1"]);
    let mut with_ai = final_call(3);
    with_ai.ai = Some(AiData {
        summary: Some("Agreed a start date".into()),
        topics: vec![],
        sentiment: None,
    });
    assert_eq!(
        f.log
            .log_ai(&with_ai, Some(&number()), &settings, 0)
            .await
            .unwrap(),
        1
    );
    assert_eq!(targets(&f), ["Call candidate:1", "CallUpdate candidate:1"]);
    let items = f.store.lock().unwrap().outbox_items(10).unwrap();
    let update = items
        .iter()
        .find(|i| i.key.target == "candidate:1" && i.depends_on.is_some())
        .unwrap();
    assert!(update.write.payload["note"]["text"]
        .as_str()
        .unwrap()
        .contains("Agreed a start date"));
    // A call never written (no caller) gets no update.
    let mut unknown = final_call(4);
    unknown.ai = with_ai.ai.clone();
    let nobody = E164::parse("+33612345678", None).unwrap();
    assert_eq!(
        f.log.log_ai(&unknown, Some(&nobody), &settings, 0).await.unwrap(),
        0
    );
    let off = Settings {
        log_ai_info: false,
        ..Settings::default()
    };
    let mut other = with_ai.clone();
    other.call_id = 5;
    f.log.log_final(&other, Some(&number()), &off, 0).await.unwrap();
    assert_eq!(
        f.log.log_ai(&other, Some(&number()), &off, 0).await.unwrap(),
        0,
        "the AI setting is off"
    );
}

#[tokio::test]
async fn the_history_shows_each_call_with_its_logs_and_the_failed_ones() {
    let f = fixture(vec![record(RecordKind::Candidate, "1", 1)]);
    f.log
        .card_for(11, &number(), callcard_core::activity::Direction::Inbound, 5_000)
        .await
        .unwrap();
    f.log
        .log_final(&final_call(11), Some(&number()), &Settings::default(), 6_000)
        .await
        .unwrap();
    // A call caught up later, without a card.
    f.log
        .log_final(&final_call(12), Some(&number()), &Settings::default(), 7_000)
        .await
        .unwrap();
    let store = f.store.lock().unwrap();
    let id = store
        .outbox_items(10)
        .unwrap()
        .into_iter()
        .find(|i| i.key.call_id == "11")
        .unwrap()
        .id;
    store
        .mark_failed(id, "refused by the CRM: no such candidate", 8_000)
        .unwrap();
    let history = store.history(10).unwrap();
    assert_eq!(history.calls.len(), 2);
    let carded = history.calls.iter().find(|c| c.call_id == 11).unwrap();
    assert_eq!(carded.caller.as_deref(), Some("Person 1"));
    assert_eq!(carded.logs.len(), 1);
    assert_eq!(carded.logs[0].target_name.as_deref(), Some("Person 1"));
    assert_eq!(
        carded.logs[0].last_error.as_deref(),
        Some("refused by the CRM: no such candidate")
    );
    assert_eq!(history.counts.failed, 1);
    assert!(store.retry_failed(id, 9_000).unwrap());
    assert_eq!(store.history(10).unwrap().counts.failed, 0);
}

#[tokio::test]
async fn a_card_shown_from_the_index_is_completed_by_the_live_search() {
    let f = fixture(vec![
        record(RecordKind::Candidate, "1", 1),
        record(RecordKind::Candidate, "2", 2),
    ]);
    // The index only knows the first (the second's number was unreadable, say).
    let account = f.crm.account();
    f.store
        .lock()
        .unwrap()
        .index_records(&account, &[record(RecordKind::Candidate, "1", 1)])
        .unwrap();
    let card = f
        .log
        .card_for(21, &number(), callcard_core::activity::Direction::Inbound, 0)
        .await
        .unwrap();
    assert!(card.from_index);
    assert_eq!(card.matches.len(), 1);
    assert!(f.log.complete_card(21, &number(), 0).await.unwrap().is_some());
    let completed = f.store.lock().unwrap().card(21, "jobadder").unwrap().unwrap();
    assert_eq!(completed.matches.len(), 2);
    assert!(
        f.log.complete_card(21, &number(), 0).await.unwrap().is_none(),
        "nothing new the second time"
    );
}

#[tokio::test]
async fn two_crms_keep_their_own_card_and_log_of_one_call_and_history_shows_it_once() {
    let f = fixture(vec![record(RecordKind::Candidate, "1", 10)]);
    let sellsy = Arc::new(MemoryCrm::new("sellsy"));
    sellsy.add_record(record(RecordKind::Contact, "77", 20));
    let sellsy_log = CallLog::new(f.store.clone(), sellsy.clone() as Arc<dyn Crm>);
    f.log
        .card_for(40, &number(), callcard_core::activity::Direction::Inbound, 1)
        .await
        .unwrap();
    sellsy_log
        .card_for(40, &number(), callcard_core::activity::Direction::Inbound, 1)
        .await
        .unwrap();
    let cards = f.store.lock().unwrap().cards(40).unwrap();
    let crms: Vec<&str> = cards.iter().map(|c| c.crm.as_str()).collect();
    assert_eq!(crms, ["jobadder", "sellsy"]);
    // A pick on one CRM's card leaves the other's alone.
    let pick = RecordRef {
        kind: RecordKind::Contact,
        id: "77".into(),
    };
    assert!(!f.store.lock().unwrap().choose(40, "jobadder", &pick).unwrap());
    assert!(f.store.lock().unwrap().choose(40, "sellsy", &pick).unwrap());

    // Queued by both, then marked logged once: both writes are in the outbox.
    let settings = Settings::default();
    assert_eq!(
        f.log
            .queue_final(&final_call(40), Some(&number()), &settings, 2)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        sellsy_log
            .queue_final(&final_call(40), Some(&number()), &settings, 2)
            .await
            .unwrap(),
        1
    );
    let history = f.store.lock().unwrap().history(10).unwrap();
    assert_eq!(history.calls.len(), 1);
    assert_eq!(history.calls[0].logs.len(), 2);
}

#[tokio::test]
async fn a_card_shows_a_hostile_record_as_short_plain_lines() {
    let hostile = "<img src=x onerror=alert(1)>\u{202E}evil\u{0007}\nnext line";
    let mut record = record(RecordKind::Candidate, "9", 1);
    record.name = hostile.into();
    record.email = Some("javascript:alert(1)\u{2066}".into());
    record.position = Some("x".repeat(100_000));
    let f = fixture(vec![record]);

    let card = f
        .log
        .card_for(31, &number(), Direction::Inbound, 0)
        .await
        .unwrap();
    let shown = &card.matches[0];
    // Markup stays as text (the window never interprets it); what could
    // reorder or hide text is gone, and the line breaks are spaces.
    assert_eq!(shown.name, "<img src=x onerror=alert(1)>evil next line");
    assert_eq!(shown.email.as_deref(), Some("javascript:alert(1)"));
    let position = shown.position.as_deref().unwrap();
    assert_eq!(position.chars().count(), callcard_core::crm::SHOWN_CHARS);
    assert!(position.ends_with('…'), "a cut field says so");
    // The window reads the card from the store: the same cleaned text.
    let saved = f.store.lock().unwrap().card(31, "jobadder").unwrap().unwrap();
    assert_eq!(saved.matches[0], *shown);
}
