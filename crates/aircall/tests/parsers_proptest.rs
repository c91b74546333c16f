//! Property tests (#17) of what the app reads from Aircall and the hub: call,
//! user and number JSON (as the API answers it, with any field replaced,
//! removed or of another type, and plain garbage), and webhook events as the
//! hub pushes them. Whatever the input: a typed error or a value the rest of
//! the app can use without panicking (the final call, its log text, the SMS
//! line). 10,000 cases each, with a fixed seed.

use callcard_aircall::hub::{HubEvent, Pushed};
use callcard_aircall::model::{Call, Number, User};
use callcard_core::activity::{call_text, LogOptions};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const CASES: u32 = 10_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x00a1_c411),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, a few levels deep, with extreme numbers and odd text.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(-1i64), Just(0i64)].prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,24}".prop_map(Value::from),
        Just(Value::from("<script>alert(1)</script>\u{202E}\u{0000}")),
    ];
    leaf.prop_recursive(3, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// A call as the API answers it (the shape of Aircall's sample).
fn sample_call() -> Value {
    json!({
        "id": 812, "direct_link": "https://api.aircall.io/v1/calls/812",
        "started_at": 1_767_000_000, "answered_at": 1_767_000_010, "ended_at": 1_767_000_200,
        "duration": 200, "status": "done", "direction": "inbound", "raw_digits": "+33 6 12 34 56 78",
        "asset": "https://assets.aircall.io/calls/812", "recording": null, "voicemail": null,
        "archived": false, "missed_call_reason": null,
        "user": {"id": 2001, "name": "Alex Martin", "email": "alex@example.com", "available": true},
        "number": {"id": 1001, "name": "Paris office", "digits": "+33 1 23 45 67 89", "country": "FR"},
        "teams": [{"id": 1, "name": "Recruitment"}],
        "tags": [{"id": 5, "name": "Hot lead"}],
        "comments": [{"id": 9, "content": "Available from Monday", "posted_at": 1_767_000_300}],
        "transferred_to": null
    })
}

/// Edits of a JSON object: set a field (maybe a nested one) to any value, or
/// remove it.
fn edits(keys: &'static [&'static str]) -> impl Strategy<Value = Vec<(usize, Option<usize>, Option<Value>)>> {
    prop::collection::vec(
        (
            0..keys.len(),
            prop::option::of(0..keys.len()),
            prop::option::weighted(0.8, any_json()),
        ),
        0..6,
    )
}

const CALL_KEYS: &[&str] = &[
    "id",
    "direct_link",
    "started_at",
    "answered_at",
    "ended_at",
    "duration",
    "status",
    "direction",
    "raw_digits",
    "asset",
    "recording",
    "voicemail",
    "missed_call_reason",
    "user",
    "number",
    "teams",
    "tags",
    "comments",
    "transferred_to",
    "name",
    "digits",
    "content",
    "email",
];

fn apply(mut value: Value, keys: &[&str], edits: &[(usize, Option<usize>, Option<Value>)]) -> Value {
    for (key, inner, replacement) in edits {
        let key = keys[*key];
        // A nested edit goes into the field's object, when it is one.
        let target = match inner {
            Some(inner) if value[key].is_object() => value[key].as_object_mut().map(|o| (o, keys[*inner])),
            _ => value.as_object_mut().map(|o| (o, key)),
        };
        if let Some((object, field)) = target {
            match replacement {
                Some(v) => {
                    object.insert(field.to_owned(), v.clone());
                }
                None => {
                    object.remove(field);
                }
            }
        }
    }
    value
}

const ALL: LogOptions = LogOptions {
    ai: true,
    recording_link: true,
};

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_call_as_aircall_might_send_it_is_read_or_refused_and_never_panics(
        edits in edits(CALL_KEYS),
    ) {
        let value = apply(sample_call(), CALL_KEYS, &edits);
        if let Ok(call) = serde_json::from_value::<Call>(value.clone()) {
            let final_call = callcard_aircall::final_call::final_call(&call, None);
            let text = call_text(&final_call, ALL);
            prop_assert!(text.lines().last().is_some_and(|l| l.starts_with("Aircall call ")));
        }
        // The same bytes through the reader the client uses.
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        let _ = serde_json::from_slice::<Call>(&bytes);
    }

    #[test]
    fn users_and_numbers_of_any_shape_are_read_or_refused(user in any_json(), number in any_json()) {
        let _ = serde_json::from_value::<User>(user);
        let _ = serde_json::from_value::<Number>(number);
    }

    #[test]
    fn garbage_bytes_never_panic_the_readers(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_json::from_slice::<Call>(&bytes);
        let _ = serde_json::from_slice::<HubEvent>(&bytes);
    }

    #[test]
    fn a_webhook_event_of_any_shape_is_read_as_something_or_other(
        resource in prop_oneof![Just("call".to_owned()), Just("message".to_owned()), Just("summary".to_owned()), Just("topic".to_owned()), Just("sentiment".to_owned()), "[a-z]{0,8}"],
        event in prop_oneof![
            Just("call.created".to_owned()), Just("call.ringing_on_agent".to_owned()), Just("call.ended".to_owned()), Just("message.sent".to_owned()),
            Just("message.received".to_owned()), Just("message.status_updated".to_owned()), Just("summary.created".to_owned()),
            Just("topics.created".to_owned()), Just("sentiment.created".to_owned()), "[a-z._]{0,20}"
        ],
        timestamp in any::<i64>(),
        data in prop_oneof![any_json(), edits(CALL_KEYS).prop_map(|e| apply(sample_call(), CALL_KEYS, &e))],
    ) {
        let event = HubEvent { seq: 1, resource, event, timestamp, received_ms: 0, data };
        match Pushed::read(&event) {
            Pushed::Sms(sms) => {
                let log = sms.to_log();
                let line = callcard_core::sms::line(&log);
                prop_assert!(!line.contains('\n'));
            }
            Pushed::Call(call) | Pushed::RingingOnAgent(call) => {
                let _ = call_text(&callcard_aircall::final_call::final_call(&call, None), ALL);
            }
            _ => {}
        }
    }
}

#[test]
fn the_sample_is_a_call_so_the_edits_start_from_something_readable() {
    // Without this the properties could pass on input that never parses.
    let call: Call = serde_json::from_value(sample_call()).unwrap();
    let text = call_text(&callcard_aircall::final_call::final_call(&call, None), ALL);
    assert!(
        text.ends_with("Aircall call 812: https://api.aircall.io/v1/calls/812")
            || text.contains("Aircall call 812")
    );
}
