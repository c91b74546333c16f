//! The windows' contract with the backend, generated from the Rust types
//! into `ui/src/lib/bindings.ts`, which the UI imports instead of copying
//! the shapes by hand. The test fails when the file is stale; to
//! regenerate it after changing a type:
//!
//! ```sh
//! CALLCARD_WRITE_BINDINGS=1 cargo test -p callcard --lib contract
//! ```

use crate::commands::{CommandError, SettingsView};
use callcard_core::activity::Direction;
use callcard_core::call_log::Card;
use callcard_core::contact_import::ImportProgress;
use callcard_core::crm::{
    ContactSyncMode, CrmDescriptor, CrmRecord, Opportunity, OpportunityStatus, Person, RecordKind, RecordRef,
    SignIn,
};
use callcard_core::history::{CrmWaiting, History, HistoryCall, HistorySms, LogEntry};
use callcard_core::outbox::{ItemKind, ItemState, OutboxCounts};
use callcard_core::settings::{
    CrmClientSetting, DialMode, DuplicateRule, FieldError, Language, Limits, Range, Settings, SmsMode,
};
use callcard_core::store::CatchUp;
use callcard_core::tracker::CallEvent;
use callcard_core::{CallSource, CrmWait, ServiceEvent, Status, Trouble};
use callcard_engine::crms::ClientSource;
use callcard_engine::dial::DialToConfirm;
use callcard_engine::hub_account::HubView;
use callcard_engine::setup::{AccountView, AircallAccount, AircallNumber, CrmSetup, SetupView};
use callcard_engine::setup_check::{
    Check, CheckId, CrmHealth, NumberLine, Outcome, RecordLine, SetupReport, SharedNumber, TestCall,
    UnreadableNumber,
};
use callcard_engine::ImportView;
use ts_rs::{Config, TS};

const HEADER: &str = "\
// Generated from the Rust types by src-tauri/contract.rs. Do not edit:
// change the Rust type, then run
//   CALLCARD_WRITE_BINDINGS=1 cargo test -p callcard --lib contract
";

/// Every type a window sends or receives, as TypeScript declarations.
fn bindings() -> String {
    // serde writes i64 as a JSON number; every one of ours fits a double.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(HEADER);
    macro_rules! declare {
        ($($t:ty),+ $(,)?) => {$(
            out.push_str("\nexport ");
            out.push_str(&<$t as TS>::decl(&cfg));
            out.push('\n');
        )+};
    }
    declare!(
        // Settings window
        SettingsView,
        Settings,
        CrmClientSetting,
        SmsMode,
        DuplicateRule,
        DialMode,
        Language,
        Limits,
        Range,
        FieldError,
        CrmDescriptor,
        SignIn,
        ContactSyncMode,
        ImportView,
        ImportProgress,
        AccountView,
        HubView,
        // Card window
        Card,
        Direction,
        CrmRecord,
        RecordRef,
        RecordKind,
        Person,
        Opportunity,
        OpportunityStatus,
        // History window
        History,
        HistoryCall,
        HistorySms,
        LogEntry,
        CatchUp,
        CallSource,
        CrmWaiting,
        CrmWait,
        ItemKind,
        ItemState,
        OutboxCounts,
        // Connect window
        SetupView,
        CrmSetup,
        ClientSource,
        AircallAccount,
        AircallNumber,
        // Check window
        SetupReport,
        Check,
        CheckId,
        Outcome,
        CrmHealth,
        RecordLine,
        UnreadableNumber,
        SharedNumber,
        NumberLine,
        TestCall,
        // Dial window
        DialToConfirm,
        // Every command's failure, and what the backend pushes
        CommandError,
        ServiceEvent,
        Status,
        Trouble,
        CallEvent,
    );
    let names: Vec<String> = crate::commands::NAMES.iter().map(|n| format!("{n:?}")).collect();
    out.push_str(&format!(
        "\n/** Every command the backend answers. */\nexport type Command = {};\n",
        names.join(" | ")
    ));
    out
}

#[test]
fn the_ui_bindings_are_generated_from_the_rust_types() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/bindings.ts");
    let generated = bindings();
    if std::env::var_os("CALLCARD_WRITE_BINDINGS").is_some() {
        std::fs::write(&path, &generated).expect("write ui/src/lib/bindings.ts");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "ui/src/lib/bindings.ts is stale: a Rust type the windows use changed. Run\n  \
         CALLCARD_WRITE_BINDINGS=1 cargo test -p callcard --lib contract\nand commit the file."
    );
}

#[test]
fn the_bindings_speak_of_numbers_not_bigints() {
    let generated = bindings();
    assert!(!generated.contains("bigint"), "{generated}");
    assert!(generated.contains("export type Settings = "), "{generated}");
}

fn file(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect(path)
}

#[test]
fn every_command_is_named_alike_in_the_handler_list_the_permissions_the_capabilities_and_the_ui() {
    let names: std::collections::BTreeSet<String> =
        crate::commands::NAMES.iter().map(|n| (*n).to_owned()).collect();
    // build.rs gives a permission to each name of the same list.
    assert!(file("src-tauri/build.rs").contains("commands(include!(\"command_names.rs\"))"));
    // The handler: each command function is registered in build_app.
    let lib = file("src-tauri/lib.rs");
    let registered: std::collections::BTreeSet<&str> = lib
        .split("commands::")
        .skip(1)
        .map(|rest| {
            rest.split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .next()
                .unwrap_or_default()
        })
        .collect();
    for name in &names {
        assert!(
            registered.contains(name.as_str()),
            "{name} is not in build_app's handler list"
        );
    }
    // The capabilities grant only commands that exist.
    let conf = file("tauri.conf.json");
    for permission in conf.split('"').filter(|w| w.starts_with("allow-")) {
        let name = permission.trim_start_matches("allow-").replace('-', "_");
        assert!(
            names.contains(&name),
            "tauri.conf.json grants {permission}, which is no command"
        );
    }
    // The UI calls only commands that exist (its `Command` type says so too).
    let backend = file("ui/src/lib/backend.ts");
    let called: Vec<&str> = ["call<", "invoke<"]
        .iter()
        .flat_map(|opening| backend.split(opening).skip(1))
        .filter_map(|rest| rest.split_once('>').map(|(_, after)| after))
        .filter_map(|after| after.strip_prefix("(\""))
        .filter_map(|quoted| quoted.split('"').next())
        .collect();
    assert!(called.len() >= names.len(), "{called:?}");
    for name in called {
        assert!(
            names.contains(name),
            "ui/src/lib/backend.ts calls {name}, which is no command"
        );
    }
}
