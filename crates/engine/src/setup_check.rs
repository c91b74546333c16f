//! "Check my setup" (tray menu, and the end of the connect window): every
//! credential tried with a real call, a sample lookup of a known CRM
//! record, the agent's e-mail among the CRM's users, a guided test call,
//! and a data-health report of what makes calls silently go unmatched —
//! numbers that cannot be read with the default country, numbers shared by
//! several records, Aircall numbers that do not ring for this user.
//! Each result says what it found; the window says what to do about it.

use crate::aircall_account;
use crate::crms;
use crate::environment::Environment;
use callcard_aircall::{Aircall, AircallError};
use callcard_core::crm::{Crm, CrmRecord};
use callcard_core::tracker::CallEvent;
use callcard_core::{Service, ServiceEvent, Settings};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// Works, with something to look at.
    Warning,
    Failed,
    /// Not tried, because something it needs failed first.
    Skipped,
}

/// One line of the report. The window words it from `id` (and `subject`,
/// the CRM's name); `detail` is what was found (a name, a count, an error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Check {
    pub id: CheckId,
    pub subject: String,
    pub outcome: Outcome,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    Keychain,
    AircallKey,
    AircallUser,
    AircallNumbers,
    CrmSignIn,
    CrmLookup,
    CrmAgent,
}

