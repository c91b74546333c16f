//! Following a team hub from the settings window: a wrong or stray token is
//! refused before anything is kept, a good one goes to the keychain and calls
//! start coming from the hub without a restart; the settings form cannot undo
//! it; stopping puts polling back. Against the sandbox and an in-process hub
//! over loopback, with the real keychain.

use callcard_core::settings::CrmSelection;
use callcard_core::{CallSource, Paths, Settings};
use callcard_engine::{Engine, EngineOptions, Environment};
use callcard_hub::LocalHub;
use std::time::{Duration, Instant};

async fn until<T>(what: &str, mut look: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = look() {
            return found;
        }
        assert!(Instant::now() < deadline, "waited too long for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_is_followed_with_a_token_it_takes_and_left_for_polling_again() {
    let settings = Settings {
        crms: CrmSelection::only(["jobadder"]),
        ..Settings::default()
    };
    let (sandbox, home) = callcard_test_support::sandbox_and_home(5, &settings).await;
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start(
        "127.0.0.1:0".parse().unwrap(),
        &hub_dir.path().join("hub.sqlite3"),
        "w",
    )
    .await
    .unwrap();
    let token = hub
        .add_desktop(&sandbox.var("CALLCARD_AIRCALL_USER_EMAIL"), 2001, &[1001, 1002])
        .unwrap();
    let env = Environment::from_pairs(
        sandbox
            .env()
            .into_iter()
            .filter(|(key, _)| key.starts_with("CALLCARD_AIRCALL_")),
    );
    let engine = Engine::start(
        &Paths::under(home.path()),
        EngineOptions {
            accounts: true,
            env,
            ..EngineOptions::default()
        },
    )
    .unwrap();
    // The test keyring is shared by the whole run: no hub token left by another test.
    callcard_engine::hub_account::forget_hub_token(&callcard_secrets::Keychain::app()).unwrap();
    until("calls to be watched", || engine.watching()).await;
    assert_eq!(engine.hub().source, CallSource::Polling);
    assert!(!engine.hub().has_token);

    let refused = engine
        .connect_hub(&hub.url(), "cch_not-this-one")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "hub_token_refused");
    let stray = engine.connect_hub(&hub.url(), "hello").await.unwrap_err();
    assert_eq!(stray.code(), "hub_token_invalid");
    let nowhere = engine
        .connect_hub("http://127.0.0.1:9", &token)
        .await
        .unwrap_err();
    assert_eq!(nowhere.code(), "hub_unreachable");
    assert_eq!(engine.settings().team_hub_url, "", "nothing kept from a refusal");
    assert!(!engine.hub().has_token);

    let form_opened_before = engine.settings();
    engine
        .connect_hub(&format!("{}/", hub.url()), &token)
        .await
        .unwrap();
    let view = engine.hub();
    assert_eq!(view.url, hub.url());
    assert!(view.has_token);
    until("calls from the hub", || {
        (engine.hub().source == CallSource::Hub).then_some(())
    })
    .await;
    // A form opened before does not take the hub away when it is saved.
    engine.save_settings(&form_opened_before).unwrap();
    assert_eq!(engine.settings().team_hub_url, hub.url());
    // The address changes with the saved token kept (a blank token).
    engine.connect_hub(&hub.url(), "").await.unwrap();

    engine.disconnect_hub().unwrap();
    assert_eq!(engine.settings().team_hub_url, "");
    assert!(!engine.hub().has_token, "the token left the keychain");
    until("polling again", || {
        (engine.hub().source == CallSource::Polling).then_some(())
    })
    .await;
    engine.shutdown().await;
    hub.stop().await;
}
