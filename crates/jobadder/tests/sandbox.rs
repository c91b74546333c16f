//! The JobAdder connector against the sandbox over loopback HTTP: the real
//! OAuth dance through the loopback listener, lookups, notes (validated
//! against JobAdder's OpenAPI document), token expiry and revocation, 429s
//! and ambiguous failures.

use callcard_core::activity::{Direction, FinalCall, LogOptions, Outcome};
use callcard_core::crm::{Crm, CrmError, RecordKind, RecordRef};
use callcard_core::phone::{Region, E164};
use callcard_jobadder::note_for;
use callcard_jobadder::{note_write, JobAdder, JobAdderConfig};
use callcard_oauth::{LoopbackRedirect, MemoryVault, Session};
use callcard_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

struct Fixture {
    sandbox: Sandbox,
    crm: JobAdder,
}

/// The whole sign-in: the test plays the browser, following the sandbox's
/// redirect to the app's loopback listener.
async fn sign_in(sandbox: &Sandbox, http: &reqwest::Client) -> Arc<Session> {
    let client = callcard_jobadder::oauth_client(
        &sandbox.var("CALLCARD_JOBADDER_AUTHORIZE_URL"),
        &sandbox.var("CALLCARD_JOBADDER_TOKEN_URL"),
        &sandbox.var("CALLCARD_JOBADDER_CLIENT_ID"),
        &sandbox.var("CALLCARD_JOBADDER_CLIENT_SECRET"),
    );
    let redirect = LoopbackRedirect::bind().await.unwrap();
    let redirect_uri = redirect.redirect_uri();
    let state = callcard_oauth::new_state();
    let link = client.authorize_link(&redirect_uri, &state, None).unwrap();
    let waiting = tokio::spawn({
        let state = state.clone();
        async move { redirect.wait_for_code(&state, Duration::from_secs(10)).await }
    });
    let page = http.get(&link).send().await.unwrap();
    assert!(page.status().is_success(), "the browser lands on the app's page");
    assert!(page.text().await.unwrap().contains("connected"));
    let code = waiting.await.unwrap().unwrap();
    let tokens = client.exchange_code(&code, &redirect_uri, None).await.unwrap();
    assert!(
        tokens.api.as_deref().unwrap().ends_with("/jobadder/v2"),
        "the account's API base comes with the token"
    );
    let session = Arc::new(Session::new(client, Arc::new(MemoryVault::default())));
    session.connect(tokens).await.unwrap();
    session
}

async fn fixture() -> Fixture {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap();
    let session = sign_in(&sandbox, &http).await;
    let crm = JobAdder::new(
        session,
        JobAdderConfig {
            api_url: sandbox.var("CALLCARD_JOBADDER_API_URL"),
            app_url: "https://app.jobadder.com".into(),
            default_region: Region::parse("GB").ok(),
            account: "sandbox".into(),
        },
    );
    Fixture { sandbox, crm }
}

impl Fixture {
    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.sandbox.control().call(method, path, body).await.unwrap()
    }

    async fn add_candidate(&self, mobile: &str) -> i64 {
        let fields = json!({"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com", "mobile": mobile});
        self.sandbox
            .control()
            .add_record("jobadder", "candidate", "GB", fields)
            .await
            .unwrap()
    }

    async fn notes(&self) -> Vec<Value> {
        let state = self.sandbox.control().state().await.unwrap();
        state["jobadder"]["notes"].as_array().cloned().unwrap_or_default()
    }

    async fn sent_bodies(&self, path_part: &str) -> Vec<Value> {
        let sent = self.sandbox.control().sent("jobadder").await.unwrap();
        sent.into_iter()
            .filter(|r| r.method == "POST" && r.path.contains(path_part))
            .map(|r| r.body)
            .collect()
    }
}

fn call(id: i64) -> FinalCall {
    FinalCall {
        call_id: id,
        direction: Direction::Inbound,
        outcome: Outcome::Answered,
        started_at: 1_767_000_000,
        duration_secs: 125,
        number_name: "Recruitment line".into(),
        agent: Some(callcard_core::activity::Agent {
            name: "Alex Agent".into(),
            email: Some("alex@example.com".into()),
        }),
        team: None,
        tags: vec!["Interview".into()],
        comments: vec!["Starts Monday".into()],
        dashboard_link: Some(format!("https://dashboard.aircall.io/calls/{id}")),
        recording_link: None,
        ai: None,
    }
}

