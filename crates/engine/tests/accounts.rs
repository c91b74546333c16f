//! Accounts from the settings window: disconnecting a CRM removes its
//! tokens from the keychain and watching goes on without it (its calls
//! wait), a new sign-in brings it back without a restart, and a sign-in to
//! another account of the CRM is refused while the old one's writes wait.
//! Against the sandbox over loopback, with the real keychain.

mod support;

use callcard_core::crm::Write;
use callcard_core::outbox::{ItemKey, ItemKind};
use callcard_engine::{crms, EngineError};
use std::time::Duration;
use support::{crm_is_logged_to, jobadder_notes, sign_in, start, until, until_jobadder_note, Running};

/// Whether the keychain holds a sign-in for the CRM (as the app would find it).
async fn keychain_signed_in(running: &Running, crm: &str) -> bool {
    let plugin = crms::find(crm).unwrap();
    let config = crms::installed_crm(
        plugin,
        &running.env,
        &running.engine.settings(),
        &callcard_secrets::Keychain::app(),
    )
    .unwrap();
    crms::keychain_session(&config, callcard_secrets::Keychain::app())
        .current()
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_crm_leaves_the_keychain_and_the_watch_and_comes_back_after_a_sign_in() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let running = start("jobadder").await;
    sign_in(&running, "jobadder").await;
    assert!(keychain_signed_in(&running, "jobadder").await);

    running
        .engine
        .disconnect("jobadder")
        .await
        .expect("the disconnect");
    assert!(
        !keychain_signed_in(&running, "jobadder").await,
        "the tokens left the keychain"
    );
    let accounts = running.engine.accounts().await;
    let jobadder = accounts.iter().find(|a| a.id == "jobadder").unwrap();
    assert!(!jobadder.connected);
    // Watching goes on (Aircall), and JobAdder's calls wait for a new sign-in.
    until("the watch to start again and wait for JobAdder", || {
        let history = running.engine.service().history(10).ok()?;
        history.waiting.iter().any(|w| w.crm == "jobadder").then_some(())
    })
    .await;
    assert!(running.engine.watching().is_some());

    // A call ends while JobAdder is disconnected: it waits.
    let mut settings = running.engine.settings();
    settings.settle_delay_secs = 0;
    running.engine.save_settings(&settings).unwrap();
    let mobile = "+447400555303";
    let control = running.sandbox.control();
    control
        .add_record(
            "jobadder",
            "candidate",
            "GB",
            serde_json::json!({"firstName": "Robin", "lastName": "Waits", "mobile": mobile}),
        )
        .await
        .unwrap();
    let call_id = running.sandbox.driver().answered(mobile, 1001, 2001).unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        jobadder_notes(&running, call_id).await,
        0,
        "nothing is written while JobAdder is disconnected"
    );

    running
        .engine
        .connect_crm_with("jobadder", callcard_sandbox::browser())
        .await
        .expect("the second sign-in");
    until_jobadder_note(
        &running,
        call_id,
        40,
        "the waiting call is written after the new sign-in",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(jobadder_notes(&running, call_id).await, 1, "written once");
    until("JobAdder to be back without a restart", || {
        let history = running.engine.service().history(10).ok()?;
        crm_is_logged_to(&running.engine, "jobadder")?;
        history.waiting.is_empty().then_some(())
    })
    .await;
    drop(running.sandbox);
    running.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_to_another_account_is_refused_while_the_old_ones_writes_wait() {
    let running = start("sellsy").await;
    // A phone call queued for another Sellsy account, not written yet.
    let key = ItemKey {
        crm: "sellsy".into(),
        account: "another-company".into(),
        call_id: "4242".into(),
        kind: ItemKind::Call,
        target: "individual:1".into(),
    };
    let write = Write {
        reference: "Aircall call 4242".into(),
        payload: serde_json::json!({}),
    };
    running
        .engine
        .service()
        .shared_store()
        .lock()
        .unwrap()
        .enqueue(&key, &write, None, 0)
        .unwrap();

    let refused = running
        .engine
        .connect_crm_with("sellsy", callcard_sandbox::browser())
        .await;
    match refused {
        Err(EngineError::AccountSwitch { crm, waiting }) => {
            assert_eq!((crm, waiting), ("Sellsy", 1));
        }
        other => panic!("expected the switch to be refused, got {other:?}"),
    }
    assert!(
        !keychain_signed_in(&running, "sellsy").await,
        "the refused account's tokens were not kept"
    );
    let message = EngineError::AccountSwitch {
        crm: "Sellsy",
        waiting: 1,
    }
    .to_string();
    assert!(message.contains("another Sellsy account"), "{message}");
    drop(running.sandbox);
    running.engine.shutdown().await;
}
