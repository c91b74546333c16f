//! Demo mode, the default when no account is connected: the sandbox runs
//! in-process on loopback with its seeded world, the app connects to it as
//! it would to the real services (the sign-ins included, with the app
//! playing the browser), and a gentle stream of scripted calls rings from
//! known callers, so cards pop up and notes or phone calls land without any
//! account. The CRMs are the ones selected in the settings (JobAdder by
//! default, Sellsy, or both). A team hub runs in-process too: the sandbox
//! delivers its webhooks to it and the demo follows its stream, so the
//! default experience is the instant path a company with a hub gets.

use crate::aircall_account::AircallConnection;
use crate::crms;
use crate::environment::Environment;
use crate::hub_account::HubConnection;
use crate::watch::{self, Slots, Watch, WatchCrms, WatchSource};
use callcard_core::crm::Crm;
use callcard_core::settings::CrmSelection;
use callcard_core::{Service, Settings};
use callcard_sandbox::{Sandbox, SandboxConfig};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The pause between two demo calls.
const BETWEEN_CALLS: Duration = Duration::from_secs(20);

/// Stops the demo (the tray's "Stop the demo"): the scripted calls, the
/// watching of the demo's calls and the sandbox itself.
#[derive(Clone)]
pub struct DemoHandle(CancellationToken);

impl DemoHandle {
    pub fn stop(&self) {
        tracing::info!("demo stopped");
        self.0.cancel();
    }

    pub fn is_running(&self) -> bool {
        !self.0.is_cancelled()
    }
}

pub fn start(service: &Arc<Service>, slots: Slots, env: &Environment) -> DemoHandle {
    let stop = service.shutdown_token().child_token();
    // `CALLCARD_DEMO_ADDR` pins the address (the end-to-end tests look inside).
    let addr = env
        .var("CALLCARD_DEMO_ADDR")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| SandboxConfig::default().addr);
    service.spawn(run(service.clone(), slots, addr, stop.clone()));
    DemoHandle(stop)
}

