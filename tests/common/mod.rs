//! What the app's integration tests share: a sandbox, a fresh Callcard home
//! with settings, the real binary started headless with CRM sign-ins handed
//! over as refresh tokens, the sandbox's control API, and scripted calls.

#![allow(dead_code)] // each test file uses its own part

use callcard_core::settings::Settings;
use callcard_sandbox::scenario::{CallAction, NewCall};
use callcard_sandbox::Sandbox;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct World {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
    pub home: tempfile::TempDir,
}

/// The Aircall user at this computer in the sandbox.
pub const AGENT: i64 = 2001;

/// How an Aircall call ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Answered,
    Missed,
    Voicemail,
}

impl World {
    pub async fn start(settings: Settings) -> Self {
        let (sandbox, home) = callcard_test_support::sandbox_and_home(20, &settings).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { sandbox, http, home }
    }

    pub fn env(&self, key: &str) -> String {
        self.sandbox.var(key)
    }

    /// A refresh token, as a sign-in in the browser would give the app
    /// (`crm`: `JOBADDER` with its client secret, `SELLSY` with PKCE).
    pub async fn refresh_token(&self, crm: &str) -> String {
        let var = |key: &str| self.env(&format!("CALLCARD_{crm}_{key}"));
        let redirect = "http://127.0.0.1:9/callback";
        let pkce = callcard_oauth::Pkce::new();
        let mut query = vec![
            ("response_type", "code".to_owned()),
            ("client_id", var("CLIENT_ID")),
            ("redirect_uri", redirect.to_owned()),
            ("state", "s".to_owned()),
        ];
        if crm == "SELLSY" {
            query.push(("code_challenge", pkce.challenge.clone()));
            query.push(("code_challenge_method", "S256".to_owned()));
        }
        let authorize = self
            .http
            .get(var("AUTHORIZE_URL"))
            .query(&query)
            .send()
            .await
            .unwrap();
        let location = authorize.headers()["location"].to_str().unwrap().to_owned();
        let url = url::Url::parse(&location).unwrap();
        let code = url
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", redirect.to_owned()),
            ("client_id", var("CLIENT_ID")),
        ];
        if crm == "SELLSY" {
            form.push(("code_verifier", pkce.verifier.clone()));
        } else {
            form.push(("client_secret", var("CLIENT_SECRET")));
        }
        let token: Value = self
            .http
            .post(var("TOKEN_URL"))
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        token["refresh_token"].as_str().unwrap().to_owned()
    }

    /// The binary, headless, signed in to each of `crms` (`JOBADDER`, `SELLSY`).
    pub async fn app(&self, crms: &[&str]) -> App {
        self.app_with(crms, &[]).await
    }

    /// As [`Self::app`], with more variables.
    pub async fn app_with(&self, crms: &[&str], vars: &[(&str, &str)]) -> App {
        let mut tokens = Vec::new();
        for crm in crms {
            tokens.push((crm.to_string(), self.refresh_token(crm).await));
        }
        self.app_with_tokens(&tokens, vars)
    }

    /// The binary, headless, handed these refresh tokens (`(CRM, token)`).
    pub fn app_with_tokens(&self, tokens: &[(String, String)], vars: &[(&str, &str)]) -> App {
        self.app_in(self.home.path(), tokens, vars)
    }

    /// As [`Self::app_with_tokens`], on another computer: its own data
    /// folder `home` (settings saved there first) and its own keychain group.
    pub fn app_in(&self, home: &std::path::Path, tokens: &[(String, String)], vars: &[(&str, &str)]) -> App {
        let mut command = Command::new(env!("CARGO_BIN_EXE_callcard"));
        let keychain = if home == self.home.path() {
            self.keychain_service()
        } else {
            let name = home
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{}-{name}", self.keychain_service())
        };
        command
            .args(["--headless", "--events"])
            .arg(home.join("events.jsonl"))
            .env("CALLCARD_HOME", home)
            .envs(self.sandbox.env())
            .env("CALLCARD_KEYCHAIN_SERVICE", keychain)
            .env("CALLCARD_AI_RETRY_SECS", "1")
            // Each write looked up first, without the wait for its turn
            // (tests/hub.rs measures the turns themselves).
            .env("CALLCARD_STAGGER_STEP_MS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (crm, token) in tokens {
            command.env(format!("CALLCARD_{crm}_REFRESH_TOKEN"), token);
        }
        command.envs(vars.iter().copied());
        App::spawn(&mut command)
    }

    /// This world's own keychain group. Tests run in parallel against
    /// sandboxes that all name the same JobAdder client (the "account"), so
    /// one shared group let one test's app refresh with another's rotated
    /// token and stall on `invalid_grant`.
    pub fn keychain_service(&self) -> String {
        let port = self.sandbox.url().rsplit(':').next().unwrap_or("0").to_owned();
        format!("callcard-test-{}-{port}", std::process::id())
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.sandbox.control().call(method, path, body).await.unwrap()
    }

    /// The sandbox's state, without the Aircall calls (see `/_sandbox/state`).
    pub async fn state(&self) -> Value {
        self.sandbox.control().get("/state?calls=false").await.unwrap()
    }

    /// A CRM record; returns its id.
    pub async fn add_record(&self, crm: &str, kind: &str, region: &str, fields: Value) -> i64 {
        self.sandbox
            .control()
            .add_record(crm, kind, region, fields)
            .await
            .unwrap()
    }

    /// A call from or to `number` that ends as `ending`, with a comment.
    pub fn call(&self, direction: &str, number: &str, number_id: i64, ending: Ending) -> i64 {
        let driver = self.sandbox.driver();
        let outbound = direction == "outbound";
        let call = driver
            .ring(NewCall {
                direction: direction.into(),
                external_number: number.into(),
                number_id,
                user_id: outbound.then_some(AGENT),
            })
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        match ending {
            Ending::Answered => {
                driver
                    .act(call, CallAction::Answer { user_id: Some(AGENT) })
                    .unwrap();
                driver
                    .act(
                        call,
                        CallAction::Comment {
                            content: "Available from Monday".into(),
                        },
                    )
                    .unwrap();
                driver.act(call, CallAction::Hangup { reason: None }).unwrap();
            }
            Ending::Missed => {
                driver.act(call, CallAction::Hangup { reason: None }).unwrap();
            }
            Ending::Voicemail => {
                driver.act(call, CallAction::Voicemail).unwrap();
            }
        }
        call
    }

    /// An inbound call from `number`, answered by the agent, with a comment.
    pub fn answered_call(&self, number: &str, number_id: i64) -> i64 {
        self.call("inbound", number, number_id, Ending::Answered)
    }

    /// Asks `look` until it finds what it wants, for at most a minute.
    pub async fn wait_for<T, F>(&self, what: &str, look: impl FnMut() -> F) -> T
    where
        F: std::future::Future<Output = Option<T>>,
    {
        self.wait_for_secs(what, 60, look).await
    }

    /// As [`Self::wait_for`], for at most `secs`.
    pub async fn wait_for_secs<T, F>(&self, what: &str, secs: u64, mut look: impl FnMut() -> F) -> T
    where
        F: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(found) = look().await {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{what}\napp log:\n{}\nlast events:\n{}",
                self.log_tail(),
                self.events()
                    .iter()
                    .rev()
                    .take(5)
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The app's log so far (its files in the state folder).
    pub fn app_log(&self) -> String {
        std::fs::read_dir(self.home.path().join("state/logs"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The end of the app's log, for a failing assertion's message.
    pub fn log_tail(&self) -> String {
        let log = self.app_log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.home.path().join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The JobAdder notes that log `call_id`.
    pub async fn notes_for(&self, call_id: i64) -> Vec<Value> {
        callcard_test_support::jobadder_notes_logging(&self.state().await, call_id)
    }

    pub async fn wait_notes(&self, call_id: i64, until: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let until = &until;
        self.wait_for(&format!("call {call_id}: the notes"), || async move {
            let notes = self.notes_for(call_id).await;
            until(&notes).then_some(notes)
        })
        .await
    }

    /// The phone calls in Sellsy that log `call_id`.
    pub async fn phone_calls_for(&self, call_id: i64) -> Vec<Value> {
        callcard_test_support::sellsy_phone_calls_logging(&self.state().await, call_id)
    }

    pub async fn wait_phone_calls(&self, call_id: i64, until: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let until = &until;
        self.wait_for(&format!("call {call_id}: the phone calls"), || async move {
            let found = self.phone_calls_for(call_id).await;
            until(&found).then_some(found)
        })
        .await
    }

    /// Every JobAdder note body the app sent validates against JobAdder's
    /// OpenAPI document (skipped, saying so, without ../shared/specs).
    pub async fn validate_note_bodies(&self) {
        let Some(spec) = callcard_spec_check::Spec::load("jobadder-v2.openapi.json") else {
            return;
        };
        let mut checked = 0;
        for (method, path, body) in self.sent_bodies("jobadder").await {
            let operation = match (method.as_str(), path.as_str()) {
                ("POST", p) if p.contains("/candidates/") && p.ends_with("/notes") => {
                    ("/candidates/{candidateId}/notes", "post")
                }
                ("POST", p) if p.contains("/contacts/") && p.ends_with("/notes") => {
                    ("/contacts/{contactId}/notes", "post")
                }
                ("PUT", p) if p.contains("/notes/") => ("/notes/{noteId}", "put"),
                _ => continue,
            };
            let validator = spec.request(operation.0, operation.1);
            callcard_spec_check::assert_valid(&validator, &body, &format!("{method} {path}"));
            checked += 1;
        }
        assert!(checked > 0, "no note was sent");
    }

    /// The caller's Aircall contacts once contact sync made one (it runs
    /// beside logging, on the Aircall budget, so it may come after the note).
    pub async fn wait_aircall_contact(&self, e164: &str) -> Vec<Value> {
        self.wait_for(&format!("the Aircall contact of {e164}"), || async move {
            let found = aircall_contacts_with(&self.state().await, e164);
            (!found.is_empty()).then_some(found)
        })
        .await
    }

    /// Every phone-call body the app sent validates against Sellsy's document.
    /// The requests the sandbox received for `api`, with their JSON bodies.
    pub async fn sent_bodies(&self, api: &str) -> Vec<(String, String, Value)> {
        let sent = self.sandbox.control().sent(api).await.unwrap();
        sent.into_iter().map(|r| (r.method, r.path, r.body)).collect()
    }
}

/// The Aircall contacts carrying `e164` (any format), in the sandbox's state.
pub fn aircall_contacts_with(state: &Value, e164: &str) -> Vec<Value> {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    state["aircall"]["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["phone_numbers"].as_array().is_some_and(|p| {
                p.iter()
                    .any(|n| digits(n["value"].as_str().unwrap_or("")) == digits(e164))
            })
        })
        .cloned()
        .collect()
}

/// The app under test. A test that fails before [`stop`] still ends it, so
/// no stray `callcard` outlives the test run.
pub struct App(Option<Child>);

impl App {
    /// Starts `command` (the binary) under this guard.
    pub fn spawn(command: &mut Command) -> Self {
        Self(Some(command.spawn().unwrap()))
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Stops the app as the desktop would (SIGTERM); it must exit cleanly.
pub fn stop(mut app: App) {
    let Some(mut child) = app.0.take() else { return };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

pub fn fast_settings() -> Settings {
    Settings {
        polling_budget_per_minute: 120,
        settle_delay_secs: 0,
        ..Settings::default()
    }
}
