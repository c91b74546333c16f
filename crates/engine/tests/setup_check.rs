//! "Check my setup" against the sandbox over loopback, with the real
//! keychain: a refused Aircall key fails the check (and what depends on it
//! is skipped, not failed); with good accounts every check passes, and the
//! data-health report lists the records whose numbers cannot be read and
//! the numbers several records share.

use callcard_core::settings::CrmSelection;
use callcard_core::{Paths, Settings};
use callcard_engine::setup_check::{CheckId, Outcome, SetupReport};
use callcard_engine::{Engine, EngineOptions, Environment};
use callcard_sandbox::Sandbox;
use serde_json::json;
use std::sync::Arc;

async fn engine(sandbox: &Sandbox, home: &tempfile::TempDir, token: Option<&str>) -> Arc<Engine> {
    let env = Environment::from_pairs(sandbox.env().into_iter().map(|(key, value)| match (key, token) {
        ("CALLCARD_AIRCALL_API_TOKEN", Some(token)) => (key, token.to_owned()),
        _ => (key, value),
    }));
    Engine::start(
        &Paths::under(home.path()),
        EngineOptions {
            accounts: true,
            env,
            ..EngineOptions::default()
        },
    )
    .unwrap()
}

fn outcome(report: &SetupReport, id: CheckId) -> Outcome {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no {id:?} check in {report:#?}"))
        .outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_aircall_key_fails_and_a_good_setup_passes_with_its_data_health() {
    let settings = Settings {
        crms: CrmSelection::only(["jobadder"]),
        ..Settings::default()
    };
    let (sandbox, home) = callcard_test_support::sandbox_and_home(10, &settings).await;
    // Records a call would not find, and a number two records share.
    let control = sandbox.control();
    control
        .add_record(
            "jobadder",
            "candidate",
            "GB",
            json!({"firstName": "Una", "lastName": "Readable", "mobile": "ext. 4471"}),
        )
        .await
        .unwrap();
    for first in ["Sam", "Sasha"] {
        control
            .add_record(
                "jobadder",
                "contact",
                "GB",
                json!({"firstName": first, "lastName": "Shared", "phone": "+44 20 7946 0321"}),
            )
            .await
            .unwrap();
    }

    let broken = engine(&sandbox, &home, Some("not-the-token")).await;
    broken
        .connect_crm_with("jobadder", callcard_sandbox::browser())
        .await
        .expect("the sign-in");
    let report = broken.check_setup().await;
    assert_eq!(outcome(&report, CheckId::Keychain), Outcome::Passed);
    assert_eq!(
        outcome(&report, CheckId::AircallKey),
        Outcome::Failed,
        "{report:#?}"
    );
    assert_eq!(outcome(&report, CheckId::AircallUser), Outcome::Skipped);
    assert_eq!(
        outcome(&report, CheckId::CrmAgent),
        Outcome::Skipped,
        "no agent e-mail to look for"
    );
    broken.shutdown().await;
    drop(broken);

    let fixed = engine(&sandbox, &home, None).await;
    let report = fixed.check_setup().await;
    for check in &report.checks {
        assert_eq!(check.outcome, Outcome::Passed, "{check:?}");
    }
    let jobadder = report
        .health
        .iter()
        .find(|h| h.crm == "jobadder")
        .expect("JobAdder's health");
    assert!(jobadder.records_read >= 3, "{jobadder:?}");
    assert!(
        jobadder.unreadable.iter().any(|u| u.number == "ext. 4471"
            && u.record.name.contains("Readable")
            && u.record.link.is_some()),
        "{:?}",
        jobadder.unreadable
    );
    let shared = jobadder
        .shared
        .iter()
        .find(|s| s.number == "+442079460321")
        .expect("the shared number is listed");
    assert_eq!(shared.records.len(), 2);
    fixed.shutdown().await;
}
