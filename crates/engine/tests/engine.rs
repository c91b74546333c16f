//! The engine from the outside: started as a shell starts it.

use callcard_core::Paths;
use callcard_engine::{Engine, EngineError, EngineOptions, LockError};

#[tokio::test]
async fn two_engines_never_share_a_data_folder() {
    let home = tempfile::tempdir().unwrap();
    let paths = Paths::under(home.path());
    let first = Engine::start(&paths, EngineOptions::default()).unwrap();
    let second = Engine::start(&paths, EngineOptions::default());
    assert!(
        matches!(second, Err(EngineError::Locked(LockError::InUse(_)))),
        "a second engine on the same folder must be refused"
    );
    first.shutdown().await;
    drop(first);
    let again = Engine::start(&paths, EngineOptions::default()).unwrap();
    again.shutdown().await;
}

#[tokio::test]
async fn a_pick_on_the_card_is_pushed_to_the_windows() {
    use callcard_core::call_log::Card;
    use callcard_core::crm::{CrmRecord, RecordKind, RecordRef};
    use callcard_core::ServiceEvent;
    let home = tempfile::tempdir().unwrap();
    let engine = Engine::start(&Paths::under(home.path()), EngineOptions::default()).unwrap();
    let record = |id: &str| CrmRecord::new(RecordKind::Contact, id, format!("Contact {id}"));
    let card = Card {
        call_id: 5,
        number: "+447400111001".into(),
        direction: callcard_core::activity::Direction::Inbound,
        crm: "crm".into(),
        account: "a".into(),
        matches: vec![record("1"), record("2")],
        chosen: None,
        from_index: false,
    };
    engine
        .service()
        .shared_store()
        .lock()
        .unwrap()
        .save_card(&card, 1)
        .unwrap();
    let mut events = engine.subscribe();
    let pick = RecordRef {
        kind: RecordKind::Contact,
        id: "2".into(),
    };
    assert!(engine.choose_record(5, "crm", &pick).unwrap());
    assert_eq!(
        events.recv().await.unwrap(),
        ServiceEvent::CardsChanged { call_id: 5 }
    );
    assert_eq!(events.recv().await.unwrap(), ServiceEvent::HistoryChanged);
    // A record that is not on the card changes nothing and tells nobody.
    let stranger = RecordRef {
        kind: RecordKind::Contact,
        id: "99".into(),
    };
    assert!(!engine.choose_record(5, "crm", &stranger).unwrap());
    assert!(events.try_recv().is_err());
    engine.shutdown().await;
}
