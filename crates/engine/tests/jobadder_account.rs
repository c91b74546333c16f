//! JobAdder is known by its account, as `GET /users/current` names it, not
//! by the OAuth client (the same for every customer of a partner app): what
//! an older Callcard queued under the client's name follows the account,
//! and a sign-in to another company's account is refused while this one's
//! writes wait. Against the sandbox over loopback, with the real keychain
//! (a file of its own: it signs in to JobAdder).

mod support;

use callcard_core::crm::Write;
use callcard_core::outbox::{ItemKey, ItemKind};
use callcard_engine::EngineError;
use callcard_sandbox::JOBADDER_ACCOUNT_NAME;
use serde_json::json;
use support::{jobadder_notes, sign_in, start, until_jobadder_note};

fn note_for(account: &str, call_id: i64, candidate: i64) -> (ItemKey, Write) {
    let key = ItemKey {
        crm: "jobadder".into(),
        account: account.into(),
        call_id: call_id.to_string(),
        kind: ItemKind::Call,
        target: format!("candidate:{candidate}"),
    };
    let reference = callcard_core::activity::reference(call_id);
    let write = Write {
        reference: reference.clone(),
        payload: json!({
            "target": {"kind": "candidate", "id": candidate.to_string()},
            "note": {"type": "Phone call", "text": format!("Inbound call, answered\nAircall call {call_id}"), "reference": reference},
        }),
    };
    (key, write)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobadder_is_known_by_its_account_and_a_sign_in_to_another_is_refused() {
    let running = start("jobadder").await;
    let store = running.engine.service().shared_store();
    let client_id = running.env.var("CALLCARD_JOBADDER_CLIENT_ID").unwrap();
    let control = running.sandbox.control();
    let candidate = control
        .add_record(
            "jobadder",
            "candidate",
            "GB",
            json!({"firstName": "Ola", "lastName": "Der", "mobile": "+447400555310"}),
        )
        .await
        .unwrap();
    // A note an older Callcard queued under the OAuth client's name.
    let (key, write) = note_for(&client_id, 4244, candidate);
    store.lock().unwrap().enqueue(&key, &write, None, 0).unwrap();

    sign_in(&running, "jobadder").await;
    until_jobadder_note(&running, 4244, 30, "the queued note is written").await;
    assert_eq!(jobadder_notes(&running, 4244).await, 1);
    let accounts: Vec<String> = store
        .lock()
        .unwrap()
        .outbox_items(10)
        .unwrap()
        .into_iter()
        .map(|item| item.key.account)
        .collect();
    assert_eq!(
        accounts,
        vec![JOBADDER_ACCOUNT_NAME.to_owned()],
        "the queue follows the account JobAdder names"
    );

    // The user signs out, a note waits for this account, and the next
    // sign-in is to another company's JobAdder: refused.
    running
        .engine
        .disconnect("jobadder")
        .await
        .expect("the disconnect");
    let (key, write) = note_for(JOBADDER_ACCOUNT_NAME, 4245, candidate);
    store.lock().unwrap().enqueue(&key, &write, None, 0).unwrap();
    control
        .call(
            reqwest::Method::PUT,
            "/jobadder/account",
            json!({"name": "Another Recruitment Co"}),
        )
        .await
        .unwrap();
    match running
        .engine
        .connect_crm_with("jobadder", callcard_sandbox::browser())
        .await
    {
        Err(EngineError::AccountSwitch { crm, waiting }) => {
            assert_eq!((crm, waiting), ("JobAdder", 1));
        }
        other => panic!("expected the switch to be refused, got {other:?}"),
    }
    drop(running.sandbox);
    running.engine.shutdown().await;
}