/// Starts the sandbox and everything that uses it; runs until stopped.
async fn run(service: Arc<Service>, slots: Slots, addr: std::net::SocketAddr, shutdown: CancellationToken) {
    let sandbox = match Sandbox::start(SandboxConfig {
        addr,
        records_per_kind: 150,
        // Ids above every earlier demo's: the tracker remembers calls across starts.
        first_aircall_id: Some(first_id_for_this_start()),
        ..SandboxConfig::default()
    })
    .await
    {
        Ok(sandbox) => sandbox,
        Err(error) => {
            tracing::error!(%error, "cannot start the demo sandbox");
            return;
        }
    };
    tracing::info!(url = %sandbox.url(), "demo mode: connected to the built-in sandbox");
    let env = Environment::from_pairs(sandbox.env());
    let hub = match demo_hub(&sandbox, &env).await {
        Ok(hub) => Some(hub),
        Err(error) => {
            tracing::warn!(%error, "demo: no team hub; the demo polls its sandbox");
            None
        }
    };
    let source = Arc::new(DemoAccounts {
        env,
        hub: hub
            .as_ref()
            .map(|(hub, token, _)| HubConnection::new(hub.url(), token.clone())),
    });
    service.spawn(watch::supervise(
        service.clone(),
        source,
        slots.clone(),
        shutdown.clone(),
    ));
    let driver = sandbox.driver();
    'demo: loop {
        // The callers follow the CRMs chosen now (a change applies at the next round).
        let numbers = demo_callers(&driver, &service.settings().crms);
        let user_id = loop {
            if let Some(s) = slots.session.get() {
                break s.user_id;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break 'demo,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        };
        let script = callcard_sandbox::scenario::demo_script(&numbers, user_id);
        // A short SMS conversation with the first caller, and one from a
        // number no record has (not logged): notes grow as a user watches.
        if hub.is_some() {
            demo_sms(&driver, numbers.first().map(String::as_str));
        }
        for call in &script {
            tokio::select! {
                _ = shutdown.cancelled() => break 'demo,
                played = driver.play(call, 1.0) => {
                    if let Err(error) = played {
                        tracing::warn!(%error, "demo call failed");
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break 'demo,
                _ = tokio::time::sleep(BETWEEN_CALLS) => {}
            }
        }
    }
    sandbox.stop().await;
    if let Some((hub, _, dir)) = hub {
        hub.stop().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The demo's hub: its log in a folder of its own (each demo start is a new
/// sandbox company), registered as the sandbox's webhook receiver, the
/// sandbox's user added as a desktop. Returns the hub, that desktop's token
/// and the folder.
async fn demo_hub(
    sandbox: &Sandbox,
    env: &Environment,
) -> Result<(callcard_hub::LocalHub, String, std::path::PathBuf), String> {
    let dir = std::env::temp_dir().join(format!("callcard-demo-hub-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let webhook_token = format!("demo-{}", first_id_for_this_start());
    let hub = callcard_hub::LocalHub::start(
        "127.0.0.1:0".parse().map_err(|_| "no loopback address")?,
        &dir.join("hub.sqlite3"),
        &webhook_token,
    )
    .await
    .map_err(|e| e.to_string())?;
    let var = |key: &str| env.var(key).unwrap_or_default();
    let aircall = callcard_aircall::Aircall::new(
        &var("CALLCARD_AIRCALL_API_URL"),
        &var("CALLCARD_AIRCALL_API_ID"),
        &var("CALLCARD_AIRCALL_API_TOKEN"),
    )
    .map_err(|e| e.to_string())?;
    let email = var("CALLCARD_AIRCALL_USER_EMAIL");
    let user = aircall.user_by_email(&email).await.map_err(|e| e.to_string())?;
    let numbers: Vec<i64> = aircall
        .user_numbers(user.id)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|n| n.id)
        .collect();
    let token = hub
        .add_desktop(&email, user.id, &numbers)
        .map_err(|e| e.to_string())?;
    sandbox.deliver_webhooks_to(callcard_sandbox::webhooks::Target::any_event(
        hub.webhook_url(),
        webhook_token,
    ));
    tracing::info!(hub = %hub.url(), "demo: the team hub takes the sandbox's webhooks");
    Ok((hub, token, dir))
}

fn demo_sms(driver: &callcard_sandbox::scenario::Driver, caller: Option<&str>) {
    use callcard_sandbox::scenario::NewSms;
    let Some(caller) = caller else { return };
    const DAY_MS: i64 = 86_400_000;
    let messages = [
        ("inbound", caller, "Hello, is the position still open?", 0),
        ("outbound", caller, "It is — shall we talk this afternoon?", 0),
        ("inbound", caller, "Yes, 3 pm works for me.", 0),
        // The reply the next day joins the same note (within 72 hours).
        (
            "inbound",
            caller,
            "Thanks for the call yesterday, CV attached.",
            DAY_MS,
        ),
        ("inbound", "+447700900123", "Hi, wrong number maybe?", 0),
    ];
    for (direction, from, body, later_ms) in messages {
        let sent = driver.sms(NewSms {
            direction: direction.into(),
            external_number: from.into(),
            number_id: 1001,
            body: body.into(),
            later_ms,
        });
        if let Err(error) = sent {
            tracing::warn!(%error, "demo SMS failed");
        }
    }
}

/// A hundred ids for each second since 2020: a later start never meets an
/// id an earlier one used (the demo makes far fewer than 100 a second).
fn first_id_for_this_start() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    (secs - 1_577_836_800).max(0) * 100 + 1
}

/// Twelve callers known to the selected CRMs.
fn demo_callers(driver: &callcard_sandbox::scenario::Driver, selection: &CrmSelection) -> Vec<String> {
    // The sandbox plays these two CRMs; the demo knows its sandbox.
    let jobadder = selection.selects(&callcard_jobadder::DESCRIPTOR);
    let sellsy = selection.selects(&callcard_sellsy::DESCRIPTOR);
    let mut numbers = Vec::new();
    if jobadder {
        numbers = demo_numbers(&driver.known_numbers("jobadder", 1000));
    }
    if sellsy {
        // Sellsy callers whose card shows an open opportunity first.
        let with_opportunity = driver.sellsy_numbers_with_open_opportunity(6);
        let at = if jobadder { numbers.len().min(1) } else { 0 };
        numbers.splice(at..at, with_opportunity);
        numbers.extend(driver.known_numbers("sellsy", 6));
    }
    numbers.truncate(12);
    numbers
}

/// The demo's accounts: the sandbox's Aircall and CRMs, signed in for real
/// with the app playing the browser. Tokens stay in memory: they are the
/// sandbox's, not the user's.
struct DemoAccounts {
    env: Environment,
    hub: Option<HubConnection>,
}

impl WatchSource for DemoAccounts {
    fn watch_for<'a>(
        &'a self,
        service: &'a Arc<Service>,
        settings: &'a Settings,
        stop: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Option<Watch>> + Send + 'a>> {
        Box::pin(async move {
            let var = |key: &str| self.env.var(key).unwrap_or_default();
            let connection = AircallConnection {
                api_url: var("CALLCARD_AIRCALL_API_URL"),
                api_id: var("CALLCARD_AIRCALL_API_ID"),
                api_token: var("CALLCARD_AIRCALL_API_TOKEN"),
                user_email: var("CALLCARD_AIRCALL_USER_EMAIL"),
            };
            let mut crms = Vec::new();
            for &plugin in crms::CRMS {
                if !settings.crms.selects(plugin.descriptor()) {
                    continue;
                }
                match connect(plugin, &self.env, service, settings).await {
                    Ok(crm) => crms.push(crm),
                    Err(error) => {
                        tracing::warn!(%error, "demo: cannot sign in to the sandbox's {}", plugin.descriptor().name)
                    }
                }
            }
            Some(Watch {
                connection,
                crms: WatchCrms::ready_now(crms),
                settle_ms_override: Some(8_000),
                // Half the sandbox's 60/min: quick cards, and room for the demo's own checks.
                budget_override: Some(30),
                ai_retry: Duration::from_secs(15),
                call_give_up: None,
                // One computer: nobody to meet.
                stagger_step: None,
                hub: self.hub.clone(),
                hub_fallback: crate::hub_feed::FALLBACK_AFTER,
                stop,
            })
        })
    }
}

/// The real sign-in against the sandbox, the app following the redirect itself.
async fn connect(
    plugin: &'static dyn callcard_crm_http::CrmPlugin,
    env: &Environment,
    service: &Service,
    settings: &Settings,
) -> Result<Arc<dyn Crm>, String> {
    let config = crms::crm_env(plugin, env.lookup()).ok_or("no settings for it in the sandbox")?;
    let session = crms::memory_session(&config);
    crms::sign_in(&config, &session, callcard_sandbox::browser()).await?;
    crms::connector(&config, session, settings.region(), &service.shared_store()).await
}

/// Twelve callers for the script, the first one a number two records share,
/// so the card's picker shows up in the first call.
fn demo_numbers(known: &[String]) -> Vec<String> {
    let shared = known
        .iter()
        .enumerate()
        .find(|(i, n)| known[..*i].contains(n))
        .map(|(_, n)| n.clone());
    let mut numbers: Vec<String> = shared.iter().cloned().collect();
    for number in known {
        if numbers.len() >= 12 {
            break;
        }
        if !numbers.contains(number) {
            numbers.push(number.clone());
        }
    }
    numbers
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_demo_caller_shares_a_number_with_another_record() {
        let known: Vec<String> = ["+1", "+2", "+3", "+2", "+4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(super::demo_numbers(&known), ["+2", "+1", "+3", "+4"]);
    }
}
