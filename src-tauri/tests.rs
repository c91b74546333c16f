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

/// What each window's UI asks the backend for: the `backend.*` methods its
/// components use (ui/src/<window>/, tests aside), mapped to the commands
/// those methods call in ui/src/lib/backend.ts.
fn commands_each_window_calls() -> Vec<(String, std::collections::BTreeSet<String>)> {
    use std::collections::{BTreeMap, BTreeSet};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let backend = std::fs::read_to_string(root.join("ui/src/lib/backend.ts")).unwrap();
    // Each method of `backend` and the commands its body names.
    let mut method_commands: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut method = String::new();
    let body = backend
        .split("export const backend = {")
        .nth(1)
        .expect("backend.ts defines `backend`");
    for line in body.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent == 2 {
            let name: String = trimmed
                .trim_start_matches("async ")
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                method = name;
            }
        }
        for name in crate::commands::NAMES {
            if line.contains(&format!("\"{name}\"")) {
                method_commands
                    .entry(method.clone())
                    .or_default()
                    .insert((*name).to_owned());
            }
        }
        // The Tauri API calls the methods make, as the ACL names them.
        if line.contains("listen<") {
            let plugin = method_commands.entry(method.clone()).or_default();
            plugin.insert("plugin:event|listen".into());
            plugin.insert("plugin:event|unlisten".into());
        }
        if line.contains("getCurrentWindow().close()") {
            method_commands
                .entry(method.clone())
                .or_default()
                .insert("plugin:window|close".into());
        }
    }
    assert!(
        method_commands.len() > 20,
        "read too few methods from backend.ts: {method_commands:?}"
    );

    let mut windows = Vec::new();
    for entry in std::fs::read_dir(root.join("ui/src")).unwrap() {
        let folder = entry.unwrap().path();
        let label = folder.file_name().unwrap().to_string_lossy().into_owned();
        if !folder.is_dir() || label == "lib" || label == "i18n" {
            continue;
        }
        let mut used = BTreeSet::new();
        for file in std::fs::read_dir(&folder).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.contains(".test.") || !(name.ends_with(".svelte") || name.ends_with(".ts")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (method, commands) in &method_commands {
                let calls = text
                    .match_indices(&format!("backend.{method}"))
                    .any(|(at, found)| {
                        !text[at + found.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                    });
                if calls {
                    used.extend(commands.iter().cloned());
                }
            }
        }
        windows.push((label, used));
    }
    windows.sort();
    windows
}

/// Every backend call each window's UI makes is granted to that window: a
/// command missing from the window's capability (as get_hub, connect_hub
/// and disconnect_hub once were for Settings → Team hub) fails here instead
/// of in front of a user.
#[test]
fn every_backend_call_each_window_makes_is_granted_to_that_window() {
    let windows = commands_each_window_calls();
    let labels: Vec<&str> = windows.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        ["card", "check", "dial", "history", "settings", "welcome"]
    );
    let settings_calls = &windows.iter().find(|(l, _)| l == "settings").unwrap().1;
    for hub_command in ["get_hub", "connect_hub", "disconnect_hub"] {
        assert!(
            settings_calls.contains(hub_command),
            "the Team hub panel calls {hub_command}: {settings_calls:?}"
        );
    }

    let t = test_app();
    let mut refused = Vec::new();
    for (label, commands) in &windows {
        let window = window(&t.app, label);
        for command in commands {
            // A body that is not an object of arguments: a command that takes
            // arguments stops at reading them, so nothing runs. The ACL check
            // comes first and answers at once; a command that takes none runs
            // (on a temporary home) and may take long (the test call waits for
            // a call): its answer is not waited for beyond a few seconds, since
            // a refusal would have come back immediately.
            let (answer, answered) = std::sync::mpsc::channel();
            let window = window.clone();
            let command_name = command.clone();
            std::thread::spawn(move || {
                let _ = answer.send(invoke(&window, &command_name, json!([])));
            });
            if let Ok(Err(error)) = answered.recv_timeout(std::time::Duration::from_secs(5)) {
                if error.to_string().contains("not allowed") {
                    refused.push(format!("{label}: {command} ({error})"));
                }
            }
        }
    }
    assert!(
        refused.is_empty(),
        "calls the UI makes that its window may not: {refused:#?}"
    );
}
