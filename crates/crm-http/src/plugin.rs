//! What a CRM crate hands the engine: its descriptor, the URLs it uses
//! unless told otherwise, its OAuth client, and how to build its connector
//! once signed in. The engine keeps one list of these (its registry) and
//! never names a CRM.

use callcard_core::crm::{Crm, CrmDescriptor};
use callcard_core::phone::Region;
use callcard_core::Store;
use callcard_oauth::{OAuthClient, Session};
use std::sync::{Arc, Mutex};

/// Where a CRM's services are, as published.
#[derive(Debug, Clone, Copy)]
pub struct DefaultUrls {
    pub authorize: &'static str,
    pub token: &'static str,
    pub api: &'static str,
    /// The web app, where records open for a person.
    pub app: &'static str,
}

/// One installation's OAuth client and URLs for a CRM.
#[derive(Clone)]
pub struct CrmConfig {
    pub client_id: String,
    /// Partner apps that sign in with a secret have one; public clients use PKCE.
    pub client_secret: Option<String>,
    pub authorize_url: String,
    pub token_url: String,
    pub api_url: String,
    pub app_url: String,
}

impl std::fmt::Debug for CrmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrmConfig")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// An OAuth client compiled into this build (`CALLCARD_BUILD_<CRM>_CLIENT_ID`
/// and, for a client that signs in with a secret, `…_CLIENT_SECRET`).
#[derive(Clone, Copy)]
pub struct BuiltInClient {
    pub client_id: &'static str,
    pub client_secret: Option<&'static str>,
}

#[async_trait::async_trait]
pub trait CrmPlugin: Send + Sync {
    fn descriptor(&self) -> &'static CrmDescriptor;

    fn default_urls(&self) -> DefaultUrls;

    /// The OAuth client this build was made with, if any.
    fn built_in_client(&self) -> Option<BuiltInClient> {
        None
    }

    fn oauth_client(&self, config: &CrmConfig) -> OAuthClient;

    /// The connector for a signed-in session. `store` is where a connector
    /// may keep what lets it start without the network next time. Errors
    /// are for the log; whether a new sign-in is needed, the session tells.
    async fn connect(
        &self,
        config: &CrmConfig,
        session: Arc<Session>,
        default_region: Option<Region>,
        store: &Mutex<Store>,
    ) -> Result<Arc<dyn Crm>, String>;
}
