//! Stateful simulators of the Aircall, JobAdder and Sellsy APIs on loopback,
//! for tests, the demo mode and benchmarks.
//!
//! One listening address serves the three APIs under path prefixes
//! (`/aircall`, `/jobadder`, `/sellsy`), their OAuth endpoints, and a control
//! API under `/_sandbox/` that drives scenarios (calls that ring, SMS, CRM
//! records), injects faults and reports what was received. The simulators
//! follow the vendors' published documents — shapes, paging, status codes,
//! rate-limit headers — closely enough that code which passes against them
//! works against the real services. They never talk to a real account, and
//! nothing here is meant to be secure: credentials are fixed test values.

// Handlers answer early with a ready `Response` as their error: the axum way,
// and the size of that error does not matter on a test server.
#![allow(clippy::result_large_err)]

mod aircall;
pub mod clock;
pub mod company;
mod control;
mod faults;
mod http;
mod jobadder;
mod limits;
mod oauth;
mod remote;
pub mod scenario;
pub mod seed;
mod sellsy;
mod server;
mod state;
pub mod webhooks;

/// The sandbox JobAdder account's name (`GET /users/current`).
pub use jobadder::ACCOUNT_NAME as JOBADDER_ACCOUNT_NAME;
pub use limits::LimitsConfig;
pub use remote::{browser, Control, SentRequest};
pub use state::Credentials;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// `127.0.0.1:0` picks a free port.
    pub addr: SocketAddr,
    /// The seed of the generated CRM data and Aircall set-up: same seed, same world.
    pub seed: u64,
    /// How many CRM records of each kind to generate (the demo uses a few thousand in all).
    pub records_per_kind: usize,
    pub limits: LimitsConfig,
    /// OAuth authorize pages approve at once (tests, demo) or show an Approve button.
    pub auto_approve: bool,
    /// Lifetime of OAuth access tokens, seconds (JobAdder: 3600).
    pub access_token_secs: i64,
    /// The first id of the Aircall calls and contacts it creates (900001
    /// unless set). Aircall never reuses an id; a sandbox started again over
    /// the same app data (the demo) must not either.
    pub first_aircall_id: Option<i64>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 42,
            records_per_kind: 400,
            limits: LimitsConfig::default(),
            auto_approve: true,
            access_token_secs: 3600,
            first_aircall_id: None,
        }
    }
}

/// A running sandbox. Dropping it does not stop it; call [`Sandbox::stop`].
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<state::Shared>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Sandbox {
    /// Binds, seeds the world and starts serving.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(state::Shared::new(&config, addr));
        let shutdown = CancellationToken::new();
        let router = http::router(shared.clone());
        let task = tokio::spawn(server::serve(listener, router, shutdown.clone()));
        tracing::info!(%addr, seed = config.seed, "sandbox listening");
        Ok(Self {
            addr,
            shared,
            shutdown,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the root of every prefix.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where Aircall's webhooks go (the demo's in-process hub), as the
    /// control API's `POST /webhooks` sets it.
    pub fn deliver_webhooks_to(&self, target: webhooks::Target) {
        self.shared.webhooks.set(target);
    }

    /// Drives calls in-process, without HTTP (the demo mode, Rust tests).
    pub fn driver(&self) -> scenario::Driver {
        scenario::Driver::new(self.shared.clone())
    }

    /// The test credentials the sandbox accepts.
    pub fn credentials(&self) -> Credentials {
        self.shared.credentials.clone()
    }

    /// Everything an app needs to connect, as `(CALLCARD_…, value)` pairs.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let base = self.url();
        let c = &self.shared.credentials;
        let email = self.shared.default_user_email();
        vec![
            ("CALLCARD_SANDBOX_URL", base.clone()),
            ("CALLCARD_AIRCALL_API_URL", format!("{base}/aircall")),
            ("CALLCARD_AIRCALL_API_ID", c.aircall_api_id.clone()),
            ("CALLCARD_AIRCALL_API_TOKEN", c.aircall_api_token.clone()),
            ("CALLCARD_AIRCALL_USER_EMAIL", email),
            (
                "CALLCARD_JOBADDER_AUTHORIZE_URL",
                format!("{base}/jobadder/id/connect/authorize"),
            ),
            (
                "CALLCARD_JOBADDER_TOKEN_URL",
                format!("{base}/jobadder/id/connect/token"),
            ),
            ("CALLCARD_JOBADDER_CLIENT_ID", c.jobadder_client_id.clone()),
            (
                "CALLCARD_JOBADDER_CLIENT_SECRET",
                c.jobadder_client_secret.clone(),
            ),
            ("CALLCARD_JOBADDER_API_URL", format!("{base}/jobadder/v2")),
            // The sandbox takes any loopback port back (a real JobAdder only
            // the registered one): sign-ins in parallel tests never collide.
            ("CALLCARD_JOBADDER_REDIRECT_PORT", "0".into()),
            (
                "CALLCARD_SELLSY_AUTHORIZE_URL",
                format!("{base}/sellsy/login/oauth2/authorization"),
            ),
            (
                "CALLCARD_SELLSY_TOKEN_URL",
                format!("{base}/sellsy/login/oauth2/access-tokens"),
            ),
            ("CALLCARD_SELLSY_CLIENT_ID", c.sellsy_client_id.clone()),
            ("CALLCARD_SELLSY_API_URL", format!("{base}/sellsy/v2")),
            ("CALLCARD_SELLSY_REDIRECT_PORT", "0".into()),
        ]
    }

    /// One variable of [`Sandbox::env`] (empty when there is none).
    pub fn var(&self, key: &str) -> String {
        self.env()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    /// The control API over HTTP.
    pub fn control(&self) -> Control {
        Control::new(&self.url())
    }

    /// Writes [`Sandbox::env`] as `KEY=value` lines.
    pub fn write_env_file(&self, path: &Path) -> std::io::Result<()> {
        let text: String = self.env().iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(path, text)
    }

    /// Stops serving; open connections are dropped.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}