#[tokio::test]
async fn a_candidate_is_found_by_number_and_a_note_lands_once_with_a_valid_body() {
    let f = fixture().await;
    let id = f.add_candidate("07400 900123").await;
    let number = E164::parse("+447400900123", None).unwrap();
    let found = f.crm.lookup(&number).await.unwrap();
    let hit = found
        .iter()
        .find(|r| r.record.id == id.to_string())
        .expect("the new candidate");
    assert_eq!(hit.record.kind, RecordKind::Candidate);
    assert_eq!(hit.name, "Grace Hopper");
    assert_eq!(
        hit.link.as_deref(),
        Some(format!("https://app.jobadder.com/candidates/{id}").as_str())
    );

    let note = note_for(
        &call(9001),
        LogOptions {
            ai: true,
            recording_link: false,
        },
    );
    let write = note_write(&hit.record, &note);
    assert_eq!(f.crm.find_by_reference(&write).await.unwrap(), None);
    let remote = f.crm.write_call(&write).await.unwrap();
    let again = f
        .crm
        .find_by_reference(&write)
        .await
        .unwrap()
        .expect("found by its reference");
    assert_eq!(again.id, remote.id);
    let notes = f.notes().await;
    let landed: Vec<&Value> = notes
        .iter()
        .filter(|n| n["reference"] == "aircall-call-9001")
        .collect();
    assert_eq!(landed.len(), 1);
    assert!(landed[0]["text"].as_str().unwrap().contains("Starts Monday"));

    // What the connector sent is what JobAdder documents.
    if let Some(spec) = callcard_spec_check::Spec::load("jobadder-v2.openapi.json") {
        let validator = spec.request("/candidates/{candidateId}/notes", "post");
        let bodies = f.sent_bodies("/notes").await;
        assert!(!bodies.is_empty());
        for body in bodies {
            callcard_spec_check::assert_valid(&validator, &body, "the note body");
        }
    }
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_a_revoked_one_asks_for_a_reconnect() {
    let f = fixture().await;
    let number = E164::parse("+447400900124", None).unwrap();
    f.add_candidate("+44 7400 900124").await;
    f.control(reqwest::Method::POST, "/oauth/jobadder/expire", json!({}))
        .await;
    assert_eq!(
        f.crm.lookup(&number).await.unwrap().len(),
        1,
        "refreshed after the 401"
    );
    assert_eq!(f.crm.session().refreshes(), 1);
    f.control(reqwest::Method::POST, "/oauth/jobadder/expire", json!({}))
        .await;
    f.control(reqwest::Method::POST, "/oauth/jobadder/revoke", json!({}))
        .await;
    match f.crm.lookup(&number).await {
        Err(CrmError::NeedsReconnect(_)) => {}
        other => panic!("expected a reconnect, got {other:?}"),
    }
}

#[tokio::test]
async fn throttling_and_lost_answers_map_to_what_the_outbox_does() {
    let f = fixture().await;
    let id = f.add_candidate("07400 900125").await;
    let target = RecordRef {
        kind: RecordKind::Candidate,
        id: id.to_string(),
    };
    let write = note_write(
        &target,
        &note_for(
            &call(9002),
            LogOptions {
                ai: false,
                recording_link: false,
            },
        ),
    );
    f.control(
        reqwest::Method::POST,
        "/faults",
        json!({"api": "jobadder", "kind": "429", "retry_after": 7, "next": 1}),
    )
    .await;
    assert_eq!(
        f.crm.write_call(&write).await,
        Err(CrmError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        })
    );
    f.control(
        reqwest::Method::POST,
        "/faults",
        json!({"api": "jobadder", "kind": "reset", "next": 1}),
    )
    .await;
    assert!(matches!(
        f.crm.write_call(&write).await,
        Err(CrmError::Ambiguous(_))
    ));
    // The write happened before the reset: the lookup finds it, so nothing is written twice.
    assert!(f.crm.find_by_reference(&write).await.unwrap().is_some());
    let notes = f.notes().await;
    assert_eq!(
        notes
            .iter()
            .filter(|n| n["reference"] == "aircall-call-9002")
            .count(),
        1
    );
}

