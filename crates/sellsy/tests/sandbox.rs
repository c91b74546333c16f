//! The Sellsy connector against the sandbox over loopback HTTP: the real
//! OAuth dance with PKCE through the loopback listener, the account from
//! `staffs/me`, the phone index over contacts, companies and individuals,
//! the priority rules on a shared number, the opportunity, one phone call
//! per call (and one update), owners, and every request body validated
//! against Sellsy's OpenAPI document.

use callcard_core::activity::{Agent, AiData, Direction, FinalCall, Outcome};
use callcard_core::call_log::CallLog;
use callcard_core::clock::SystemClock;
use callcard_core::crm::{Crm, RecordKind};
use callcard_core::dispatcher::{Dispatcher, RetryPolicy};
use callcard_core::phone::E164;
use callcard_core::settings::Settings;
use callcard_core::Store;
use callcard_sandbox::{Control, Sandbox, SandboxConfig};
use callcard_sellsy::Sellsy;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Fixture {
    _sandbox: Sandbox,
    control: Control,
    crm: Arc<Sellsy>,
    store: Arc<Mutex<Store>>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let sandbox = Sandbox::start(SandboxConfig {
        records_per_kind: 150,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    // The real sign-in with PKCE through the loopback listener.
    let crm = callcard_test_support::sellsy(&sandbox, "FR").await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(Store::open(&dir.path().join("callcard.db")).unwrap()));
    Fixture {
        control: sandbox.control(),
        _sandbox: sandbox,
        crm: Arc::new(crm),
        store,
        _dir: dir,
    }
}

impl Fixture {
    async fn add(&self, kind: &str, fields: Value) -> i64 {
        self.control
            .add_record("sellsy", kind, "FR", fields)
            .await
            .unwrap()
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.control.call(method, path, body).await.unwrap()
    }

    /// The phone calls in Sellsy whose description logs `call_id`.
    async fn phone_calls_of(&self, call_id: i64) -> Vec<Value> {
        let state = self.control.state().await.unwrap();
        callcard_test_support::sellsy_phone_calls_logging(&state, call_id)
    }

    fn call_log(&self) -> CallLog {
        CallLog::new(self.store.clone(), self.crm.clone())
    }

    fn dispatcher(&self) -> Dispatcher {
        Dispatcher::new(
            self.store.clone(),
            self.crm.clone(),
            Arc::new(SystemClock),
            RetryPolicy::default(),
            None,
        )
    }
}

fn call(id: i64, direction: Direction, outcome: Outcome, agent: Option<&str>) -> FinalCall {
    FinalCall {
        call_id: id,
        direction,
        outcome,
        started_at: 1_767_000_000,
        duration_secs: 95,
        number_name: "Sales line".into(),
        agent: agent.map(|email| Agent {
            name: "Agent".into(),
            email: Some(email.into()),
        }),
        team: Some("Sales".into()),
        tags: vec!["Demo".into()],
        comments: vec!["Wants a quote".into()],
        dashboard_link: Some(format!("https://dashboard.aircall.io/calls/{id}")),
        recording_link: None,
        ai: None,
    }
}

fn number(text: &str) -> E164 {
    E164::parse(text, None).unwrap()
}

/// A company, an individual and a contact (linked to another company, with
/// opportunities) share one number, each stored in its own form.
struct Shared {
    contact: i64,
    company: i64,
    individual: i64,
    linked_company: i64,
    open_opportunity: i64,
}

async fn shared_number(f: &Fixture) -> Shared {
    let company = f
        .add(
            "company",
            json!({"name": "Rival SA", "phone_number": "+33 1 84 88 12 34"}),
        )
        .await;
    let individual = f
        .add(
            "individual",
            json!({"first_name": "Jo", "last_name": "Seul", "mobile_number": "01 84 88 12 34"}),
        )
        .await;
    let linked_company = f.add("company", json!({"name": "Acme France"})).await;
    let contact = f
        .add(
            "contact",
            json!({"first_name": "Léa", "last_name": "Durand", "email": "lea@acme.fr",
                   "position": "Buyer", "phone_number": "+33184881234", "company_ids": [linked_company],
                   "owner": {"id": 303, "type": "staff"}}),
        )
        .await;
    let related = json!([{"type": "company", "id": linked_company}]);
    f.add(
        "opportunity",
        json!({"name": "Old deal", "status": "open", "contact_ids": [contact], "related": related}),
    )
    .await;
    let open_opportunity = f
        .add(
            "opportunity",
            json!({"name": "Renewal 2027", "status": "open", "contact_ids": [contact], "related": related}),
        )
        .await;
    f.add(
        "opportunity",
        json!({"name": "Won deal", "status": "won", "contact_ids": [contact], "related": related}),
    )
    .await;
    Shared {
        contact,
        company,
        individual,
        linked_company,
        open_opportunity,
    }
}

#[tokio::test]
async fn the_account_comes_from_staffs_me_and_every_key_holds_it() {
    let f = fixture().await;
    let account = f.crm.account();
    assert_eq!(
        (account.crm.as_str(), account.account.as_str()),
        ("sellsy", "48213")
    );
}

#[tokio::test]
async fn a_shared_number_ranks_contact_individual_company_and_logs_one_call_with_the_opportunity() {
    let f = fixture().await;
    let shared = shared_number(&f).await;
    let log = f.call_log();
    let seen = log.refresh_index(1_800_000_000_000).await.unwrap();
    assert!(
        seen >= 304,
        "the index read contacts, companies and individuals: {seen}"
    );

    let caller = number("+33184881234");
    let card = log
        .card_for(501, &caller, callcard_core::activity::Direction::Inbound, 0)
        .await
        .unwrap();
    assert!(
        card.from_index,
        "companies and individuals come only from the index"
    );
    let kinds: Vec<RecordKind> = card.matches.iter().map(|m| m.record.kind).collect();
    assert_eq!(
        kinds,
        vec![RecordKind::Contact, RecordKind::Individual, RecordKind::Company]
    );
    assert_eq!(card.matches[2].record.id, shared.company.to_string());
    assert_eq!(card.matches[1].record.id, shared.individual.to_string());

    // The live search completes the contact: company and best open opportunity.
    assert!(log.complete_card(501, &caller, 0).await.unwrap().is_some());
    let card = f.store.lock().unwrap().card(501, "sellsy").unwrap().unwrap();
    let contact = &card.matches[0];
    assert_eq!(contact.record.id, shared.contact.to_string());
    assert_eq!(contact.company.as_deref(), Some("Acme France"));
    let opportunity = contact.opportunity.as_ref().expect("the open opportunity");
    assert_eq!(opportunity.name, "Renewal 2027");
    assert_eq!(
        opportunity.link.as_deref(),
        Some(format!("https://www.sellsy.com/opportunities/{}", shared.open_opportunity).as_str())
    );

    let settings = Settings::default();
    let answered = call(
        501,
        Direction::Inbound,
        Outcome::Answered,
        Some("sam.weber@callcard.test"),
    );
    assert_eq!(
        log.log_final(&answered, Some(&caller), &settings, 0)
            .await
            .unwrap(),
        1
    );
    // A second run (a crash before the call was marked logged) adds nothing.
    assert_eq!(
        log.log_final(&answered, Some(&caller), &settings, 0)
            .await
            .unwrap(),
        1
    );
    f.dispatcher().run_once().await.unwrap();
    let ours = f.phone_calls_of(501).await;
    assert_eq!(ours.len(), 1, "exactly one phone call");
    let pc = &ours[0];
    let related: Vec<(String, i64)> = pc["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["type"].as_str().unwrap().to_owned(), r["id"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        related,
        vec![
            ("contact".to_owned(), shared.contact),
            ("opportunity".to_owned(), shared.open_opportunity),
            ("company".to_owned(), shared.linked_company),
        ]
    );
    assert_eq!(pc["owner_id"], 302, "the staff member with the agent's e-mail");
    assert_eq!(
        (pc["result"].as_str(), pc["source"].as_str()),
        (Some("connected"), Some("incoming"))
    );
    assert_eq!(pc["duration"], 95, "the whole Aircall duration");

    // AI data later: the same phone call is updated, once.
    let mut with_ai = answered.clone();
    with_ai.ai = Some(AiData {
        summary: Some("Asked for a quote.".into()),
        topics: vec!["pricing".into()],
        sentiment: Some("POSITIVE".into()),
    });
    assert_eq!(
        log.log_ai(&with_ai, Some(&caller), &settings, 0).await.unwrap(),
        1
    );
    f.dispatcher().run_once().await.unwrap();
    let ours = f.phone_calls_of(501).await;
    assert_eq!(ours.len(), 1, "still one phone call");
    let description = ours[0]["description"].as_str().unwrap();
    assert!(
        description.contains("AI summary: Asked for a quote."),
        "{description}"
    );
    assert!(description.contains("Sentiment: positive"));
    let puts = f
        .control
        .sent("sellsy")
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .count();
    assert_eq!(puts, 1, "one update");

    // The user's pick wins over the rules: the company gets the next call.
    let company = card
        .matches
        .iter()
        .find(|m| m.record.kind == RecordKind::Company)
        .unwrap();
    let writes = f.crm.call_writes(
        &call(502, Direction::Outbound, Outcome::Answered, None),
        &card.matches,
        Some(&company.record),
        &settings,
        callcard_core::activity::LogOptions {
            ai: false,
            recording_link: false,
        },
    );
    assert_eq!(writes.len(), 1);
    assert_eq!(
        writes[0].1.payload["related"],
        json!([{"id": shared.company, "type": "company"}])
    );
    assert_eq!(writes[0].1.payload["source"], "outcoming");
    validate_sent(&f).await;
}

#[tokio::test]
async fn results_sources_and_owners_follow_the_mapping_table() {
    let f = fixture().await;
    let shared = shared_number(&f).await;
    let log = f.call_log();
    let caller = number("+33184881234");
    let settings = Settings::default();
    let cases = [
        (
            601,
            Direction::Inbound,
            Outcome::Missed,
            None,
            "noanswer",
            "incoming",
            303,
        ),
        (
            602,
            Direction::Outbound,
            Outcome::Answered,
            Some("robin.taylor@callcard.test"),
            "connected",
            "outcoming",
            304,
        ),
        (
            603,
            Direction::Inbound,
            Outcome::Voicemail,
            None,
            "msgvocal",
            "incoming",
            303,
        ),
        // An agent unknown to Sellsy: the contact's owner.
        (
            604,
            Direction::Inbound,
            Outcome::Answered,
            Some("temp@elsewhere.test"),
            "connected",
            "incoming",
            303,
        ),
    ];
    for (id, direction, outcome, agent, ..) in cases {
        log.log_final(&call(id, direction, outcome, agent), Some(&caller), &settings, 0)
            .await
            .unwrap();
    }
    f.dispatcher().run_once().await.unwrap();
    for (id, _, _, _, result, source, owner) in cases {
        let logged = f.phone_calls_of(id).await;
        let pc = logged.first().unwrap_or_else(|| panic!("call {id} was logged"));
        assert_eq!(pc["result"], result, "call {id}");
        assert_eq!(pc["source"], source, "call {id}");
        assert_eq!(pc["owner_id"], owner, "call {id}: owner");
        assert_eq!(pc["related"][0]["id"], shared.contact);
    }
    validate_sent(&f).await;
}

#[tokio::test]
async fn an_ambiguous_write_is_found_again_and_not_doubled() {
    let f = fixture().await;
    shared_number(&f).await;
    let log = f.call_log();
    let caller = number("+33184881234");
    // The phone call is saved, then the connection drops before the answer.
    f.control(
        reqwest::Method::POST,
        "/faults",
        json!({"api": "sellsy", "endpoint": "/v2/phone-calls", "method": "POST", "kind": "reset", "next": 1}),
    )
    .await;
    log.log_final(
        &call(701, Direction::Inbound, Outcome::Answered, None),
        Some(&caller),
        &Settings::default(),
        0,
    )
    .await
    .unwrap();
    let first = f.dispatcher().run_once().await.unwrap();
    assert!(
        matches!(first[0].1, callcard_core::dispatcher::Outcome::Retry(_)),
        "{first:?}"
    );
    // Due again: the dispatcher looks it up by its call line first.
    let dispatcher = Dispatcher::new(
        f.store.clone(),
        f.crm.clone(),
        Arc::new(callcard_core::clock::ManualClock::at(i64::MAX / 4)),
        RetryPolicy::default(),
        None,
    );
    let second = dispatcher.run_once().await.unwrap();
    assert!(
        matches!(second[0].1, callcard_core::dispatcher::Outcome::AlreadyThere(_)),
        "{second:?}"
    );
    assert_eq!(f.phone_calls_of(701).await.len(), 1);
}

#[tokio::test]
async fn a_spent_quota_holds_requests_back_instead_of_earning_429s() {
    let f = fixture().await;
    f.control(reqwest::Method::POST, "/limits", json!({"sellsy_per_second": 2}))
        .await;
    // The earlier requests were counted under the old quota: start in a fresh second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    f.control(reqwest::Method::DELETE, "/requests", Value::Null).await;
    let caller = number("+33184881234");
    for _ in 0..3 {
        f.crm.lookup(&caller).await.unwrap();
    }
    let stats = f.control(reqwest::Method::GET, "/stats", Value::Null).await;
    let refused = stats["apis"]["sellsy"]["throttled"].as_u64().unwrap();
    assert_eq!(refused, 0, "stats: {stats}");
    let hint = f.crm.rate_hint().expect("quota headers were read");
    assert!(hint.remaining <= 2);
}

/// Every body the connector sent validates against Sellsy's document.
async fn validate_sent(f: &Fixture) {
    let Some(spec) = callcard_spec_check::Spec::load("sellsy-v2.openapi.yaml") else {
        return;
    };
    let sent = f.control.sent("sellsy").await.unwrap();
    assert!(!sent.is_empty());
    for callcard_sandbox::SentRequest { method, path, body } in sent {
        let route = path.trim_start_matches("/sellsy/v2");
        let (template, verb) = match (method.as_str(), route) {
            ("POST", "/phone-calls") => ("/phone-calls", "post"),
            ("PUT", p) if p.starts_with("/phone-calls/") => ("/phone-calls/{id}", "put"),
            ("POST", "/contacts/search") => ("/contacts/search", "post"),
            ("POST", "/companies/search") => ("/companies/search", "post"),
            ("POST", "/individuals/search") => ("/individuals/search", "post"),
            ("POST", "/opportunities/search") => ("/opportunities/search", "post"),
            ("POST", "/phone-calls/search") => ("/phone-calls/search", "post"),
            other => panic!("a body sent to an unexpected place: {other:?}"),
        };
        callcard_spec_check::assert_valid(&spec.request(template, verb), &body, &format!("{method} {route}"));
    }
}

#[tokio::test]
async fn rotating_refresh_tokens_keep_working_and_a_revoked_login_asks_for_a_reconnect() {
    let f = fixture().await;
    shared_number(&f).await;
    let caller = number("+33184881234");
    // Two expiries in a row: the second refresh uses the token the first one rotated in.
    for round in 1..=2 {
        f.control(reqwest::Method::POST, "/oauth/sellsy/expire", json!({}))
            .await;
        assert!(!f.crm.lookup(&caller).await.unwrap().is_empty(), "round {round}");
        assert_eq!(f.crm.session().refreshes(), round, "one refresh per expiry");
    }
    f.control(reqwest::Method::POST, "/oauth/sellsy/revoke", json!({}))
        .await;
    f.control(reqwest::Method::POST, "/oauth/sellsy/expire", json!({}))
        .await;
    match f.crm.lookup(&caller).await {
        Err(callcard_core::crm::CrmError::NeedsReconnect(why)) => assert!(why.contains("Sellsy"), "{why}"),
        other => panic!("expected a reconnect, got {other:?}"),
    }
}
