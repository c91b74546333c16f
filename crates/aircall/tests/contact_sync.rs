//! Sellsy → Aircall contact sync against the sandbox, with the real Sellsy
//! connector: a thousand changes made in Sellsy after the connection reach
//! Aircall as one contact per number (numbers Aircall already had are
//! overwritten, two Sellsy contacts sharing a number make one), and an
//! import interrupted halfway resumes from its saved page without doubling.

use callcard_aircall::contact_sync::ContactSync;
use callcard_aircall::Aircall;
use callcard_core::clock::SystemClock;
use callcard_core::crm::Crm;
use callcard_core::Store;
use callcard_sandbox::{Control, LimitsConfig, Sandbox, SandboxConfig};
use callcard_sellsy::Sellsy;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct World {
    _sandbox: Sandbox,
    control: Control,
    sellsy: Arc<Sellsy>,
    aircall: Arc<Aircall>,
    sync: ContactSync,
    _dir: tempfile::TempDir,
}

async fn world(records_per_kind: usize) -> World {
    let sandbox = Sandbox::start(SandboxConfig {
        records_per_kind,
        limits: LimitsConfig {
            aircall_per_minute: 1_000_000,
            sellsy_per_second: 1_000,
            sellsy_per_minute: 1_000_000,
            ..LimitsConfig::default()
        },
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let sellsy = Arc::new(callcard_test_support::sellsy(&sandbox, "FR").await);
    let aircall = Arc::new(callcard_test_support::aircall(&sandbox));
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(Store::open(&dir.path().join("db.sqlite3")).unwrap()));
    let sync = ContactSync::new(aircall.clone(), store, Arc::new(SystemClock), "Sellsy", 600_000);
    World {
        control: sandbox.control(),
        _sandbox: sandbox,
        sellsy,
        aircall,
        sync,
        _dir: dir,
    }
}

impl World {
    /// Aircall contacts per phone number.
    async fn aircall_contacts_by_number(&self) -> BTreeMap<String, Vec<Value>> {
        let state = self.control.state().await.unwrap();
        let mut by_number: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for contact in state["aircall"]["contacts"].as_array().unwrap() {
            for phone in contact["phone_numbers"].as_array().into_iter().flatten() {
                let number = phone["value"].as_str().unwrap().replace(' ', "");
                by_number.entry(number).or_default().push(contact.clone());
            }
        }
        by_number
    }
}

fn french_mobile(i: usize) -> String {
    format!("+336{:08}", 10_000_000 + i)
}

#[tokio::test]
async fn a_thousand_sellsy_changes_reach_aircall_as_one_contact_per_number() {
    let w = world(10).await;
    // The first run marks the connection: what came before is the import's.
    assert_eq!(w.sync.sync_changes(w.sellsy.as_ref()).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(10)).await;

    // Aircall already knows two of the numbers.
    for i in [3, 4] {
        w.aircall
            .create_contact(&json!({"first_name": "Old", "last_name": "Entry",
                "phone_numbers": [{"label": "Work", "value": french_mobile(i)}]}))
            .await
            .unwrap();
    }
    // 700 contacts created, 300 of them changed again: 1,000 changes. Two
    // contacts share number 0.
    let mut ids = Vec::new();
    for i in 0..700 {
        let number = french_mobile(if i == 1 { 0 } else { i });
        let fields = json!({"first_name": "Nina", "last_name": format!("Sync{i}"), "mobile_number": number});
        ids.push(
            w.control
                .add_record("sellsy", "contact", "FR", fields)
                .await
                .unwrap(),
        );
    }
    for id in ids.iter().take(300) {
        w.control
            .call(
                reqwest::Method::PUT,
                &format!("/records/sellsy/contact/{id}"),
                json!({"fields": {"position": "Buyer"}}),
            )
            .await
            .unwrap();
    }
    let written = w.sync.sync_changes(w.sellsy.as_ref()).await.unwrap();
    assert!(written >= 699, "numbers written: {written}");

    let by_number = w.aircall_contacts_by_number().await;
    for i in 0..700 {
        let number = french_mobile(i);
        if i == 1 {
            continue;
        }
        let contacts = by_number.get(&number).map(Vec::len).unwrap_or(0);
        assert_eq!(contacts, 1, "{number} has {contacts} Aircall contacts");
    }
    // The old entries were overwritten with Sellsy's details.
    let overwritten = &by_number[&french_mobile(3)][0];
    assert!(overwritten["information"]
        .as_str()
        .unwrap()
        .starts_with("Sellsy contact "));
    assert_eq!(overwritten["last_name"], "Sync3");

    // Nothing changed since: the next run writes nothing.
    assert_eq!(w.sync.sync_changes(w.sellsy.as_ref()).await.unwrap(), 0);
}

#[tokio::test]
async fn an_interrupted_import_resumes_from_its_page_without_duplicates() {
    let w = world(400).await;
    let account = w.sellsy.account();
    let total_contacts = w.sellsy.contacts(None).await.unwrap().total.unwrap();
    assert_eq!(total_contacts, 400);

    // The first run is stopped (the app quits) halfway through its second page.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let first = {
        let sync = &w.sync;
        let sellsy = w.sellsy.clone();
        async move {
            sync.import(sellsy.as_ref(), move |p| {
                let _ = tx.send(p.done);
            })
            .await
        }
    };
    tokio::select! {
        _ = first => panic!("the import should still be running"),
        _ = async { while let Some(done) = rx.recv().await { if done >= 150 { break; } } } => {}
    }
    let saved = w.sync_store_progress(&account).expect("progress was saved");
    assert!(
        saved.done >= 150 && saved.cursor.is_some() && saved.finished_ms.is_none(),
        "{saved:?}"
    );
    assert_eq!(
        saved.done,
        100 + saved.page_done,
        "saved within the second page: {saved:?}"
    );
    let aircall_before = w.aircall_contacts_by_number().await.len();

    // The second run starts at the saved page and finishes.
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let finished = w
        .sync
        .import(w.sellsy.as_ref(), move |p| seen.lock().unwrap().push(p.done))
        .await
        .unwrap();
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports[0], saved.done, "resumed, not restarted");
    // One report per contact from there on (and one per page end): none is done twice.
    let mut counted = reports.clone();
    counted.dedup();
    assert_eq!(counted, (saved.done..=400).collect::<Vec<_>>());
    assert!(finished.is_finished());
    assert_eq!((finished.done, finished.total), (400, Some(400)));

    let by_number = w.aircall_contacts_by_number().await;
    assert!(by_number.len() > aircall_before);
    let doubled: Vec<&String> = by_number
        .iter()
        .filter(|(_, c)| c.len() > 1)
        .map(|(n, _)| n)
        .collect();
    assert!(
        doubled.is_empty(),
        "numbers with two Aircall contacts: {doubled:?}"
    );
}

impl World {
    fn sync_store_progress(
        &self,
        account: &callcard_core::crm::CrmAccount,
    ) -> Option<callcard_core::contact_import::ImportProgress> {
        self.sync
            .store()
            .lock()
            .unwrap()
            .import_progress(account)
            .unwrap()
    }
}
