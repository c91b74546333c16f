//! The commands on Tauri's mock runtime, with the app's real configuration and
//! capabilities: what a window may call, and what it gets back.

use super::*;
use callcard_core::Settings;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

struct TestApp {
    app: App<MockRuntime>,
    engine: Arc<Engine>,
    _home: tempfile::TempDir,
}

fn test_app() -> TestApp {
    let home = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engine = runtime
        .block_on(async { Engine::start(&Paths::under(home.path()), EngineOptions::default()) })
        .unwrap();
    let app = build_app(mock_builder())
        .manage(engine.clone())
        .build(tauri::generate_context!())
        .expect("the app builds on the mock runtime");
    TestApp {
        app,
        engine,
        _home: home,
    }
}

fn window(app: &App<MockRuntime>, label: &str) -> WebviewWindow<MockRuntime> {
    WebviewWindowBuilder::new(app, label, WebviewUrl::App(format!("{label}.html").into()))
        .build()
        .unwrap()
}

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, body: Value) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            // The origin the bundled UI is served from on Linux.
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|response| response.deserialize::<Value>().unwrap())
}

#[test]
fn settings_window_reads_the_settings_with_their_limits() {
    let t = test_app();
    let settings = window(&t.app, "settings");
    let view = invoke(&settings, "get_settings", json!({})).unwrap();
    assert_eq!(view["settings"]["settle_delay_secs"], 60);
    assert_eq!(view["settings"]["sms_mode"], "conversation");
    assert_eq!(view["limits"]["settle_delay_secs"], json!({"min": 0, "max": 600}));
}

#[test]
fn settings_window_saves_valid_settings_into_the_core() {
    let t = test_app();
    let settings = window(&t.app, "settings");
    let mut changed = serde_json::to_value(Settings::default()).unwrap();
    changed["settle_delay_secs"] = json!(120);
    changed["language"] = json!("de");
    let view = invoke(&settings, "save_settings", json!({ "settings": changed })).unwrap();
    assert_eq!(view["settings"]["settle_delay_secs"], 120);
    let stored = t.engine.settings();
    assert_eq!(stored.settle_delay_secs, 120);
    assert_eq!(stored.language, callcard_core::settings::Language::De);
}

#[test]
fn invalid_settings_come_back_as_field_errors_and_are_not_saved() {
    let t = test_app();
    let settings = window(&t.app, "settings");
    let mut bad = serde_json::to_value(Settings::default()).unwrap();
    bad["settle_delay_secs"] = json!(9_999);
    bad["default_region"] = json!("ZZ");
    let error = invoke(&settings, "save_settings", json!({ "settings": bad })).unwrap_err();
    assert_eq!(error["kind"], "invalid");
    let fields: Vec<&str> = error["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["settle_delay_secs", "default_region"]);
    assert_eq!(error["fields"][0]["code"], "out_of_range");
    assert_eq!(
        t.engine.service().settings(),
        Settings::default(),
        "nothing was saved"
    );
}

#[test]
fn a_window_without_the_capability_cannot_save_settings() {
    let t = test_app();
    let history = window(&t.app, "history");
    let body = json!({ "settings": serde_json::to_value(Settings::default()).unwrap() });
    let error = invoke(&history, "save_settings", body).unwrap_err();
    assert!(error.to_string().contains("not allowed"), "{error}");
}

#[test]
fn a_window_with_an_unknown_label_gets_no_command_at_all() {
    let t = test_app();
    let stranger = window(&t.app, "stranger");
    let error = invoke(&stranger, "get_settings", json!({})).unwrap_err();
    assert!(error.to_string().contains("not allowed"), "{error}");
}

#[test]
fn the_card_window_reads_cards_and_picks_only_among_the_matches_but_touches_nothing_else() {
    use callcard_core::call_log::Card;
    use callcard_core::crm::{CrmRecord, RecordKind};
    let t = test_app();
    let record = |id: &str| CrmRecord {
        link: Some(format!("javascript:alert({id})")),
        ..CrmRecord::new(RecordKind::Contact, id, format!("Contact {id}"))
    };
    let card = Card {
        call_id: 5,
        number: "+447400111001".into(),
        direction: callcard_core::activity::Direction::Inbound,
        crm: "jobadder".into(),
        account: "a".into(),
        matches: vec![record("1"), record("2")],
        chosen: None,
        from_index: false,
    };
    t.engine
        .service()
        .shared_store()
        .lock()
        .unwrap()
        .save_card(&card, 1)
        .unwrap();
    let card_window = window(&t.app, "card");
    let shown = invoke(&card_window, "get_card", json!({"callId": 5})).unwrap();
    assert_eq!(shown[0]["matches"][1]["name"], "Contact 2");
    let pick = json!({"callId": 5, "crm": "jobadder", "record": {"kind": "contact", "id": "2"}});
    assert_eq!(invoke(&card_window, "choose_record", pick).unwrap(), json!(true));
    let stranger = json!({"callId": 5, "crm": "jobadder", "record": {"kind": "contact", "id": "99"}});
    assert_eq!(
        invoke(&card_window, "choose_record", stranger).unwrap(),
        json!(false)
    );
    // A hostile link in CRM data is never opened.
    let open = json!({"callId": 5, "crm": "jobadder", "record": {"kind": "contact", "id": "1"}});
    assert!(invoke(&card_window, "open_record", open).is_err());
    // Nor is an opportunity link that is not there.
    let opportunity = json!({"callId": 5, "crm": "jobadder", "record": {"kind": "contact", "id": "2"}, "opportunity": true});
    assert!(invoke(&card_window, "open_record", opportunity).is_err());
    // Nor can the card window start an import or a sign-in.
    for command in ["import_contacts", "get_imports", "connect_crm"] {
        let refused = invoke(&card_window, command, json!({})).unwrap_err();
        assert!(
            refused.to_string().contains("not allowed"),
            "{command}: {refused}"
        );
    }
    // The card window has no business with settings or the outbox.
    assert!(invoke(&card_window, "save_settings", json!({"settings": {}})).is_err());
    assert!(invoke(&card_window, "retry_log", json!({"id": 1})).is_err());
    let history = window(&t.app, "history");
    assert!(invoke(
        &history,
        "choose_record",
        json!({"callId": 5, "crm": "jobadder", "record": {"kind": "contact", "id": "1"}})
    )
    .is_err());
    let listed = invoke(&history, "get_history", json!({})).unwrap();
    assert_eq!(
        listed["calls"][0]["caller"], "Contact 2",
        "the pick is the caller"
    );
}

#[test]
fn the_settings_window_follows_imports_and_says_when_sellsy_is_not_connected() {
    let t = test_app();
    let settings = window(&t.app, "settings");
    let view = invoke(&settings, "get_imports", json!({})).unwrap();
    assert_eq!(view["available"], false);
    assert_eq!(view["running"], false);
    let refused = invoke(&settings, "import_contacts", json!({})).unwrap_err();
    assert!(
        refused.to_string().contains("Sellsy is not connected"),
        "{refused}"
    );
    // With a code and a subject the window says it in the user's language.
    assert_eq!(refused["code"], "crm_not_connected");
    assert_eq!(refused["subject"], "Sellsy");
    // The connect window signs in; the settings window does not.
    let sign_in = invoke(&settings, "connect_crm", json!({"crm": "sellsy"})).unwrap_err();
    assert!(sign_in.to_string().contains("not allowed"), "{sign_in}");
}
