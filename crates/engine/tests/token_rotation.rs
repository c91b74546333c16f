//! The connect window's own session on the keychain entry of a live one:
//! JobAdder's refresh tokens rotate, so when the setup check's session
//! refreshes an expired token, the live session's refresh token dies. The
//! live session then takes the new one from the keychain instead of asking
//! the user to sign in again, and the next call is logged. Against the
//! sandbox over loopback, with the real keychain (a file of its own: it
//! signs in to JobAdder).

mod support;

use callcard_engine::setup_check::{CheckId, Outcome};
use serde_json::json;
use support::{jobadder_notes, sign_in, start, until_jobadder_note};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_check_refreshing_the_token_leaves_the_live_session_working() {
    let running = start("jobadder").await;
    let mut settings = running.engine.settings();
    settings.settle_delay_secs = 0;
    running.engine.save_settings(&settings).unwrap();
    sign_in(&running, "jobadder").await;
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
    let call_id = running.sandbox.driver().answered(mobile, 1001, 2001).unwrap();
    until_jobadder_note(&running, call_id, 60, "the call is logged by the live session").await;
    assert_eq!(jobadder_notes(&running, call_id).await, 1);
    let history = running.engine.service().history(5).unwrap();
    assert!(
        history.waiting.iter().all(|w| w.crm != "jobadder"),
        "no new sign-in asked for: {:?}",
        history.waiting
    );
    drop(running.sandbox);
    running.engine.shutdown().await;
}
