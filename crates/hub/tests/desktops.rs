//! What each desktop gets from the hub over a scripted day of a company's
//! calls (the sandbox's Aircall delivering to the hub): only its own user's
//! events — none of another user's — and, after being away while ten
//! minutes of the company's traffic came in, every missed event exactly
//! once, in order, when it comes back.

use callcard_aircall::hub::{HubClient, HubEvent};
use callcard_hub::{EventLog, LocalHub, SqliteEventLog};
use callcard_sandbox::scenario::{CallAction, NewCall};
use callcard_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

const WEBHOOK_TOKEN: &str = "company-webhook-token";

/// The sandbox's users and their numbers (everybody is on the Paris ring
/// group, 1001; each has one more line).
const ALEX: (i64, &[i64]) = (2001, &[1001, 1002]);
const SAM: (i64, &[i64]) = (2002, &[1001, 1003]);
const JO: (i64, &[i64]) = (2003, &[1001, 1002]);

struct Company {
    sandbox: Sandbox,
    hub: LocalHub,
    _dir: tempfile::TempDir,
}

impl Company {
    async fn start() -> Self {
        let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let hub = LocalHub::start(
            "127.0.0.1:0".parse().unwrap(),
            &dir.path().join("hub.sqlite3"),
            WEBHOOK_TOKEN,
        )
        .await
        .unwrap();
        sandbox.deliver_webhooks_to(callcard_sandbox::webhooks::Target::any_event(
            hub.webhook_url(),
            WEBHOOK_TOKEN,
        ));
        Self {
            sandbox,
            hub,
            _dir: dir,
        }
    }

    fn desktop(&self, (user, numbers): (i64, &[i64])) -> HubClient {
        let token = self
            .hub
            .add_desktop(&format!("user{user}@example.com"), user, numbers)
            .unwrap();
        HubClient::new(&self.hub.url(), &token).unwrap()
    }

    fn call(&self, number_id: i64, direction: &str, user: Option<i64>) -> i64 {
        self.sandbox
            .driver()
            .ring(NewCall {
                direction: direction.into(),
                external_number: "+33612345678".into(),
                number_id,
                user_id: user,
            })
            .unwrap()
    }

    fn act(&self, call: i64, action: CallAction) {
        self.sandbox.driver().act(call, action).unwrap();
    }

