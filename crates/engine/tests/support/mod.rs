//! What the engine's tests share: an engine watching the sandbox with one
//! CRM selected, a JobAdder sign-in as the connect window makes it, and
//! waiting for what they should come to. Each test file uses part of it.
#![allow(dead_code)]

use callcard_core::settings::CrmSelection;
use callcard_core::{Paths, Settings};
use callcard_engine::{Engine, EngineOptions, Environment};
use callcard_sandbox::Sandbox;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Running {
    pub sandbox: Sandbox,
    pub engine: Arc<Engine>,
    pub env: Environment,
    _home: tempfile::TempDir,
}

/// An engine watching the sandbox's Aircall with `crm` selected and its
/// OAuth client in the environment, not signed in yet.
pub async fn start(crm: &'static str) -> Running {
    let settings = Settings {
        crms: CrmSelection::only([crm]),
        ..Settings::default()
    };
    let (sandbox, home) = callcard_test_support::sandbox_and_home(10, &settings).await;
    let prefix = format!("CALLCARD_{}_", crm.to_uppercase());
    let env = Environment::from_pairs(
        sandbox
            .env()
            .into_iter()
            .filter(|(key, _)| key.starts_with("CALLCARD_AIRCALL_") || key.starts_with(&prefix))
            // Each write looked up first, without waiting for its turn.
            .chain([("CALLCARD_STAGGER_STEP_MS", "0".to_owned())]),
    );
    let engine = Engine::start(
        &Paths::under(home.path()),
        EngineOptions {
            accounts: true,
            env: env.clone(),
            ..EngineOptions::default()
        },
    )
    .unwrap();
    until("calls to be watched", || engine.watching()).await;
    Running {
        sandbox,
        engine,
        env,
        _home: home,
    }
}

pub async fn until<T>(what: &str, mut look: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = look() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn crm_is_logged_to(engine: &Engine, crm: &str) -> Option<()> {
    engine.watching()?.crms.iter().any(|c| c == crm).then_some(())
}

/// Signed in to the sandbox's JobAdder as the connect window would be.
pub async fn signed_in_to_jobadder(
    sandbox: &Sandbox,
) -> (callcard_oauth::OAuthClient, callcard_oauth::TokenSet) {
    let client = callcard_jobadder::oauth_client(
        &sandbox.var("CALLCARD_JOBADDER_AUTHORIZE_URL"),
        &sandbox.var("CALLCARD_JOBADDER_TOKEN_URL"),
        &sandbox.var("CALLCARD_JOBADDER_CLIENT_ID"),
        &sandbox.var("CALLCARD_JOBADDER_CLIENT_SECRET"),
    );
    let tokens = callcard_oauth::sign_in(
        &client,
        callcard_oauth::Proof::ClientSecret,
        0,
        callcard_sandbox::browser(),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    (client, tokens)
}

/// Signs `running` in to `crm` as the connect window does, and waits until
/// its calls are logged there.
pub async fn sign_in(running: &Running, crm: &str) {
    running
        .engine
        .connect_crm_with(crm, callcard_sandbox::browser())
        .await
        .expect("the sign-in");
    until("the CRM to join the watch", || {
        crm_is_logged_to(&running.engine, crm)
    })
    .await;
}

/// How many notes in the sandbox's JobAdder log `call_id`.
pub async fn jobadder_notes(running: &Running, call_id: i64) -> usize {
    let state = running.sandbox.control().get("/state?calls=false").await.unwrap();
    callcard_test_support::jobadder_notes_logging(&state, call_id).len()
}

/// Waits up to `secs` for a JobAdder note logging `call_id` (`what` says
/// why one is due; the engine's history is shown if none comes).
pub async fn until_jobadder_note(running: &Running, call_id: i64, secs: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while jobadder_notes(running, call_id).await == 0 {
        assert!(
            Instant::now() < deadline,
            "{what}: {:#?}",
            running.engine.service().history(5)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
