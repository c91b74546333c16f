//! Every setting that shapes watching applies as soon as it is saved, with
//! no restart: the engine, against the sandbox over loopback, watches again
//! with the new value (who, which numbers, pace, delays, region, CRMs).

use callcard_core::settings::CrmSelection;
use callcard_core::tracker::CallEvent;
use callcard_core::{Paths, ServiceEvent, Settings};
use callcard_engine::{crms, Engine, EngineOptions, Environment, Watching};
use callcard_sandbox::scenario::NewCall;
use callcard_sandbox::Sandbox;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Running {
    sandbox: Sandbox,
    engine: Arc<Engine>,
    _home: tempfile::TempDir,
}

/// A sandbox, and an engine connected to its Aircall with `settings` saved
/// before the start; returns once calls are watched. Only the CRMs in
/// `configured` have an OAuth client in the engine's environment.
async fn start(settings: Settings) -> Running {
    start_with_crms(settings, &[]).await
}

async fn start_with_crms(settings: Settings, configured: &[&str]) -> Running {
    let (sandbox, home) = callcard_test_support::sandbox_and_home(10, &settings).await;
    let paths = Paths::under(home.path());
    let engine = Engine::start(
        &paths,
        EngineOptions {
            accounts: true,
            env: Environment::from_pairs(sandbox.env().into_iter().filter(|(key, _)| {
                key.starts_with("CALLCARD_AIRCALL_")
                    || configured
                        .iter()
                        .any(|crm| key.starts_with(&format!("CALLCARD_{crm}_")))
            })),
            ..EngineOptions::default()
        },
    )
    .unwrap();
    until("calls to be watched", || engine.watching()).await;
    Running {
        sandbox,
        engine,
        _home: home,
    }
}

/// JobAdder is selected but has no OAuth client in the engine's
/// environment, so each test is about Aircall alone unless it says otherwise.
fn aircall_only() -> Settings {
    Settings::default()
}

async fn until<T>(what: &str, mut look: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = look() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Saves a change, then waits until the watch in progress shows it.
async fn change_and_see(
    running: &Running,
    change: impl FnOnce(&mut Settings),
    applied: impl Fn(&Watching) -> bool,
) -> Arc<Watching> {
    let mut settings = running.engine.settings();
    change(&mut settings);
    running.engine.save_settings(&settings).unwrap();
    until("the change to apply", || {
        running.engine.watching().filter(|w| applied(w))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polling_budget_applies_without_a_restart() {
    let running = start(Settings {
        polling_budget_per_minute: 10,
        ..aircall_only()
    })
    .await;
    assert_eq!(running.engine.watching().unwrap().poller.budget_per_minute, 10);
    change_and_see(
        &running,
        |s| s.polling_budget_per_minute = 25,
        |w| w.poller.budget_per_minute == 25,
    )
    .await;
    running.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settle_delay_applies_without_a_restart() {
    let running = start(aircall_only()).await;
    assert_eq!(running.engine.watching().unwrap().poller.settle_ms, 60_000);
    change_and_see(
        &running,
        |s| s.settle_delay_secs = 5,
        |w| w.poller.settle_ms == 5_000,
    )
    .await;
    running.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_look_back_applies_without_a_restart() {
    let running = start(aircall_only()).await;
    assert_eq!(
        running.engine.watching().unwrap().poller.look_back_ms,
        7 * 86_400_000
    );
    change_and_see(
        &running,
        |s| s.look_back_days = 2,
        |w| w.poller.look_back_ms == 2 * 86_400_000,
    )
    .await;
    running.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_wait_applies_without_a_restart() {
    let running = start(aircall_only()).await;
    let before = running.engine.watching().unwrap().poller.ai_wait_ms;
    change_and_see(
        &running,
        |s| s.ai_wait_minutes = 5,
        |w| w.poller.ai_wait_ms == 5 * 60_000,
    )
    .await;
    assert_ne!(before, 5 * 60_000);
    running.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_country_applies_without_a_restart() {
    let running = start(Settings {
        default_region: "FR".into(),
        ..aircall_only()
    })
    .await;
    change_and_see(
        &running,
        |s| s.default_region = "GB".into(),
        |w| w.default_region == "GB",
    )
    .await;
    running.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aircall_email_applies_without_a_restart() {
    let running = start(Settings {
        aircall_user_email: "alex.martin@callcard.test".into(),
        ..aircall_only()
    })
    .await;
    assert_eq!(running.engine.aircall_user(), Some(2001));
    let mut settings = running.engine.settings();
    settings.aircall_user_email = "sam.weber@callcard.test".into();
    running.engine.save_settings(&settings).unwrap();
    until("the other user to be watched", || {
        running.engine.watching().filter(|w| w.poller.user_id == 2002)
    })
    .await;
    assert_eq!(running.engine.aircall_user(), Some(2002));
    running.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connected_numbers_apply_without_a_restart() {
    let running = start(Settings {
        connected_numbers: vec![1002],
        ..aircall_only()
    })
    .await;
    let mut events = running.engine.subscribe();
    change_and_see(
        &running,
        |s| s.connected_numbers = vec![1001],
        |w| w.poller.connected_numbers == [1001],
    )
    .await;
    // A call on the number now followed rings on this desktop.
    let call_id = running
        .sandbox
        .driver()
        .ring(NewCall {
            direction: "inbound".into(),
            external_number: "+33 6 12 34 56 78".into(),
            number_id: 1001,
            user_id: None,
        })
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the call on the newly followed number rings here")
            .unwrap();
        if event
            == (ServiceEvent::Call {
                event: CallEvent::CallRinging { call_id },
                t_ms: match &event {
                    ServiceEvent::Call { t_ms, .. } => *t_ms,
                    _ => 0,
                },
            })
        {
            break;
        }
    }
    running.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crm_choice_applies_without_a_restart() {
    let running = start_with_crms(
        Settings {
            crms: CrmSelection::only(["sellsy"]),
            ..Settings::default()
        },
        &["JOBADDER", "SELLSY"],
    )
    .await;
    // Signed in to both CRMs as the connect window does it (tokens in the keychain).
    let env = Environment::from_pairs(running.sandbox.env());
    for &plugin in crms::CRMS {
        let config = crms::crm_env(plugin, env.lookup()).unwrap();
        let session = crms::keychain_session(&config, callcard_secrets::Keychain::app());
        crms::sign_in(&config, &session, callcard_sandbox::browser())
            .await
            .unwrap();
    }
    let crms_now = |w: &Watching| {
        let mut crms = w.crms.clone();
        crms.sort();
        crms
    };
    let select = |ids: &'static [&'static str]| {
        move |s: &mut Settings| s.crms = CrmSelection::only(ids.iter().copied())
    };
    change_and_see(&running, select(&["jobadder"]), |w| crms_now(w) == ["jobadder"]).await;
    change_and_see(&running, select(&["sellsy"]), |w| crms_now(w) == ["sellsy"]).await;
    change_and_see(&running, select(&["jobadder", "sellsy"]), |w| {
        crms_now(w) == ["jobadder", "sellsy"]
    })
    .await;
    running.engine.shutdown().await;
}