#[tokio::test]
async fn the_change_feed_pages_through_contacts_then_candidates() {
    let f = fixture().await;
    let mut cursor: Option<String> = None;
    let mut kinds = std::collections::BTreeMap::new();
    loop {
        let page = f.crm.changed_since(0, cursor.as_deref()).await.unwrap();
        for r in &page.records {
            *kinds.entry(format!("{:?}", r.record.kind)).or_insert(0) += 1;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(kinds.get("Contact"), Some(&400));
    assert_eq!(kinds.get("Candidate"), Some(&400));
}

#[tokio::test]
async fn an_sms_conversation_note_keeps_a_users_edit_and_takes_no_line_twice() {
    let f = fixture().await;
    f.add_candidate("07400 900124").await;
    let number = E164::parse("+447400900124", None).unwrap();
    let matches = f.crm.lookup(&number).await.unwrap();
    let settings = callcard_core::Settings::default();
    let write = |text: &str| {
        f.crm
            .sms_writes(text, "aircall-sms-SM1", &matches, None, &settings)
            .remove(0)
            .1
    };
    let f = &f;
    let text_of = |id: String| async move {
        let notes = f.notes().await;
        notes
            .iter()
            // The conversation's note: the only one with this reference here.
            .find(|n| n["reference"] == "aircall-sms-SM1" && !id.is_empty())
            .and_then(|n| n["text"].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let first = f.crm.write_sms(None, &write("L1")).await.unwrap();
    // Someone adds to the note in JobAdder.
    f.crm
        .update_call(&first, &write("L1\ncalled back, all good"))
        .await
        .unwrap();
    let again = f.crm.write_sms(Some(&first), &write("L1\nL2")).await.unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(
        text_of(first.id.clone()).await,
        "L1\ncalled back, all good\nL2",
        "the edit stays"
    );
    let puts = || async {
        f.sandbox
            .control()
            .sent("jobadder")
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.method == "PUT")
            .count()
    };
    let before = puts().await;
    // The same write again (a retry after a crash): nothing changes.
    f.crm.write_sms(Some(&first), &write("L1\nL2")).await.unwrap();
    assert_eq!(puts().await, before, "no write when every line is there");
    assert_eq!(text_of(first.id.clone()).await, "L1\ncalled back, all good\nL2");
}

#[tokio::test]
async fn a_note_is_found_again_by_its_reference_among_150_notes_of_the_record() {
    let f = fixture().await;
    f.control(
        reqwest::Method::POST,
        "/limits",
        json!({"jobadder_per_minute": 100_000}),
    )
    .await;
    f.add_candidate("07400 900150").await;
    let number = E164::parse("+447400900150", None).unwrap();
    let matches = f.crm.lookup(&number).await.unwrap();
    let settings = callcard_core::Settings::default();
    let write = |reference: &str| {
        f.crm
            .sms_writes("a line", reference, &matches, None, &settings)
            .remove(0)
            .1
    };
    for i in 0..149 {
        f.crm
            .write_sms(None, &write(&format!("other-{i}")))
            .await
            .unwrap();
    }
    // Ours is the 150th: past the first page of 100.
    let ours = write("aircall-sms-SM150");
    let written = f.crm.write_sms(None, &ours).await.unwrap();
    let found = f.crm.find_by_reference(&ours).await.unwrap();
    assert_eq!(found.map(|r| r.id), Some(written.id));
    assert_eq!(
        f.crm.find_by_reference(&write("never-written")).await.unwrap(),
        None
    );
    let lookups: Vec<String> = f
        .sandbox
        .control()
        .requests("jobadder")
        .await
        .unwrap()
        .into_iter()
        .filter(|(method, path, _)| method == "GET" && path.ends_with("/notes"))
        .map(|(_, _, query)| query)
        .collect();
    assert!(!lookups.is_empty());
    assert!(
        lookups.iter().all(|q| q.contains("Reference=")),
        "looked up with the API's filter: {lookups:?}"
    );
}

#[tokio::test]
async fn the_signed_in_account_is_the_one_jobadder_names_not_the_oauth_client() {
    let f = fixture().await;
    let identity = f
        .crm
        .identify()
        .await
        .unwrap()
        .expect("the sandbox names its account");
    assert_eq!(identity.account, callcard_sandbox::JOBADDER_ACCOUNT_NAME);
    assert!(identity.user_id.is_some(), "{identity:?}");
    f.control(
        reqwest::Method::PUT,
        "/jobadder/account",
        json!({"name": "Another\u{202E} Recruitment\nCo"}),
    )
    .await;
    let other = f.crm.identify().await.unwrap().unwrap();
    assert_eq!(other.account, "Another Recruitment Co", "one line of plain text");
}
