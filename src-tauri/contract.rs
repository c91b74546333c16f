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
use callcard_core::history::{History, HistoryCall, LogEntry};
use callcard_core::outbox::{ItemKind, ItemState, OutboxCounts};
use callcard_core::settings::{
    DialMode, DuplicateRule, FieldError, Language, Limits, Range, Settings, SmsMode,
};
use callcard_core::tracker::CallEvent;
use callcard_core::{ServiceEvent, Status};
use callcard_engine::setup::{AircallAccount, AircallNumber, CrmSetup, SetupView};
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
        LogEntry,
        ItemKind,
        ItemState,
        OutboxCounts,
        // Connect window
        SetupView,
        CrmSetup,
        AircallAccount,
        AircallNumber,
        // Every command's failure, and what the backend pushes
        CommandError,
        ServiceEvent,
        Status,
        CallEvent,
    );
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
