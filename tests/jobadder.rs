//! The real `callcard` binary, headless, against the sandbox with JobAdder
//! connected: final calls become exactly one note on the right record, the
//! AI part is added once it arrives, the duplicates setting is honoured, an
//! expired token is refreshed and a revoked one parks the log until the user
//! reconnects — and every note body validates against JobAdder's document.

use callcard_core::settings::{DuplicateRule, Settings};
use callcard_core::{Paths, Store};
use callcard_sandbox::scenario::{CallAction, NewCall};
use callcard_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct World {
    sandbox: Sandbox,
    http: reqwest::Client,
    home: tempfile::TempDir,
}

const AGENT: i64 = 2001;

impl World {
    async fn start(settings: Settings) -> Self {
        let sandbox = Sandbox::start(SandboxConfig {
            records_per_kind: 20,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let home = tempfile::tempdir().unwrap();
        let paths = Paths::under(home.path());
        paths.create_all().unwrap();
        Store::open(&paths.database())
            .unwrap()
            .save_settings(&settings, 0)
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { sandbox, http, home }
    }

    fn env(&self, key: &str) -> String {
        self.sandbox
            .env()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .unwrap()
    }

    /// A refresh token, as a sign-in in the browser would give the app.
    async fn refresh_token(&self) -> String {
        let redirect = "http://127.0.0.1:9/callback";
        let authorize = self
            .http
            .get(self.env("CALLCARD_JOBADDER_AUTHORIZE_URL"))
            .query(&[
                ("response_type", "code"),
                ("client_id", &self.env("CALLCARD_JOBADDER_CLIENT_ID")),
                ("redirect_uri", redirect),
                ("state", "s"),
            ])
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
        let token: Value = self
            .http
            .post(self.env("CALLCARD_JOBADDER_TOKEN_URL"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", &self.env("CALLCARD_JOBADDER_CLIENT_ID")),
                ("client_secret", &self.env("CALLCARD_JOBADDER_CLIENT_SECRET")),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        token["refresh_token"].as_str().unwrap().to_owned()
    }

    async fn app(&self) -> Child {
        let refresh = self.refresh_token().await;
        Command::new(env!("CARGO_BIN_EXE_callcard"))
            .args(["--headless", "--events"])
            .arg(self.home.path().join("events.jsonl"))
            .env("CALLCARD_HOME", self.home.path())
            .envs(self.sandbox.env())
            .env("CALLCARD_JOBADDER_REFRESH_TOKEN", refresh)
            .env("CALLCARD_AI_RETRY_SECS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}/_sandbox{path}", self.sandbox.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "control {path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    async fn record(&self, kind: &str, first: &str, mobile: &str) -> i64 {
        let created = self
            .control(
                reqwest::Method::POST,
                "/records",
                json!({"crm": "jobadder", "type": kind, "region": "GB",
                    "fields": {"firstName": first, "lastName": "Test", "mobile": mobile}}),
            )
            .await;
        created["id"].as_i64().unwrap()
    }

    async fn notes_for(&self, call_id: i64) -> Vec<Value> {
        let state = self.control(reqwest::Method::GET, "/state", Value::Null).await;
        let reference = format!("aircall-call-{call_id}");
        state["jobadder"]["notes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n["reference"] == reference.as_str())
            .collect()
    }

    async fn wait_notes(&self, call_id: i64, until: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let notes = self.notes_for(call_id).await;
            if until(&notes) {
                return notes;
            }
            assert!(
                Instant::now() < deadline,
                "call {call_id}: notes {notes:#?}\napp log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// An inbound call from `number`, answered by the agent, with a comment.
    fn answered_call(&self, number: &str, number_id: i64) -> i64 {
        let driver = self.sandbox.driver();
        let call = driver
            .ring(NewCall {
                direction: "inbound".into(),
                external_number: number.into(),
                number_id,
                user_id: None,
            })
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
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
        call
    }

    /// The end of the app's log, for a failing assertion's message.
    fn log_tail(&self) -> String {
        let log: String = std::fs::read_dir(self.home.path().join("state/logs"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.home.path().join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    async fn validate_note_bodies(&self) {
        let Some(spec) = callcard_spec_check::Spec::load("jobadder-v2.openapi.json") else {
            return;
        };
        let log = self
            .control(reqwest::Method::GET, "/requests?api=jobadder", Value::Null)
            .await;
        let mut checked = 0;
        for request in log["requests"].as_array().unwrap() {
            let path = request["path"].as_str().unwrap();
            let method = request["method"].as_str().unwrap();
            let operation = match (method, path) {
                ("POST", p) if p.contains("/candidates/") && p.ends_with("/notes") => {
                    ("/candidates/{candidateId}/notes", "post")
                }
                ("POST", p) if p.contains("/contacts/") && p.ends_with("/notes") => {
                    ("/contacts/{contactId}/notes", "post")
                }
                ("PUT", p) if p.contains("/notes/") => ("/notes/{noteId}", "put"),
                _ => continue,
            };
            let body: Value = serde_json::from_str(request["body"].as_str().unwrap()).unwrap();
            let validator = spec.request(operation.0, operation.1);
            callcard_spec_check::assert_valid(&validator, &body, &format!("{method} {path}"));
            checked += 1;
        }
        assert!(checked > 0, "no note was sent");
    }
}

/// The Aircall contacts carrying `e164` (any format), in the sandbox's state.
fn aircall_contacts_with(state: &Value, e164: &str) -> Vec<Value> {
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

fn stop(mut app: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &app.id().to_string()])
        .status();
    let status = app.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

fn fast_settings() -> Settings {
    Settings {
        polling_budget_per_minute: 120,
        settle_delay_secs: 0,
        ..Settings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_calls_become_one_note_each_with_ai_added_and_survive_token_expiry_and_revocation() {
    let world = World::start(fast_settings()).await;
    let candidate = world.record("candidate", "Grace", "07400 111001").await;
    let app = world.app().await;

    // An answered call: one note on the candidate, with the agent's comment.
    let call = world.answered_call("+44 7400 111001", 1001);
    let notes = world.wait_notes(call, |n| !n.is_empty()).await;
    assert_eq!(notes.len(), 1);
    let text = notes[0]["text"].as_str().unwrap();
    assert!(text.starts_with("Inbound call, answered"), "{text}");
    assert!(text.contains("Available from Monday"), "{text}");
    assert!(text.contains(&format!("Aircall call {call}")), "{text}");
    assert_eq!(
        (notes[0]["on"].as_str(), notes[0]["record_id"].as_i64()),
        (Some("candidate"), Some(candidate))
    );
    let card = world
        .events()
        .into_iter()
        .find(|e| e["kind"] == "card_ready" && e["call_id"] == call);
    assert!(card.is_some(), "the card was ready while the call rang");
    let state = world.control(reqwest::Method::GET, "/state", Value::Null).await;
    let cards: Vec<&Value> = state["aircall"]["insight_cards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["call_id"] == call)
        .collect();
    assert_eq!(cards.len(), 1, "one insight card: {cards:?}");
    assert_eq!(cards[0]["live"], true, "posted while the call was live");
    assert_eq!(cards[0]["contents"][0]["text"], "Grace Test");
    // Contact sync: one Aircall contact for the number, the JobAdder id in it.
    let synced = aircall_contacts_with(&state, "+447400111001");
    assert_eq!(synced.len(), 1, "{synced:?}");
    let information = synced[0]["information"].as_str().unwrap();
    assert!(
        information.starts_with(&format!("JobAdder candidate {candidate}")),
        "{information}"
    );

    // AI data arrives later: the same note gains it, no second note.
    world
        .sandbox
        .driver()
        .act(
            call,
            CallAction::Ai {
                summary: Some("Agreed an interview on Tuesday".into()),
                topics: None,
                sentiment: None,
            },
        )
        .unwrap();
    let notes = world
        .wait_notes(call, |n| {
            n.iter()
                .any(|x| x["text"].as_str().unwrap_or("").contains("Agreed an interview"))
        })
        .await;
    assert_eq!(notes.len(), 1);

    // The access token expires mid-run: refreshed, the next call still lands.
    world
        .control(reqwest::Method::POST, "/oauth/jobadder/expire", json!({}))
        .await;
    let second = world.answered_call("+44 7400 111001", 1001);
    world.wait_notes(second, |n| n.len() == 1).await;

    // Revoked: nothing can be written; the call waits, it is not lost.
    world
        .control(reqwest::Method::POST, "/oauth/jobadder/revoke", json!({}))
        .await;
    world
        .control(reqwest::Method::POST, "/oauth/jobadder/expire", json!({}))
        .await;
    let third = world.answered_call("+44 7400 111001", 1001);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(world.notes_for(third).await.is_empty());
    stop(app);

    // The user reconnects (a new sign-in): the waiting call lands, once.
    let app = world.app().await;
    world.wait_notes(third, |n| !n.is_empty()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(world.notes_for(third).await.len(), 1);
    assert_eq!(world.notes_for(call).await.len(), 1);
    assert_eq!(world.notes_for(second).await.len(), 1);
    stop(app);
    world.validate_note_bodies().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_go_to_the_most_recent_record_or_nowhere_and_other_numbers_log_nothing() {
    let world = World::start(fast_settings()).await;
    let older = world.record("contact", "Older", "07400 222002").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let newer = world.record("contact", "Newer", "07400 222002").await;
    // Aircall already has a contact with that number: it is overwritten, not doubled.
    let existing: Value = world
        .http
        .post(format!("{}/v1/contacts", world.env("CALLCARD_AIRCALL_API_URL")))
        .basic_auth(world.env("CALLCARD_AIRCALL_API_ID"), Some(world.env("CALLCARD_AIRCALL_API_TOKEN")))
        .json(&json!({"first_name": "Old", "last_name": "Name", "phone_numbers": [{"label": "Work", "value": "+447400222002"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app = world.app().await;
    let call = world.answered_call("+44 7400 222002", 1001);
    let notes = world.wait_notes(call, |n| !n.is_empty()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(world.notes_for(call).await.len(), 1);
    assert_eq!(
        (notes[0]["on"].as_str(), notes[0]["record_id"].as_i64()),
        (Some("contact"), Some(newer)),
        "not {older}"
    );
    let state = world.control(reqwest::Method::GET, "/state", Value::Null).await;
    let synced = aircall_contacts_with(&state, "+447400222002");
    assert_eq!(synced.len(), 1, "one Aircall contact per number: {synced:?}");
    assert_eq!(synced[0]["id"], existing["contact"]["id"]);
    assert_eq!(synced[0]["first_name"], "Newer");

    // A call on a number the person is not on (the New York line) is not theirs.
    let elsewhere = world.answered_call("+44 7400 222002", 1003);
    stop(app);

    let world2 = World::start(Settings {
        duplicate_rule: DuplicateRule::DoNothing,
        ..fast_settings()
    })
    .await;
    world2.record("contact", "One", "07400 333003").await;
    world2.record("contact", "Two", "07400 333003").await;
    let app = world2.app().await;
    let ignored = world2.answered_call("+44 7400 333003", 1001);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !world2
        .events()
        .iter()
        .any(|e| e["kind"] == "call_final" && e["call_id"] == ignored)
    {
        assert!(Instant::now() < deadline, "the call never became final");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        world2.notes_for(ignored).await.is_empty(),
        "do nothing means no note"
    );
    assert!(
        world.notes_for(elsewhere).await.is_empty(),
        "other numbers log nothing"
    );
    stop(app);
}
