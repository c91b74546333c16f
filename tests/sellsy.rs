//! The real `callcard` binary, headless, against the sandbox with Sellsy
//! connected (and with JobAdder and Sellsy at once): real Aircall calls
//! become exactly one Sellsy phone call each — result and source mapped,
//! owner by the agent's e-mail or the contact's owner, related to the
//! contact, its opportunity and its company — updated once when AI data
//! arrives; every body sent validates against Sellsy's OpenAPI document.

mod common;

use callcard_core::settings::{CrmSelection, Settings};
use callcard_sandbox::scenario::CallAction;
use common::{fast_settings, stop, Ending, World};
use serde_json::{json, Value};
use std::time::Duration;

/// The agent at this computer is Alex Martin: Sellsy staff 301.
const AGENT_STAFF: i64 = 301;

fn sellsy_only() -> Settings {
    Settings {
        crms: CrmSelection::only(["sellsy"]),
        ..fast_settings()
    }
}

impl World {
    async fn validate_sellsy_bodies(&self) -> usize {
        let Some(spec) = callcard_spec_check::Spec::load("sellsy-v2.openapi.yaml") else {
            return 0;
        };
        let mut checked = 0;
        for (method, path, body) in self.sent_bodies("sellsy").await {
            let route = path.trim_start_matches("/sellsy/v2");
            let operation = match (method.as_str(), route) {
                ("POST", "/phone-calls") => ("/phone-calls", "post"),
                ("PUT", p) if p.starts_with("/phone-calls/") => ("/phone-calls/{id}", "put"),
                ("POST", p) if p.ends_with("/search") => (p, "post"),
                _ => continue,
            };
            callcard_spec_check::assert_valid(
                &spec.request(operation.0, operation.1),
                &body,
                &format!("{method} {route}"),
            );
            checked += 1;
        }
        checked
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_become_one_sellsy_phone_call_each_mapped_owned_related_and_updated_with_ai() {
    let world = World::start(sellsy_only()).await;
    let company = world
        .add_record("sellsy", "company", "FR", json!({"name": "Acme France"}))
        .await;
    let contact = world
        .add_record(
            "sellsy",
            "contact",
            "FR",
            json!({"first_name": "Léa", "last_name": "Durand", "email": "lea@acme.fr",
                   "mobile_number": "+33 6 55 44 33 22", "company_ids": [company],
                   "owner": {"id": 303, "type": "staff"}}),
        )
        .await;
    let opportunity = world
        .add_record(
            "sellsy",
            "opportunity",
            "FR",
            json!({"name": "Renewal 2027", "status": "open", "contact_ids": [contact],
                   "related": [{"type": "company", "id": company}]}),
        )
        .await;
    let app = world.app(&["SELLSY"]).await;

    let number = "+33 6 55 44 33 22";
    // The answered call rings until its insight card is posted: the app may
    // still be starting (signing in to Sellsy, reading its staff) when it
    // rings, and a card is only posted while the call is live.
    let driver = world.sandbox.driver();
    let answered = driver
        .ring(callcard_sandbox::scenario::NewCall {
            direction: "inbound".into(),
            external_number: number.into(),
            number_id: 1001,
            user_id: None,
        })
        .unwrap();
    world
        .wait_for("the insight card while the call rings", || async {
            world.state().await["aircall"]["insight_cards"]
                .as_array()
                .is_some_and(|cards| cards.iter().any(|c| c["call_id"] == answered))
                .then_some(())
        })
        .await;
    driver
        .act(
            answered,
            CallAction::Answer {
                user_id: Some(common::AGENT),
            },
        )
        .unwrap();
    driver
        .act(
            answered,
            CallAction::Comment {
                content: "Available from Monday".into(),
            },
        )
        .unwrap();
    driver.act(answered, CallAction::Hangup { reason: None }).unwrap();
    let missed = world.call("inbound", number, 1001, Ending::Missed);
    let voicemail = world.call("inbound", number, 1001, Ending::Voicemail);
    let outbound = world.call("outbound", number, 1001, Ending::Answered);
    // (call, result, source, owner): DESIGN §1.4's table, on real calls.
    let table = [
        (answered, "connected", "incoming", AGENT_STAFF),
        (missed, "noanswer", "incoming", 303),
        (voicemail, "msgvocal", "incoming", 303),
        (outbound, "connected", "outcoming", AGENT_STAFF),
    ];
    for (call, result, source, owner) in table {
        let found = world.wait_phone_calls(call, |pcs| !pcs.is_empty()).await;
        assert_eq!(found.len(), 1, "call {call}: one phone call");
        let pc = &found[0];
        assert_eq!(pc["result"], result, "call {call}");
        assert_eq!(pc["source"], source, "call {call}");
        assert_eq!(pc["owner_id"], owner, "call {call}: the owner");
        assert_eq!(
            pc["related"],
            json!([{"id": contact, "type": "contact"}, {"id": opportunity, "type": "opportunity"},
                   {"id": company, "type": "company"}]),
            "call {call}: the contact, its opportunity and its company"
        );
        assert!(
            pc["duration"].as_i64().unwrap() >= 1,
            "the whole Aircall duration"
        );
    }
    // The card was ready while it rang and posted to Aircall once.
    assert!(world
        .events()
        .iter()
        .any(|e| e["kind"] == "card_ready" && e["call_id"] == answered));
    let state = world.state().await;
    let cards: Vec<&Value> = state["aircall"]["insight_cards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["call_id"] == answered)
        .collect();
    assert_eq!(cards.len(), 1, "{cards:?}");
    assert_eq!(cards[0]["contents"][0]["text"], "Léa Durand");
    let contents = cards[0]["contents"].as_array().unwrap();
    let deal = contents.iter().find(|l| l["label"] == "Opportunity");
    assert_eq!(
        deal.map(|l| (l["text"].clone(), l["link"].clone())),
        Some((
            json!("Renewal 2027"),
            json!(format!("https://www.sellsy.com/opportunities/{opportunity}"))
        )),
        "the insight card carries the opportunity: {contents:?}"
    );

    // AI data later: the same phone call gains it, once.
    world
        .sandbox
        .driver()
        .act(
            answered,
            CallAction::Ai {
                summary: Some("Asked for a quote".into()),
                topics: Some(vec!["pricing".into()]),
                sentiment: Some("POSITIVE".into()),
            },
        )
        .unwrap();
    let updated = world
        .wait_phone_calls(answered, |pcs| {
            pcs.iter().any(|pc| {
                pc["description"]
                    .as_str()
                    .unwrap_or("")
                    .contains("AI summary: Asked for a quote")
            })
        })
        .await;
    assert_eq!(updated.len(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let puts = world
        .sent_bodies("sellsy")
        .await
        .into_iter()
        .filter(|(method, _, _)| method == "PUT")
        .count();
    assert_eq!(puts, 1, "one update");
    for (call, ..) in table {
        assert_eq!(world.phone_calls_for(call).await.len(), 1, "still one for {call}");
    }
    stop(app);
    assert!(world.validate_sellsy_bodies().await > 0 || callcard_spec_check::specs_dir().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_both_crms_on_one_call_is_logged_once_in_each() {
    let world = World::start(Settings {
        crms: CrmSelection::only(["jobadder", "sellsy"]),
        ..fast_settings()
    })
    .await;
    let candidate = world
        .add_record(
            "jobadder",
            "candidate",
            "GB",
            json!({"firstName": "Sam", "lastName": "Both", "mobile": "07400 555005"}),
        )
        .await;
    let contact = world
        .add_record(
            "sellsy",
            "contact",
            "GB",
            json!({"first_name": "Sam", "last_name": "Both", "mobile_number": "+447400555005"}),
        )
        .await;
    let app = world.app(&["JOBADDER", "SELLSY"]).await;
    let call = world.answered_call("+44 7400 555005", 1001);
    let found = world.wait_phone_calls(call, |pcs| !pcs.is_empty()).await;
    assert_eq!(found[0]["related"][0], json!({"id": contact, "type": "contact"}));
    let reference = format!("aircall-call-{call}");
    let notes = world
        .wait_for("the JobAdder note", || async {
            let notes: Vec<Value> = world.state().await["jobadder"]["notes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|n| n["reference"] == reference.as_str())
                .collect();
            (!notes.is_empty()).then_some(notes)
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["record_id"], candidate);
    assert_eq!(world.phone_calls_for(call).await.len(), 1);
    stop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_while_sellsy_cannot_say_who_is_connected_still_logs_under_the_kept_account() {
    let world = World::start(sellsy_only()).await;
    let contact = world
        .add_record(
            "sellsy",
            "contact",
            "FR",
            json!({"first_name": "Noé", "last_name": "Martin", "mobile_number": "+33 6 55 44 33 11"}),
        )
        .await;
    // A first start reads the account and keeps it.
    let app = world.app(&["SELLSY"]).await;
    let first = world.answered_call("+33 6 55 44 33 11", 1001);
    world.wait_phone_calls(first, |pcs| !pcs.is_empty()).await;
    stop(app);

    // Sellsy then fails `staffs/me` (and only that): the app starts anyway.
    world
        .control(
            reqwest::Method::POST,
            "/faults",
            json!({"api": "sellsy", "endpoint": "/v2/staffs/me", "kind": "503", "fraction": 1.0}),
        )
        .await;
    let app = world.app(&["SELLSY"]).await;
    let second = world.answered_call("+33 6 55 44 33 11", 1001);
    let logged = world.wait_phone_calls(second, |pcs| !pcs.is_empty()).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0]["related"][0], json!({"id": contact, "type": "contact"}));
    assert_eq!(
        logged[0]["owner_id"], AGENT_STAFF,
        "the staff list came with the index refresh"
    );
    stop(app);
    let log = world.log_tail();
    assert!(
        log.contains("starting with the account kept from last time"),
        "the second start could not read staffs/me: {log}"
    );
}