/// A record, as the report links to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RecordLine {
    pub name: String,
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UnreadableNumber {
    pub record: RecordLine,
    /// As the CRM stores it.
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SharedNumber {
    pub number: String,
    pub records: Vec<RecordLine>,
}

/// A CRM's records as calls will find them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CrmHealth {
    pub crm: String,
    pub name: String,
    pub records_read: u32,
    /// Stopped at [`HEALTH_RECORD_CAP`] records.
    pub partial: bool,
    pub unreadable: Vec<UnreadableNumber>,
    pub shared: Vec<SharedNumber>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NumberLine {
    pub name: String,
    pub digits: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SetupReport {
    pub checks: Vec<Check>,
    pub health: Vec<CrmHealth>,
    /// The company's Aircall numbers this user is not on: their calls never
    /// reach this computer.
    pub numbers_not_yours: Vec<NumberLine>,
    /// Numbers contact sync has put into Aircall.
    pub synced_contacts: u64,
    /// The default country numbers without a country code are read with.
    pub default_region: String,
}

/// The data-health pass reads at most this many records per CRM.
pub const HEALTH_RECORD_CAP: u32 = 5_000;

/// The whole check but the test call (see [`test_call`]).
pub async fn run(service: &Arc<Service>, env: &Environment) -> SetupReport {
    let settings = service.settings();
    let keychain = callcard_secrets::Keychain::app();
    let mut checks = Vec::new();
    let mut check = |id, subject: &str, outcome, detail: String| {
        checks.push(Check {
            id,
            subject: subject.to_owned(),
            outcome,
            detail,
        })
    };
    match keychain.probe() {
        Ok(()) => check(CheckId::Keychain, "", Outcome::Passed, String::new()),
        Err(error) => check(CheckId::Keychain, "", Outcome::Failed, error.to_string()),
    }

    // Aircall: the key, the user, the numbers.
    let mut numbers_not_yours = Vec::new();
    let mut agent_email = None;
    match aircall_account::aircall_from_env(env.lookup(), &keychain, &settings.aircall_user_email) {
        Err(reason) => {
            check(CheckId::AircallKey, "", Outcome::Failed, reason);
            check(CheckId::AircallUser, "", Outcome::Skipped, String::new());
            check(CheckId::AircallNumbers, "", Outcome::Skipped, String::new());
        }
        Ok(connection) => {
            let aircall = Aircall::new(&connection.api_url, &connection.api_id, &connection.api_token);
            let pinged = match &aircall {
                Ok(client) => client.ping().await.map(|()| client),
                Err(error) => Err(error.clone()),
            };
            match pinged {
                Err(error) => {
                    check(CheckId::AircallKey, "", Outcome::Failed, error.to_string());
                    check(CheckId::AircallUser, "", Outcome::Skipped, String::new());
                    check(CheckId::AircallNumbers, "", Outcome::Skipped, String::new());
                }
                Ok(client) => {
                    check(
                        CheckId::AircallKey,
                        "",
                        Outcome::Passed,
                        connection.api_id.clone(),
                    );
                    match client.user_by_email(&connection.user_email).await {
                        Err(error) => {
                            let detail = match error {
                                AircallError::NotFound => connection.user_email.clone(),
                                other => other.to_string(),
                            };
                            check(CheckId::AircallUser, "", Outcome::Failed, detail);
                            check(CheckId::AircallNumbers, "", Outcome::Skipped, String::new());
                        }
                        Ok(user) => {
                            agent_email = Some(connection.user_email.clone());
                            check(
                                CheckId::AircallUser,
                                "",
                                Outcome::Passed,
                                format!("{} ({})", user.name, connection.user_email),
                            );
                            let (outcome, detail, not_yours) =
                                numbers_check(client, user.id, &settings).await;
                            numbers_not_yours = not_yours;
                            check(CheckId::AircallNumbers, "", outcome, detail);
                        }
                    }
                }
            }
        }
    }

    // Each selected CRM: signed in, a real lookup, the agent among its users, its data.
    let mut health = Vec::new();
    for &plugin in crms::CRMS {
        let descriptor = plugin.descriptor();
        if !settings.crms.selects(descriptor) {
            continue;
        }
        let name = descriptor.name;
        let connector = match crms::installed_crm(plugin, env, &settings, &keychain) {
            None => Err(format!(
                "no OAuth client: set {}",
                crms::required_variables(descriptor)
            )),
            Some(config) => {
                let session = crms::keychain_session(&config, keychain.clone());
                match session.current().await {
                    Err(error) => Err(error.to_string()),
                    Ok(_) => {
                        crms::connector(&config, session, settings.region(), &service.shared_store()).await
                    }
                }
            }
        };
        let crm = match connector {
            Err(error) => {
                check(CheckId::CrmSignIn, name, Outcome::Failed, error);
                check(CheckId::CrmLookup, name, Outcome::Skipped, String::new());
                check(CheckId::CrmAgent, name, Outcome::Skipped, String::new());
                continue;
            }
            Ok(crm) => crm,
        };
        // The data-health pass is also the sign-in's real API call.
        let report = match crm_health(crm.as_ref(), descriptor.id, name).await {
            Err(error) => {
                check(CheckId::CrmSignIn, name, Outcome::Failed, error);
                check(CheckId::CrmLookup, name, Outcome::Skipped, String::new());
                check(CheckId::CrmAgent, name, Outcome::Skipped, String::new());
                continue;
            }
            Ok(report) => report,
        };
        check(
            CheckId::CrmSignIn,
            name,
            Outcome::Passed,
            report.health.records_read.to_string(),
        );
        let (outcome, detail) = sample_lookup(crm.as_ref(), report.sample.as_ref()).await;
        check(CheckId::CrmLookup, name, outcome, detail);
        let (outcome, detail) = match &agent_email {
            None => (Outcome::Skipped, String::new()),
            Some(email) => match crm.user_with_email(email).await {
                Ok(Some(person)) => (Outcome::Passed, format!("{} ({email})", person.name)),
                Ok(None) => (Outcome::Failed, email.clone()),
                Err(error) => (Outcome::Warning, error.to_string()),
            },
        };
        check(CheckId::CrmAgent, name, outcome, detail);
        health.push(report.health);
    }
    let synced_contacts = service
        .shared_store()
        .lock()
        .map(|store| store.synced_contact_numbers().unwrap_or(0))
        .unwrap_or(0);
    SetupReport {
        checks,
        health,
        numbers_not_yours,
        synced_contacts,
        default_region: settings.default_region.clone(),
    }
}

/// The user's numbers: none is a failure; followed numbers the user is not
/// on are a warning. Also the company's numbers the user is not on.
async fn numbers_check(
    client: &Aircall,
    user_id: i64,
    settings: &Settings,
) -> (Outcome, String, Vec<NumberLine>) {
    let mine = match client.user_numbers(user_id).await {
        Ok(numbers) => numbers,
        Err(error) => return (Outcome::Failed, error.to_string(), Vec::new()),
    };
    let not_yours = match client.company_numbers(10).await {
        Ok(all) => all
            .into_iter()
            .filter(|n| !mine.iter().any(|m| m.id == n.id))
            .map(|n| NumberLine {
                name: n.name,
                digits: n.digits,
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "cannot list the company's Aircall numbers");
            Vec::new()
        }
    };
    if mine.is_empty() {
        return (Outcome::Failed, String::new(), not_yours);
    }
    let followed_not_mine: Vec<String> = settings
        .connected_numbers
        .iter()
        .filter(|id| !mine.iter().any(|m| m.id == **id))
        .map(i64::to_string)
        .collect();
    if !followed_not_mine.is_empty() {
        return (Outcome::Warning, followed_not_mine.join(", "), not_yours);
    }
    let names: Vec<String> = mine.iter().map(|n| format!("{} {}", n.name, n.digits)).collect();
    (Outcome::Passed, names.join(", "), not_yours)
}

struct HealthPass {
    health: CrmHealth,
    /// A record with a readable number, to look up.
    sample: Option<CrmRecord>,
}

/// Reads the CRM's records (up to the cap) for unreadable and shared numbers.
async fn crm_health(crm: &dyn Crm, id: &str, name: &str) -> Result<HealthPass, String> {
    let mut health = CrmHealth {
        crm: id.to_owned(),
        name: name.to_owned(),
        records_read: 0,
        partial: false,
        unreadable: Vec::new(),
        shared: Vec::new(),
    };
    let mut sample = None;
    let mut by_number: BTreeMap<String, Vec<RecordLine>> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = crm
            .changed_since(0, cursor.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        for record in page.records {
            health.records_read += 1;
            let line = RecordLine {
                name: record.name.clone(),
                link: record.link.clone(),
            };
            for number in &record.unreadable_phones {
                health.unreadable.push(UnreadableNumber {
                    record: line.clone(),
                    number: number.clone(),
                });
            }
            for number in &record.phones {
                let records = by_number.entry(number.as_str().to_owned()).or_default();
                if !records.contains(&line) {
                    records.push(line.clone());
                }
            }
            if sample.is_none() && !record.phones.is_empty() && !record.archived {
                sample = Some(record);
            }
        }
        if health.records_read >= HEALTH_RECORD_CAP {
            health.partial = page.next.is_some();
            break;
        }
        match page.next {
            Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
            _ => break,
        }
    }
    health.shared = by_number
        .into_iter()
        .filter(|(_, records)| records.len() > 1)
        .map(|(number, records)| SharedNumber { number, records })
        .collect();
    Ok(HealthPass { health, sample })
}

/// Looks a known record up by its number, as a ringing call would.
async fn sample_lookup(crm: &dyn Crm, sample: Option<&CrmRecord>) -> (Outcome, String) {
    let Some(record) = sample else {
        return (Outcome::Warning, String::new());
    };
    let Some(number) = record.phones.first() else {
        return (Outcome::Warning, String::new());
    };
    match crm.lookup(number).await {
        Ok(found) if found.iter().any(|r| r.record == record.record) => {
            (Outcome::Passed, format!("{} ({})", record.name, number.as_str()))
        }
        Ok(_) => (Outcome::Failed, format!("{} ({})", record.name, number.as_str())),
        Err(error) => (Outcome::Failed, error.to_string()),
    }
}

/// What the guided test call found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TestCall {
    pub passed: bool,
    /// The caller's number, and the name on the card when the CRM knew it.
    pub detail: String,
}

/// Waits for the next call's card (the user calls their Aircall number from
/// a mobile): passes when a card is ready within `timeout`.
pub async fn test_call(service: &Arc<Service>, timeout: Duration) -> TestCall {
    let mut events = service.subscribe();
    let waiting = async {
        loop {
            match events.recv().await {
                Ok(ServiceEvent::Call {
                    event: CallEvent::CardReady { call_id },
                    ..
                }) => return Some(call_id),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    };
    let Ok(Some(call_id)) = tokio::time::timeout(timeout, waiting).await else {
        return TestCall {
            passed: false,
            detail: String::new(),
        };
    };
    let cards = service
        .shared_store()
        .lock()
        .ok()
        .and_then(|store| store.cards(call_id).ok())
        .unwrap_or_default();
    let number = cards.first().map(|c| c.number.clone()).unwrap_or_default();
    let name = cards.iter().find_map(|c| c.best_record().map(|m| m.name.clone()));
    TestCall {
        passed: true,
        detail: match name {
            Some(name) => format!("{name} ({number})"),
            None => number,
        },
    }
}