    /// Every delivery answered: the log holds all the sandbox sent.
    async fn settled(&self) -> Vec<callcard_hub::StoredEvent> {
        let log = SqliteEventLog::open(self.hub.database()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let webhooks = self.sandbox.control().get("/webhooks").await.unwrap();
            let sent = webhooks["deliveries"].as_array().unwrap().len();
            // Deliveries run in the background: equal counts while some are
            // still on their way is not "settled".
            let in_flight = webhooks["in_flight"].as_u64().unwrap();
            let stored = log.after(0, 100_000).unwrap();
            if sent > 0 && in_flight == 0 && stored.len() == sent {
                return stored;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {sent} deliveries stored",
                stored.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Whether an event is this user's, decided here from what Aircall sent
/// (an AI result by its call's last call event before it).
fn is_theirs(
    event: &callcard_hub::StoredEvent,
    calls: &HashMap<i64, Value>,
    (user, numbers): (i64, &[i64]),
) -> bool {
    let call = if event.resource == "call" {
        &event.data
    } else {
        match event.data["call_id"].as_i64().and_then(|id| calls.get(&id)) {
            Some(call) => call,
            None => return false,
        }
    };
    call["user"]["id"].as_i64() == Some(user)
        || call["transferred_to"]["id"].as_i64() == Some(user)
        || call["number"]["id"]
            .as_i64()
            .is_some_and(|n| numbers.contains(&n))
}

async fn all_pages(desktop: &HubClient) -> Vec<HubEvent> {
    let (mut events, mut after) = (Vec::new(), 0);
    loop {
        let (page, next) = desktop.page(after, 50).await.unwrap();
        if page.is_empty() && next == after {
            return events;
        }
        events.extend(page);
        after = next;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_scripted_day_each_desktop_gets_its_users_events_and_none_of_anothers() {
    let company = Company::start().await;
    let desktops = [
        (ALEX, company.desktop(ALEX)),
        (SAM, company.desktop(SAM)),
        (JO, company.desktop(JO)),
    ];

    // The day: Sam's New York line (only Sam of the three is on it), the
    // London desk Alex and Jo share, the Paris ring group everybody is on,
    // Alex's outbound calls, and a New York call Sam transfers to Alex.
    let mut sams_line = Vec::new();
    for i in 0..6 {
        let call = company.call(1003, "inbound", None);
        company.act(call, CallAction::Answer { user_id: Some(SAM.0) });
        company.act(call, CallAction::Hangup { reason: None });
        if i % 2 == 0 {
            company.act(
                call,
                CallAction::Ai {
                    summary: Some(format!("Sam's call {i}")),
                    topics: None,
                    sentiment: None,
                },
            );
        }
        sams_line.push(call);
    }
    for _ in 0..6 {
        let call = company.call(1002, "inbound", None);
        company.act(
            call,
            CallAction::Answer {
                user_id: Some(ALEX.0),
            },
        );
        company.act(
            call,
            CallAction::Tags {
                names: vec!["Interview".into()],
            },
        );
        company.act(call, CallAction::Hangup { reason: None });
    }
    for _ in 0..4 {
        let call = company.call(1001, "inbound", None);
        company.act(call, CallAction::Answer { user_id: Some(JO.0) });
        company.act(call, CallAction::Hangup { reason: None });
    }
    for _ in 0..2 {
        let call = company.call(1002, "outbound", Some(ALEX.0));
        company.act(
            call,
            CallAction::Answer {
                user_id: Some(ALEX.0),
            },
        );
        company.act(call, CallAction::Hangup { reason: None });
    }
    let transferred = company.call(1003, "inbound", None);
    company.act(transferred, CallAction::Answer { user_id: Some(SAM.0) });
    company.act(transferred, CallAction::Transfer { user_id: ALEX.0 });
    company.act(transferred, CallAction::Hangup { reason: None });

    let stored = company.settled().await;
    assert!(stored.len() > 80, "a day's events: {}", stored.len());
    for ((user, numbers), desktop) in &desktops {
        // What this user should get, decided from the log in order.
        let mut calls = HashMap::new();
        let mut expected = Vec::new();
        for event in &stored {
            if event.resource == "call" {
                if let Some(id) = event.data["id"].as_i64() {
                    calls.insert(id, event.data.clone());
                }
            }
            if is_theirs(event, &calls, (*user, numbers)) {
                expected.push(event.seq);
            }
        }
        let paged = all_pages(desktop).await;
        let got: Vec<i64> = paged.iter().map(|e| e.seq).collect();
        assert_eq!(got, expected, "user {user}: by page, in order");
        // The stream gives the same, from the start.
        let mut stream = desktop.stream(0).await.unwrap();
        let mut streamed = Vec::new();
        while streamed.len() < expected.len() {
            match stream.next(Duration::from_secs(5)).await.unwrap() {
                Some(event) => streamed.push(event.seq),
                None => break,
            }
        }
        assert_eq!(streamed, expected, "user {user}: by stream");
        let theirs: BTreeSet<i64> = paged
            .iter()
            .filter_map(|e| e.data["id"].as_i64().filter(|_| e.resource == "call"))
            .collect();
        if *user == SAM.0 {
            assert!(sams_line.iter().all(|c| theirs.contains(c)));
            let ai: Vec<&HubEvent> = paged.iter().filter(|e| e.event == "summary.created").collect();
            assert_eq!(ai.len(), 3, "Sam gets the AI results of Sam's calls");
        } else {
            assert!(
                sams_line.iter().all(|c| !theirs.contains(c)),
                "user {user} gets nothing of Sam's line: {theirs:?}"
            );
            assert!(
                paged.iter().all(|e| e.event != "summary.created"),
                "nor its AI results"
            );
        }
        if *user == ALEX.0 {
            // From the transfer on, the New York call is Alex's too (its
            // events may come in any order: each is delivered on its own).
            let of_transfer: Vec<&str> = paged
                .iter()
                .filter(|e| e.data["id"] == transferred)
                .map(|e| e.event.as_str())
                .collect();
            assert!(of_transfer.contains(&"call.transferred"), "{of_transfer:?}");
            assert!(
                !of_transfer.contains(&"call.created"),
                "before the transfer it was Sam's: {of_transfer:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_away_for_ten_minutes_of_traffic_gets_every_missed_event_once_in_order() {
    let company = Company::start().await;
    let alex = company.desktop(ALEX);
    let mut stream = alex.stream(0).await.unwrap();
    let first = company.call(1002, "inbound", None);
    company.act(
        first,
        CallAction::Answer {
            user_id: Some(ALEX.0),
        },
    );
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let event = stream.next(Duration::from_secs(5)).await.unwrap().unwrap();
        seen.push(event);
    }
    let last_seen = seen.last().unwrap().seq;
    // The laptop sleeps: the connection is gone.
    drop(stream);

    // Ten minutes of the company's traffic, delivered by Aircall as it
    // happened (a call every 10 s, timestamps 10 s apart), half of it Alex's.
    let http = reqwest::Client::new();
    let start = 1_790_000_000;
    let mut alexs = 0;
    for i in 0..60_i64 {
        let number = if i % 2 == 0 { 1002 } else { 1003 };
        for event in ["call.created", "call.answered", "call.ended"] {
            let body = json!({"resource": "call", "event": event, "timestamp": start + i * 10, "token": WEBHOOK_TOKEN,
                "data": {"id": 700_000 + i, "direction": "inbound", "user": null, "number": {"id": number}}});
            let answer = http
                .post(company.hub.webhook_url())
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status().as_u16(), 200);
            // Aircall delivers again what it is not sure of: stored once.
            if i % 7 == 0 {
                let again = http
                    .post(company.hub.webhook_url())
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(again.status().as_u16(), 200);
            }
            if number == 1002 {
                alexs += 1;
            }
        }
    }

    // Back: the stream resumes after the last event seen.
    let mut stream = alex.stream(last_seen).await.unwrap();
    let mut missed = Vec::new();
    while missed.len() < alexs + 1 {
        match stream.next(Duration::from_secs(2)).await {
            Ok(Some(event)) => missed.push(event),
            _ => break,
        }
    }
    // The first call's hang-up comes after; nothing else is owed.
    company.act(first, CallAction::Hangup { reason: None });
    while let Ok(Some(event)) = stream.next(Duration::from_secs(2)).await {
        missed.push(event);
        if missed.iter().filter(|e| e.data["id"] == first).count() >= 2 {
            break;
        }
    }
    let seqs: Vec<i64> = missed.iter().map(|e| e.seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seqs, sorted, "in order, each once");
    assert!(
        seqs.iter().all(|s| *s > last_seen),
        "nothing seen before comes again"
    );
    let of_the_ten_minutes = missed
        .iter()
        .filter(|e| {
            e.data["id"]
                .as_i64()
                .is_some_and(|id| (700_000..760_000).contains(&id))
        })
        .count();
    assert_eq!(
        of_the_ten_minutes, alexs,
        "every missed event of Alex's line, once"
    );
    assert!(missed
        .iter()
        .filter(|e| e.data["id"]
            .as_i64()
            .is_some_and(|id| (700_000..760_000).contains(&id)))
        .all(|e| e.data["number"]["id"] == 1002));
    // Paging from the same point agrees.
    let (page, _) = alex.page(last_seen, 1000).await.unwrap();
    assert_eq!(
        page.iter()
            .filter(|e| e.data["id"]
                .as_i64()
                .is_some_and(|id| (700_000..760_000).contains(&id)))
            .count(),
        alexs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_streams_from_one_computer_and_a_revoked_ones_stream_ends_within_five_seconds() {
    let company = Company::start().await;
    let alex = company.desktop(ALEX);
    let on_laptop = alex.clone().on_computer(0x1a2b);
    let on_desktop = alex.clone().on_computer(0x3c4d);
    let first = on_laptop.stream(0).await.unwrap();
    let log = first.log().cloned().expect("the stream names its log");
    let identity = SqliteEventLog::open(company.hub.database())
        .unwrap()
        .identity()
        .unwrap();
    assert_eq!((log.id, log.end), (identity.id, identity.end));
    // The same token on another computer is refused, with the reason.
    match on_desktop.stream(0).await {
        Err(callcard_aircall::hub::HubError::InUseElsewhere(why)) => {
            assert!(why.contains("its own token"), "{why}")
        }
        Ok(_) => panic!("one token streamed from two computers at once"),
        Err(other) => panic!("refused for another reason: {other}"),
    }
    // The same computer reconnecting (killed, on another network): its new
    // stream ends the last one on the hub.
    let mut replaced = on_laptop.stream(0).await.unwrap();
    let mut stream = on_laptop.stream(0).await.unwrap();
    assert!(
        matches!(replaced.next(Duration::from_secs(5)).await, Ok(None)),
        "the older stream of that computer ends"
    );
    // Desktops that do not say their computer are capped per token.
    let mut unnamed = Vec::new();
    loop {
        match alex.stream(0).await {
            Ok(stream) => unnamed.push(stream),
            Err(callcard_aircall::hub::HubError::Status { status: 429, .. }) => break,
            Err(other) => panic!("{other}"),
        }
        assert!(unnamed.len() < 10, "streams per token are capped");
    }
    unnamed.clear();

    let desktops = callcard_hub::Desktops::open(company.hub.database()).unwrap();
    let revoked_at = Instant::now();
    desktops.revoke("user2001@example.com", 1).unwrap();
    let ended = loop {
        match stream.next(Duration::from_secs(20)).await {
            Ok(Some(_)) => continue,
            Ok(None) => break revoked_at.elapsed(),
            Err(error) => panic!("the stream should end, not fail: {error}"),
        }
    };
    assert!(
        ended < Duration::from_secs(5),
        "ended {ended:?} after the revocation"
    );
    assert!(matches!(
        on_laptop.stream(0).await,
        Err(callcard_aircall::hub::HubError::Refused)
    ));
}
