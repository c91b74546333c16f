//! JobAdder as the engine sees it: its descriptor and how to connect.

use crate::{JobAdder, JobAdderConfig, JobAdderIdentity};
use callcard_core::clock::Clock;
use callcard_core::crm::{ContactSyncMode, Crm, CrmDescriptor, CrmError, SignIn};
use callcard_core::phone::Region;
use callcard_core::store::CrmIdentity;
use callcard_core::{Store, StoreError};
use callcard_crm_http::{BuiltInClient, CrmConfig, CrmPlugin, DefaultUrls};
use callcard_oauth::{OAuthClient, Session};
use std::sync::{Arc, Mutex};

pub const DESCRIPTOR: CrmDescriptor = CrmDescriptor {
    id: "jobadder",
    name: "JobAdder",
    env_prefix: "CALLCARD_JOBADDER",
    // A partner app: JobAdder's token endpoint wants the client secret.
    sign_in: SignIn::ClientSecret,
    redirect_port: 47615,
    contact_sync: ContactSyncMode::OnEachCall,
    imports_contacts: false,
    selected_by_default: true,
};

pub struct Plugin;

#[async_trait::async_trait]
impl CrmPlugin for Plugin {
    fn descriptor(&self) -> &'static CrmDescriptor {
        &DESCRIPTOR
    }

    fn built_in_client(&self) -> Option<BuiltInClient> {
        // A company or a reseller builds with its own client (docs/accounts.md).
        Some(BuiltInClient {
            client_id: option_env!("CALLCARD_BUILD_JOBADDER_CLIENT_ID")?,
            client_secret: option_env!("CALLCARD_BUILD_JOBADDER_CLIENT_SECRET"),
        })
    }

    fn default_urls(&self) -> DefaultUrls {
        DefaultUrls {
            authorize: crate::AUTHORIZE_URL,
            token: crate::TOKEN_URL,
            api: crate::API_URL,
            app: crate::APP_URL,
        }
    }

    fn oauth_client(&self, config: &CrmConfig) -> OAuthClient {
        crate::oauth_client(
            &config.authorize_url,
            &config.token_url,
            &config.client_id,
            config.client_secret.as_deref().unwrap_or_default(),
        )
    }

    async fn connect(
        &self,
        config: &CrmConfig,
        session: Arc<Session>,
        default_region: Option<Region>,
        store: &Mutex<Store>,
    ) -> Result<Arc<dyn Crm>, String> {
        // Until JobAdder says which account this is, the OAuth client names
        // it, as older Callcards did (the same for every customer of a
        // partner app, hence the look-up).
        let jobadder = JobAdder::new(
            session,
            JobAdderConfig {
                api_url: config.api_url.clone(),
                app_url: config.app_url.clone(),
                default_region,
                account: config.client_id.clone(),
            },
        );
        let connection = format!("{}@{}", config.client_id, config.token_url);
        let store = || store.lock().unwrap_or_else(|p| p.into_inner());
        let kept = store()
            .kept_crm_identity(DESCRIPTOR.id, &connection)
            .ok()
            .flatten();
        let unnamed = match jobadder.identify().await {
            Ok(Some(identity)) => {
                if let Err(error) = keep_identity(&store(), &connection, &config.client_id, kept, &identity) {
                    tracing::warn!(%error, "cannot keep the JobAdder account");
                }
                return Ok(Arc::new(jobadder.for_account(identity.account)));
            }
            Err(error @ CrmError::NeedsReconnect(_)) => return Err(error.to_string()),
            Ok(None) => None,
            Err(error) => Some(error),
        };
        // JobAdder did not say which account this is: the one kept last
        // time; else, when it names none or will not say (a client without
        // the user scope), the OAuth client names it, as before.
        match (kept, unnamed) {
            (Some(kept), why) => {
                if let Some(error) = why {
                    tracing::warn!(%error, "cannot ask JobAdder which account this is; using the one kept last time");
                }
                Ok(Arc::new(jobadder.for_account(kept.account)))
            }
            (None, None | Some(CrmError::Rejected(_))) => {
                tracing::warn!("JobAdder does not say which account this is: keys use the OAuth client");
                Ok(Arc::new(jobadder))
            }
            (None, Some(error)) => Err(format!("cannot ask JobAdder which account this is: {error}")),
        }
    }
}

/// Keeps the account JobAdder named. The first time for this connection,
/// what an older Callcard kept under the OAuth client's name (queued notes,
/// cards, picks, the phone index) moves to the account's.
fn keep_identity(
    store: &Store,
    connection: &str,
    client_id: &str,
    kept: Option<CrmIdentity>,
    identity: &JobAdderIdentity,
) -> Result<(), StoreError> {
    if kept.is_none() {
        let moved = store.move_account(DESCRIPTOR.id, client_id, &identity.account)?;
        if moved > 0 {
            tracing::info!(
                moved,
                "JobAdder data kept under the OAuth client now belongs to its account"
            );
        }
    }
    store.keep_crm_identity(
        DESCRIPTOR.id,
        connection,
        &CrmIdentity {
            account: identity.account.clone(),
            user_id: identity.user_id.clone(),
        },
        callcard_core::clock::SystemClock.now_ms(),
    )
}
