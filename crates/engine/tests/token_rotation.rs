//! The connect window's own session on the keychain entry of a live one:
//! JobAdder's refresh tokens rotate, so when the setup check's session
//! refreshes an expired token, the live session's refresh token dies. The
//! live session then takes the new one from the keychain instead of asking
//! the user to sign in again, and the next call is logged. Against the
//! sandbox over loopback, with the real keychain (a file of its own: it
//! signs in to JobAdder).

mod support;

use callcard_engine::setup_check::{CheckId, Outcome};
use callcard_sandbox::scenario::{CallAction, NewCall};
use serde_json::json;
use std::time::{Duration, Instant};
use support::{crm_is_logged_to, start, until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_check_refreshing_the_token_leaves_the_live_session_working() {
    let running = start("jobadder").await;
    let mut settings = running.engine.settings();
    settings.settle_delay_secs = 0;
    running.engine.save_settings(&settings).unwrap();
    running
        .engine
        .connect_crm_with("jobadder", callcard_sandbox::browser())
        .await
        .expect("the sign-in");
    until("JobAdder to join the watch", || {
        crm_is_logged_to(&running.engine, "jobadder")
    })
    .await;
    let control = running.sandbox.control();

    // The access token runs out and the setup check (the connect window's
    // own session) is first to notice: it refreshes, and the refresh token
    // rotates under the live session.
    let expired = control
        .call(reqwest::Method::POST, "/oauth/jobadder/expire", json!({}))
        .await
        .unwrap();
    assert!(expired["affected"].as_u64().unwrap_or(0) > 0, "{expired}");
    let report = running.engine.check_setup().await;
    let lookup = report
        .checks
        .iter()
        .find(|c| c.id == CheckId::CrmLookup)
        .expect("the check looks a number up in JobAdder");
    assert_eq!(lookup.outcome, Outcome::Passed, "{lookup:?}");

    // A call: the live session's access token is refused and its refresh
    // token is dead; it takes the keychain's and the note is written.
    let mobile = "+447400555320";
    control
        .add_record(
            "jobadder",
            "candidate",
            "GB",
            json!({"firstName": "Rota", "lastName": "Tion", "mobile": mobile}),
        )
        .await
        .unwrap();
    let driver = running.sandbox.driver();
    let call_id = driver
        .ring(NewCall {
            direction: "inbound".into(),
            external_number: mobile.into(),
            number_id: 1001,
            user_id: None,
        })
        .unwrap();
    driver
        .act(call_id, CallAction::Answer { user_id: Some(2001) })
        .unwrap();
    driver.act(call_id, CallAction::Hangup { reason: None }).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = control.get("/state?calls=false").await.unwrap();
        if callcard_test_support::jobadder_notes_logging(&state, call_id).len() == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the call is logged by the live session: {:#?}",
            running.engine.service().history(5)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let history = running.engine.service().history(5).unwrap();
    assert!(
        history.waiting.iter().all(|w| w.crm != "jobadder"),
        "no new sign-in asked for: {:?}",
        history.waiting
    );
    drop(running.sandbox);
    running.engine.shutdown().await;
}
