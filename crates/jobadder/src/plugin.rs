//! JobAdder as the engine sees it: its descriptor and how to connect.

use crate::{JobAdder, JobAdderConfig};
use callcard_core::crm::{ContactSyncMode, Crm, CrmDescriptor, SignIn};
use callcard_core::phone::Region;
use callcard_core::Store;
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
        _store: &Mutex<Store>,
    ) -> Result<Arc<dyn Crm>, String> {
        Ok(Arc::new(JobAdder::new(
            session,
            JobAdderConfig {
                api_url: config.api_url.clone(),
                app_url: config.app_url.clone(),
                default_region,
                account: config.client_id.clone(),
            },
        )))
    }
}
