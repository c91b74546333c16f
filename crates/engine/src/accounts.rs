//! The user's own accounts as a source of watches: Aircall from the
//! environment or the keychain (the e-mail from the settings), and each CRM
//! selected in the settings, configured and signed in.

use crate::aircall_account;
use crate::crms;
use crate::environment::Environment;
use crate::hub_account;
use crate::watch::{self, Watch, WatchCrms, WatchSource};
use callcard_core::crm::Crm;
use callcard_core::{CrmWait, Service, Settings, Trouble};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct UserAccounts {
    pub env: Environment,
}

impl WatchSource for UserAccounts {
    fn watch_for<'a>(
        &'a self,
        service: &'a Arc<Service>,
        settings: &'a Settings,
        stop: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Option<Watch>> + Send + 'a>> {
        Box::pin(async move {
            let keychain = callcard_secrets::Keychain::app();
            let connection = match aircall_account::aircall_from_env(
                self.env.lookup(),
                &keychain,
                &settings.aircall_user_email,
            ) {
                Ok(connection) => connection,
                Err(reason) => {
                    tracing::info!(%reason, "not watching calls");
                    return None;
                }
            };
            let crms = connect_crms(service, settings, &self.env, &stop);
            let hub = match hub_account::hub_connection(&self.env, settings, &keychain) {
                Ok(hub) => hub,
                Err(reason) => {
                    tracing::warn!(%reason, "not following the team hub; polling Aircall");
                    None
                }
            };
            Some(Watch {
                hub,
                hub_fallback: crate::hub_feed::fallback_after(&self.env),
                connection,
                crms,
                settle_ms_override: None,
                budget_override: watch::budget_override(&self.env),
                ai_retry: watch::ai_retry(&self.env),
                call_give_up: watch::call_give_up(&self.env),
                stagger_step: Some(watch::stagger_step(&self.env)),
                stop,
            })
        })
    }
}

/// The CRMs calls are logged to: each one selected in the settings and
/// configured, signed in (tokens in the keychain, or a refresh token handed
/// over by the environment as `CALLCARD_<CRM>_REFRESH_TOKEN`) in the
/// background: watching never waits for a CRM, and each arrives when ready.
fn connect_crms(
    service: &Arc<Service>,
    settings: &Settings,
    env: &Environment,
    stop: &CancellationToken,
) -> WatchCrms {
    let (ready, arriving) = watch::crm_channel();
    let mut selected = Vec::new();
    for &plugin in crms::CRMS {
        if !settings.crms.selects(plugin.descriptor()) {
            continue;
        }
        let Some(config) = crms::installed_crm(plugin, env, settings, &callcard_secrets::Keychain::app())
        else {
            tracing::info!(
                crm = plugin.descriptor().name,
                "not configured for this installation (no OAuth client)"
            );
            continue;
        };
        selected.push(plugin.descriptor().id.to_owned());
        let (service, env, stop, ready) = (service.clone(), env.clone(), stop.clone(), ready.clone());
        let region = settings.region();
        tokio::spawn(async move {
            let connecting = connect_crm(&service, &config, region, &env, &stop);
            tokio::select! {
                _ = stop.cancelled() => {}
                crm = connecting => {
                    if let Some(crm) = crm {
                        // Closed only when the watch stopped meanwhile.
                        if ready.send(crm).await.is_err() {
                            tracing::debug!("the watch stopped before this CRM was ready");
                        }
                    }
                }
            }
        });
    }
    WatchCrms {
        selected,
        ready: arriving,
    }
}

/// How long a CRM that cannot sign in or answer waits before the next try.
const CONNECT_RETRY: Duration = Duration::from_secs(30);

/// Signs a CRM in and builds its connector, trying again until it works
/// (a new sign-in from the connect window is picked up at the next try).
/// Meanwhile the CRM's calls wait, and the tray and history say why.
async fn connect_crm(
    service: &Arc<Service>,
    config: &crms::CrmEnv,
    region: Option<callcard_core::phone::Region>,
    env: &Environment,
    stop: &CancellationToken,
) -> Option<Arc<dyn Crm>> {
    let descriptor = config.descriptor();
    let name = descriptor.name;
    let session = crms::keychain_session(config, callcard_secrets::Keychain::app());
    let handed_over = format!("{}_REFRESH_TOKEN", descriptor.env_prefix);
    if let Some(refresh) = env.var(&handed_over) {
        match crms::adopt_handed_over(config, &session, &callcard_secrets::Keychain::app(), &refresh).await {
            Ok(true) => tracing::info!("signed in to {name} with the refresh token from the environment"),
            Ok(false) => tracing::info!(
                "the {name} refresh token from the environment was used before; the keychain's is current"
            ),
            Err(error) => tracing::warn!(%error, "the {name} refresh token from the environment was refused"),
        }
    }
    let crm_id = descriptor.id.to_owned();
    let reconnect = Trouble::CrmNeedsSignIn { crm: crm_id.clone() };
    let unreachable = Trouble::CrmUnreachable { crm: crm_id };
    loop {
        let signed_in = session.current().await;
        if let Err(error) = &signed_in {
            // Logging still starts: this CRM's calls wait for a new sign-in.
            tracing::warn!(%error, "{name} is not signed in; run `callcard --connect {}`", descriptor.id);
            service.set_trouble(reconnect.clone());
            service.set_crm_waiting(descriptor.id, Some(CrmWait::NeedsSignIn));
        } else {
            match crms::connector(config, session.clone(), region, &service.shared_store()).await {
                Ok(crm) => {
                    tracing::info!("{name} connected");
                    service.clear_trouble(&reconnect);
                    service.clear_trouble(&unreachable);
                    return Some(crm);
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot reach {name}; trying again in 30 s");
                    service.set_trouble(unreachable.clone());
                    service.set_crm_waiting(descriptor.id, Some(CrmWait::Unreachable));
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(CONNECT_RETRY) => {}
        }
    }
}
