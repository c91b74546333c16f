//! The user's own accounts as a source of watches: Aircall from the
//! environment or the keychain (the e-mail from the settings), and each CRM
//! selected in the settings, configured and signed in.

use crate::aircall_account;
use crate::crms;
use crate::environment::Environment;
use crate::watch::{self, Watch, WatchSource};
use callcard_core::crm::Crm;
use callcard_core::{Service, Settings};
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
            let crms = connect_crms(service, settings, &self.env, &stop).await;
            Some(Watch {
                connection,
                crms,
                settle_ms_override: None,
                budget_override: None,
                ai_retry: watch::ai_retry(&self.env),
                stop,
            })
        })
    }
}

/// The CRMs calls are logged to: each one selected in the settings,
/// configured, and signed in (tokens in the keychain, or a refresh token
/// handed over by the environment as `CALLCARD_<CRM>_REFRESH_TOKEN`).
async fn connect_crms(
    service: &Arc<Service>,
    settings: &Settings,
    env: &Environment,
    stop: &CancellationToken,
) -> Vec<Arc<dyn Crm>> {
    let mut crms = Vec::new();
    for &plugin in crms::CRMS {
        if !settings.crms.selects(plugin.descriptor()) {
            continue;
        }
        let Some(config) = crms::crm_env(plugin, env.lookup()) else {
            tracing::info!(
                crm = plugin.descriptor().name,
                "not configured for this installation (no OAuth client)"
            );
            continue;
        };
        if let Some(crm) = connect_crm(service, &config, settings.region(), env, stop).await {
            crms.push(crm);
        }
    }
    crms
}

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
        if let Err(error) = crms::adopt_refresh_token(&session, &refresh).await {
            tracing::warn!(%error, "the {name} refresh token from the environment was refused");
        }
    }
    let reconnect = format!("Reconnect {name}");
    match session.current().await {
        Ok(_) => tracing::info!("{name} connected"),
        // Logging still starts: the outbox waits for a reconnect.
        Err(error) => {
            tracing::warn!(%error, "{name} is not signed in; run `callcard --connect {}`", descriptor.id);
            service.set_trouble(&reconnect);
        }
    }
    // Sellsy's connector reads who is connected first: retried while offline.
    loop {
        match crms::connector(config, session.clone(), region, &service.shared_store()).await {
            Ok(crm) => return Some(crm),
            Err(error) if session.current().await.is_err() => {
                tracing::warn!(%error, "{name} needs a new sign-in");
                service.set_trouble(&reconnect);
                return None;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot reach {name}; trying again in 30 s");
                tokio::select! {
                    _ = stop.cancelled() => return None,
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                }
            }
        }
    }
}
