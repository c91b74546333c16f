//! Every Aircall reference sample in `../shared/specs/aircall` parses into the
//! client's types (skips, saying so, when `../shared` is absent).

use callcard_aircall::model::{
    Call, CallsPage, Contact, Direction, Message, Number, Status, Tag, Team, User,
};
use serde_json::Value;
use std::path::PathBuf;

fn samples() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs/aircall");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: {} is absent", dir.display());
        None
    }
}

fn read(dir: &std::path::Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

#[test]
fn every_reference_sample_parses() {
    let Some(dir) = samples() else { return };
    let mut parsed = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let v = read(&dir, &name);
        match name.as_str() {
            "call.json" => {
                let call: Call = serde_json::from_value(v["call"].clone()).unwrap();
                assert_eq!(
                    (call.id, call.direction, call.status),
                    (812, Direction::Outbound, Status::Done)
                );
                assert_eq!(call.duration, 11);
                assert!(call.teams.is_empty(), "null teams read as empty");
            }
            "calls-page.json" => {
                let page: CallsPage = serde_json::from_value(v).unwrap();
                assert!(page.meta.next_page_link.is_some());
                assert!(!page.calls.is_empty());
            }
            "contact.json" => {
                let contact: Contact = serde_json::from_value(v["contact"].clone()).unwrap();
                assert_eq!(contact.phone_numbers[0].value, "+33 1 76 11 11 11");
            }
            "message-sent.json" => {
                let message: Message = serde_json::from_value(v).unwrap();
                assert_eq!(message.direction, "outbound");
            }
            "number.json" => {
                let number: Number = serde_json::from_value(v["number"].clone()).unwrap();
                assert_eq!(number.id, 1234);
            }
            "tag.json" => {
                let _: Tag = serde_json::from_value(v["tag"].clone()).unwrap();
            }
            "team.json" => {
                let _: Team = serde_json::from_value(v["team"].clone()).unwrap();
            }
            "user.json" => {
                let user: User = serde_json::from_value(v["user"].clone()).unwrap();
                assert_eq!(user.email.as_deref(), Some("john.doe@aircall.io"));
            }
            other => panic!("a new sample {other}: add it to this test"),
        }
        parsed.push(name);
    }
    assert_eq!(parsed.len(), 8, "{parsed:?}");
}

#[test]
fn unknown_fields_nulls_and_new_enum_values_do_not_break_parsing() {
    let call: Call = serde_json::from_value(serde_json::json!({
        "id": 9_007_199_254_740_993_i64, "direction": "sideways", "status": "queued", "duration": null,
        "raw_digits": null, "tags": null, "comments": null, "a_field_from_2030": {"x": 1}
    }))
    .unwrap();
    assert_eq!(call.id, 9_007_199_254_740_993);
    assert_eq!(
        (call.direction, call.status),
        (Direction::Unknown, Status::Unknown)
    );
    assert_eq!((call.duration, call.raw_digits.as_str()), (0, ""));
}
